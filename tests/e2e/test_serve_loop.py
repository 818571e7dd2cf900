"""`serve`'s dialer loop on a real Asterisk 22, through a TCP proxy that counts every AMI action it sends:
with a due request waiting for an agent it sends next to nothing; an agent who becomes free, a call
that ends, and a `request add` or `request retry` from the CLI each release a callback at once, long
before the (60 s) safety poll."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.proxy import TcpProxy
from tests.testbed.serve import ServeProcess
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
POLL = "60"  # the safety poll: anything sooner was woken by an event or the CLI
SOON = 8.0  # "at once": well inside the poll, with room for a loaded machine


def serve_args(bed: AsteriskInstance, proxy: TcpProxy) -> list[str]:
    ami = f"ami://{bed.ami_user}:{bed.ami_secret}@127.0.0.1:{proxy.port}"
    return ["--ami", ami, "--poll", POLL, "--dial-template", "PJSIP/{number}@trunk", "--node", "loop"]


def add(serve: ServeProcess, number: str) -> int:
    """`request add 400 NUMBER` from the CLI (its own process); the new request's id."""
    return int(json.loads(serve.cli("request", "add", "400", number, "--json").stdout)["request"]["id"])


def pause(bed: AsteriskInstance, paused: bool) -> None:
    bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": str(paused).lower()})


def test_idle_backlog_costs_next_to_no_actions_and_events_or_the_cli_release_at_once(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=1)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, "answer", ring_s=0.2, hangup_after_s=2)
    CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer, TcpProxy(bed.ami_port) as proxy:
        with ServeProcess(dsn.url(), tmp_path / "spool", serve_args(bed, proxy)) as serve:
            wait_for(lambda: "Login" in proxy.actions_between(0, time.monotonic()), 10, message="AMI login")
            time.sleep(1)  # the start-up tick is over; from now on nothing asks for one
            # 1. `request add` from the CLI (another process) wakes the loop.
            added = time.monotonic()
            first = add(serve, "2015551234")
            wait_for(lambda: agent.invites(), SOON, message="the agent rung after request add (woken)")
            assert time.monotonic() - added < float(POLL)
            wait_for(lambda: service.get(first).status is Status.DONE, 40, message="first callback done")
            # 2. The only agent paused: a due request waits. Count what serve sends meanwhile.
            pause(bed, True)
            second_id = add(serve, "2015551235")
            time.sleep(2)  # the wake tick for the new request
            start = time.monotonic()
            time.sleep(10)
            sent = proxy.actions_between(start, time.monotonic())
            assert len(sent) <= 10, f"{len(sent)} AMI actions in 10 s, a backlog and no event: {sent[:20]}"
            assert len(agent.invites()) == 1
            assert service.get(second_id).status is Status.PENDING
            # 3. The agent becomes free: the QueueMemberPause event releases the callback.
            pause(bed, False)
            wait_for(lambda: len(agent.invites()) == 2, SOON, message="the agent rung once free (event)")
            wait_for(lambda: service.get(second_id).status is Status.DONE, 40, message="second callback done")
            # 4. A call that ends frees the agent: the next waiting request goes without the poll.
            third = add(serve, "2015551236")
            fourth = add(serve, "2015551237")
            wait_for(lambda: len(agent.invites()) == 3, SOON, message="third released")
            wait_for(lambda: len(agent.invites()) == 4, 25, message="fourth released once the agent is free")
            for rid in (third, fourth):
                wait_for(lambda rid=rid: service.get(rid).status is Status.DONE, 40, message="done")
            # 5. `request retry` from the CLI wakes it too.
            time.sleep(8)  # the follow-up ticks after the last call (up to 7 s) are over
            serve.cli("request", "retry", str(first))
            wait_for(lambda: len(agent.invites()) == 5, SOON, message="the agent rung after request retry")
            wait_for(lambda: service.get(first).status is Status.DONE, 40, message="the retry done")
        log = serve.read()
    assert "Traceback" not in log, log
