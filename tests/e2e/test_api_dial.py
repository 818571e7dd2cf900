"""A callback asked for over HTTP is dialled by a running `serve` on a real Asterisk: the POST wakes the
dialer and the agent's phone rings; a DELETE while it rings hangs the call up through serve's AMI
settings. Prints the latency from the POST to the agent's INVITE (measured, never asserted)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.http_client import http
from tests.testbed.serve import ServeProcess
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
POLL = "60"  # the safety poll: a ring well before it was woken by the POST


def test_a_posted_callback_rings_the_agent_and_a_delete_hangs_it_up(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=10), Uas(bed, "answer")
    CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    args = ["--ami", bed.ami_dsn, "--poll", POLL, "--dial-template", "PJSIP/{number}@trunk", "--node", "api"]
    with agent, customer, ServeProcess(dsn.url(), tmp_path / "spool", args) as serve:
        token = json.loads(serve.cli("apikey", "add", "crm", "--json").stdout)["token"]
        wait_for(service.nodes, 15, message="serve's first tick (its heartbeat)")
        time.sleep(1)  # the start-up tick is over: only the POST can ask for the next one before the poll
        posted = time.time()
        status, created, _ = http(
            f"{serve.http_url()}/v1/callbacks", "POST", {"queue": "400", "number": "2015551234"}, token
        )
        answered = time.time()
        assert status == 201, created
        [invite] = wait_for(agent.invites, 20, interval=0.01, message="the agent's phone rings (woken)")
        seen = time.time()
        assert "2015551234" in (invite.header("From") or "")
        stamp = datetime.fromisoformat(invite.stamp).astimezone(UTC).timestamp() if invite.stamp else seen
        print(
            f"\nAPI POST -> agent INVITE: {(stamp - posted) * 1000:.0f} ms "
            f"(POST answered in {(answered - posted) * 1000:.0f} ms; INVITE seen by the test after "
            f"{(seen - posted) * 1000:.0f} ms)"
        )
        assert seen - posted < float(POLL)
        # DELETE while the agent's phone rings: serve hangs the call up
        status, cancelled, _ = http(f"{serve.http_url()}/v1/callbacks/{created['id']}", "DELETE", token=token)
        assert (status, cancelled["status"], cancelled["call"]) == (200, "cancelled", "hung_up"), cancelled
        wait_for(lambda: agent.received("CANCEL"), 10, message="the agent's phone stops ringing")
        wait_for(
            lambda: service.history(created["id"])[0][-1].ended_at is not None, 15, message="the attempt ends"
        )
        assert customer.invites() == [] and agent.received("ACK") == 0
        assert service.get(created["id"]).status is Status.CANCELLED
        _, shown, _ = http(f"{serve.http_url()}/v1/callbacks/{created['id']}", token=token)
        assert [a["attempt_no"] for a in shown["attempt_log"]] == [1]
    log = serve.read()
    assert "Traceback" not in log, log
