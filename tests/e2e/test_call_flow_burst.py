"""Burst: 50 callers in queue 400 press 1 within 2 seconds; every request is stored exactly once.

One SIPp run places the 50 calls (distinct caller IDs from an injection file) fast enough that the 50
exit keys reach Asterisk within 2 s; the handler runs once in the FastAGI server on the host and once
as the agi-bin script (50 python processes started at once on a 2-core machine). The figures are printed
and kept in test-artifacts/e2e/burst-<handler>.txt.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.testbed import demo
from tests.testbed.asterisk import PROJECT_ROOT, AsteriskInstance
from tests.testbed.demo import PRESS_AFTER_S, QUEUE
from tests.testbed.sipp import Caller
from tests.testbed.wait import wait_for

pytestmark = pytest.mark.e2e
NewBed = Callable[..., AsteriskInstance]

CALLERS = 50
RATE = 40  # calls per second: 50 calls placed in 1.25 s, so their keys land within 2 s
NUMBERS = [f"201555{2001 + i}" for i in range(CALLERS)]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"


@pytest.mark.parametrize("handler", ["fastagi", "agi-bin"])
def test_burst_of_50_callers_pressing_1_stores_50_rows(
    asterisk: NewBed, db_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], handler: str
) -> None:
    demo.enable_queue(db_dsn)
    with contextlib.ExitStack() as stack:
        server = (
            stack.enter_context(demo.fastagi(db_dsn, tmp_path / "spool")) if handler == "fastagi" else None
        )
        bed = demo.callback_bed(asterisk, db_dsn, agi=demo.agi_url(server) if server else None)
        bed.ami_action({"Action": "Events", "EventMask": "off"})  # nobody reads them meanwhile
        with Caller(bed, QUEUE, [(PRESS_AFTER_S, "1")], hold_s=60, caller_ids=NUMBERS, rate=RATE) as caller:
            wait_for(
                lambda: len(demo.requests(db_dsn)) >= CALLERS, PRESS_AFTER_S + 60, 0.1, f"{CALLERS} rows"
            )
            call = caller.wait()
        handled = server.calls if server else len(re.findall(r"qcb-request\.agi completed", bed.log_text()))
    rows = demo.requests(db_dsn)

    presses = sorted(line.at for line in demo.keys_received(bed, "1"))
    stored = sorted(r["requested_at"] for r in rows)
    numbers = [r["number"] for r in rows]
    figures = {
        "callers": CALLERS,
        "rows": len(rows),
        "lost": len(set(NUMBERS) - set(numbers)),
        "duplicates": len(numbers) - len(set(numbers)),
        "exit keys received by Asterisk": len(presses),
        "first to last key press (s)": round((presses[-1] - presses[0]).total_seconds(), 3),
        "first key press to all rows stored (s)": round((stored[-1] - presses[0]).total_seconds(), 3),
        "last key press to last row stored (s)": round((stored[-1] - presses[-1]).total_seconds(), 3),
        "SIPp successful / failed calls": f"{call.counter('SuccessfulCall')} / {call.counter('FailedCall')}",
        "calls that got a BYE": call.byes,
        f"{handler} calls handled": handled,
        "SIPp run, first INVITE to last BYE (s)": round(call.duration, 1),
    }
    text = f"burst via {handler}\n" + "".join(f"  {k:42} {v}\n" for k, v in figures.items())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"burst-{handler}.txt").write_text(text)
    with capsys.disabled():
        print("\n" + text, end="")

    assert len(presses) == CALLERS, f"Asterisk received {len(presses)} exit keys"
    assert figures["first to last key press (s)"] <= 2.0, f"the burst was not within 2 s: {figures}"
    assert sorted(numbers) == NUMBERS, "lost or duplicated requests"
    assert len({r["caller_uniqueid"] for r in rows}) == CALLERS
    assert {(r["queue"], r["source"], r["status"]) for r in rows} == {(QUEUE, "agi", "pending")}
    assert call.exit_code == 0 and call.counter("SuccessfulCall") == CALLERS, call.summary()[-2000:]
    assert call.byes == CALLERS and handled == CALLERS
    assert len(demo.played(bed, "qcb-accepted")) == CALLERS
