"""FastAGI with the agi-bin fallback, on the real Asterisk: the dialplan is rendered with
``--agi agi://127.0.0.1:P --agi-fallback <agi-bin>``.

With `freepbx-callback serve` not running, the caller who presses 1 is still stored and the callback's
outcome still recorded, each by the agi-bin script in the same call. With `serve` running (the real
command, in its own process), every call goes to it and the scripts never run. Which path ran is read
from Asterisk's verbose log (each AGI() logs "AGI Script <target> completed") and from serve's own log.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from freepbx_callback.dialplan.render import render
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed import demo
from tests.testbed.asterisk import PROJECT_ROOT, AsteriskInstance, free_port
from tests.testbed.callbacks import CallbackBed
from tests.testbed.sipp import Caller, Uas, call_and_press
from tests.testbed.wait import wait_for

pytestmark = pytest.mark.e2e
Factory = Callable[..., AsteriskInstance]
CALLER, DID = "2015551234", "5551000"


def fallback_bed(
    asterisk: Factory, dsn: Dsn, service: CallbackService, agi_port: int
) -> tuple[CallbackBed, Uas, Uas]:
    """Queue 400 with one SIPp agent and a SIPp customer trunk; dialplan with FastAGI + fallback."""
    service.set_queue("400", enabled=True, did=DID, offer_every=5, min_talk=2, notify_agents=False)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.5)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=4)
    CallbackBed.configure(bed, "400", {"agent": agent}, customer)
    rendered = render(
        service.queues(), "asterisk", f"agi://127.0.0.1:{agi_port}", agi_fallback=str(bed.agi_dir)
    )
    rendered.write(bed.etc)
    bed.start()
    return CallbackBed(bed, dsn), agent, customer


def press_1_while_the_agent_is_paused(cb: CallbackBed, service: CallbackService) -> int:
    """A caller waits in queue 400 (its only agent paused), presses 1 after the offer; the request id."""
    cb.bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "true"})
    call = call_and_press(cb.bed, "400", dtmf_after_s=7, hold_s=30, caller_id=CALLER)
    assert call.bye_received, call.summary()
    [request] = wait_for(service.list, 10, message="the request row")
    assert (request.number, request.did, request.source, request.status) == (
        CALLER,
        DID,
        "agi",
        Status.PENDING,
    )
    return request.id


def unpause(cb: CallbackBed) -> None:
    cb.bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "false"})


def wait_done(service: CallbackService, request_id: int) -> None:
    wait_for(lambda: service.get(request_id).status is Status.DONE, 40, message="the callback to end as done")
    # The agent's half reports last (its hangup handler runs after the customer's).
    [attempt] = wait_for(
        lambda: [a for a in service.history(request_id)[0] if a.agent], 10, message="the agent noted"
    )
    assert (attempt.outcome, attempt.agent, attempt.counted) == ("answered", "PJSIP/agent", True)


def doctor(dsn: Dsn, spool: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--dsn", dsn.url(), "doctor", "--json", "--spool", str(spool)])
    return json.loads(result.output)  # type: ignore[no-any-return]


def completed(log: str, target: str) -> int:
    return log.count(f"AGI Script {target} completed")


def test_serve_down_request_and_outcomes_go_through_the_agi_bin_scripts(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there: the FastAGI server is down
    cb, agent, customer = fallback_bed(asterisk, dsn, service, port)
    url, scripts = f"agi://127.0.0.1:{port}", cb.bed.agi_dir
    with agent, customer:
        request_id = press_1_while_the_agent_is_paused(cb, service)
        unpause(cb)
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request_id]
        wait_done(service, request_id)
        # The agent leg's script has written its outcome; Asterisk logs it as completed once it exited.
        wait_for(
            lambda: completed(cb.bed.log_text(), f"{scripts}/qcb-outcome.agi") >= 3,
            15,
            message="the agent leg's script ended",
        )

    log = cb.bed.log_text()
    assert completed(log, f"{scripts}/qcb-request.agi") == 1, "the request script ran once"
    # Both legs' outcomes, and the customer leg's check just before it dials.
    assert completed(log, f"{scripts}/qcb-outcome.agi") == 3, "the script checked once and recorded both legs"
    assert completed(log, f"{url}/request") == 0 and completed(log, f"{url}/outcome") == 0
    assert log.count("did not take the call (FAILURE)") == 4, "each fallback followed a FAILURE"
    failures = [w for w in cb.bed.warnings() if "FastAGI failed" in w]
    assert len(failures) == 4, cb.bed.warnings()
    assert log.count("Playing 'qcb-accepted.") == 1, "the caller heard the confirmation once"
    assert [e for _, e, _ in service.history(request_id)[1]] == ["requested", "claimed", "done"]


@pytest.fixture
def serve(dsn: Dsn, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `freepbx-callback serve` (the real command) in its own process; stopped with SIGTERM."""
    started: list[subprocess.Popen[bytes]] = []

    def start(port: int, *args: str) -> subprocess.Popen[bytes]:
        log = tmp_path / "serve.log"
        cmd = [sys.executable, "-m", "freepbx_callback", "--dsn", dsn.url(), "serve", "--port", str(port)]
        proc = subprocess.Popen(
            [*cmd, "--spool", str(tmp_path / "spool"), *args],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        started.append(proc)
        wait_for(lambda: "FastAGI on agi://" in log.read_text(), 15, message=f"serve listening ({log})")
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_serve_up_every_call_goes_to_the_fastagi_server(
    asterisk: Factory,
    dsn: Dsn,
    service: CallbackService,
    serve: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    port = free_port()
    cb, agent, customer = fallback_bed(asterisk, dsn, service, port)
    url, scripts = f"agi://127.0.0.1:{port}", cb.bed.agi_dir
    with agent, customer:
        proc = serve(
            port,
            "--ami",
            cb.bed.ami_dsn,
            "--dial-template",
            "PJSIP/{number}@trunk",
            "--agent-timeout",
            "15",
            "--ring-timeout",
            "8",
            "--poll",
            "0.5",
        )
        request_id = press_1_while_the_agent_is_paused(cb, service)
        # A refused caller: the handler returns normally (AGISTATUS SUCCESS, no hangup) and sends the
        # caller back to the queue; the script must not run a second time.
        service.set_queue("400", block_patterns=("2015559",))
        with Caller(cb.bed, "400", [(7, "1")], hold_s=60, caller_id="2015559999") as refused:
            back = wait_for(
                lambda: [e for e in demo.waiting_callers(cb.bed) if e.get("CallerIDNum") == "2015559999"]
                and "back to queue 400" in cb.bed.log_text(),
                40,
                0.2,
                "the refused caller back in the queue",
            )
            assert back and refused.running()
            [entry] = [e for e in demo.waiting_callers(cb.bed) if e.get("CallerIDNum") == "2015559999"]
            cb.bed.ami_action({"Action": "Hangup", "Channel": entry["Channel"]})
            refused.wait()
        unpause(cb)  # serve's own dialer places the callback
        wait_done(service, request_id)
        health = doctor(dsn, tmp_path / "spool")
        assert health["daemon"]["up"] is True and health["daemon"]["ami_ok"] is True, health
        assert health["ok"] is True, [c for c in health["checks"] if not c["ok"]]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert doctor(dsn, tmp_path / "spool")["daemon"]["up"] is False, "stopped"

    log = cb.bed.log_text()
    assert completed(log, f"{url}/request") == 2 and completed(log, f"{url}/outcome") == 3
    assert f"{scripts}/qcb-" not in log, "no agi-bin script ran"
    assert "did not take the call" not in log
    # Both callers came back from the FastAGI call to the check (the stored one too: the dialplan, not
    # the handler, hangs it up) and skipped the fallback.
    assert log.count('"1?request_handled")') == 2, "a caller did not skip the fallback"
    assert log.count("Playing 'qcb-accepted.") == 1 and log.count("Playing 'qcb-back-to-queue.") == 1
    assert len(service.list()) == 1
    served = (tmp_path / "serve.log").read_text()
    assert "stopped after 5 FastAGI call(s)" in served, served
