"""A caller who hangs up at any prompt of the request flow, on both transports, on the real Asterisk.

The caller (SIPp) is hung up through AMI the moment Asterisk's log shows the prompt starting, so every
run hangs up at the same point. Whatever the moment: no traceback in Asterisk's output (the agi-bin
script's stderr goes there) nor in `serve`'s log (FastAGI), and the handler's outcome is sane: a
request stored before the hang-up stays stored, nothing is stored half-way, and no process is left over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.test_call_flow_keyed import NUMBER, typed
from tests.testbed import demo
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.demo import CALLER, PRESS_AFTER_S, QUEUE
from tests.testbed.serve import ServeProcess
from tests.testbed.sipp import Caller
from tests.testbed.wait import wait_for

pytestmark = pytest.mark.e2e
NewBed = Callable[..., AsteriskInstance]
PRESS_1 = [(PRESS_AFTER_S, "1")]
BLOCKED = CALLER[:3]  # a block pattern (prefix) that refuses the caller's own number


@dataclass(frozen=True)
class Moment:
    caller_id: str | None
    keys: list[tuple[float, str]]
    started: Callable[[AsteriskInstance], bool]  # the prompt has started: hang up now
    stored: tuple[int, ...]  # how many requests may be stored afterwards
    block: bool = False


def playing(prompt: str) -> Callable[[AsteriskInstance], bool]:
    return lambda bed: bool(demo.played(bed, prompt))


def reading_back(bed: AsteriskInstance) -> bool:
    return any("Playing 'digits/" in line.text for line in demo.log_lines(bed))


MOMENTS = {
    # right as the 1 arrives: the handler starts on a channel that is going away (stored or not: once)
    "pressed-1": Moment(CALLER, PRESS_1, lambda bed: bool(demo.keys_received(bed, "1")), (0, 1)),
    "enter-number": Moment(None, PRESS_1, playing("qcb-enter-number"), (0,)),
    "you-entered": Moment(None, typed(NUMBER), playing("qcb-you-entered"), (0,)),
    "read-back": Moment(None, typed(NUMBER), reading_back, (0,)),
    "confirm": Moment(None, typed(NUMBER), playing("qcb-confirm"), (0,)),
    "accepted": Moment(CALLER, PRESS_1, playing("qcb-accepted"), (1,)),
    "not-available": Moment(CALLER, PRESS_1, playing("qcb-not-available"), (0,), block=True),
    "back-to-queue": Moment(CALLER, PRESS_1, playing("qcb-back-to-queue"), (0,), block=True),
}
TRACEBACK = re.compile(r"Traceback|AGIAppError|AGISIGHUPHangup|AGIResultHangup|AGIUnknownError")


def handlers_running(bed: AsteriskInstance) -> list[str]:
    """Command lines of this bed's agi-bin processes still alive."""
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(bed.agi_dir) in cmdline:
            alive.append(cmdline)
    return alive


@pytest.mark.parametrize("moment", list(MOMENTS))
@pytest.mark.parametrize("transport", ["agi-bin", "fastagi"])
def test_hang_up_at_each_prompt_is_clean(
    asterisk: NewBed, db_dsn: str, tmp_path: Path, transport: str, moment: str
) -> None:
    case = MOMENTS[moment]
    demo.enable_queue(db_dsn, *(["--block", BLOCKED] if case.block else []))
    serve = None
    agi = None
    if transport == "fastagi":
        serve = ServeProcess(db_dsn, tmp_path / "spool", ["--no-dialer"]).start()
        port = re.search(r"FastAGI on agi://[^:]+:(\d+)", serve.read())
        assert port, serve.read()
        agi = f"agi://127.0.0.1:{port.group(1)}"
    try:
        bed = demo.callback_bed(asterisk, db_dsn, agi=agi)
        with Caller(bed, QUEUE, case.keys, hold_s=60, caller_id=case.caller_id) as caller:
            wait_for(lambda: case.started(bed), 60, 0.05, f"{moment} started")
            bed.ami_action({"Action": "Hangup", "Channel": "/^PJSIP/sipp-caller-.*$/"})
            call = caller.wait()
        assert call.bye_received, call.summary()
        wait_for(
            lambda: "request completed" in bed.log_text() or "qcb-request.agi completed" in bed.log_text(),
            30,
            message="the handler ended",
        )
        wait_for(lambda: not handlers_running(bed), 30, message="no agi-bin process left")
    finally:
        if serve is not None:
            assert serve.stop() == 0, serve.read()
    output = bed.log_text() + (bed.log_dir / "asterisk.out").read_text(errors="replace")
    found = TRACEBACK.findall(output)
    assert not found, f"Asterisk's output has {found}:\n{output[-4000:]}"
    if serve is not None:
        assert not TRACEBACK.findall(serve.read()), serve.read()
    rows = demo.requests(db_dsn)
    assert len(rows) in case.stored, rows
    assert all((r["number"], r["status"]) == (CALLER, "pending") for r in rows), rows
