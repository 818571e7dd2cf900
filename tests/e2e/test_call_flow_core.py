"""The caller's half on a real Asterisk, with the dialplan and queue settings as the product renders them.

The bed's queues.conf defines queue 400 the way FreePBX 17 does (its own `context=` empty and
`periodic-announce-frequency=0` first) and includes the rendered `queues_qcb.conf` at the end, whose
`[400](+)` lines must win; extensions.conf answers, queues the caller and includes the rendered
`extensions_qcb.conf`. SIPp is the caller; the request handler runs as the agi-bin script (in the
root's python3) or in the FastAGI server on the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from freepbx_callback.agi.fastagi import FastAgiServer
from tests.testbed import demo
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.demo import CALLER, DID, PRESS_AFTER_S, QUEUE
from tests.testbed.sipp import CallResult, call_with_keys
from tests.testbed.wait import wait_for

pytestmark = pytest.mark.e2e
NewBed = Callable[..., AsteriskInstance]


@dataclass
class Handler:
    kind: str  # "agi-bin" or "fastagi"
    agi: str | None  # the --agi value to render with (None: the bed's agi-bin folder)
    server: FastAgiServer | None = None


@pytest.fixture(params=["agi-bin", "fastagi"])
def handler(request: pytest.FixtureRequest, db_dsn: str, tmp_path: Path) -> Iterator[Handler]:
    if request.param == "agi-bin":
        yield Handler("agi-bin", None)
        return
    with demo.fastagi(db_dsn, tmp_path / "spool") as server:
        yield Handler("fastagi", demo.agi_url(server), server)


def press_1(bed: AsteriskInstance, caller_id: str | None = CALLER) -> CallResult:
    return call_with_keys(bed, QUEUE, [(PRESS_AFTER_S, "1")], hold_s=30, caller_id=caller_id)


def assert_hung_up(call: CallResult) -> None:
    assert call.bye_received, f"Asterisk never hung up the caller:\n{call.summary()}"
    assert call.exit_code == 0, call.summary()


def assert_offer_then_exit(bed: AsteriskInstance) -> None:
    """The offer played, then the caller's 1 took them out of the queue into qcb-exit-400."""
    offers = demo.played(bed, "qcb-offer")
    ones = demo.keys_received(bed, "1")
    assert offers, "the queue never played the offer (qcb-offer)"
    assert ones and ones[0].at >= offers[0].at, f"no 1 after the offer: {ones}"
    assert f"Executing [1@qcb-exit-{QUEUE}:1]" in bed.log_text(), "the 1 did not leave the queue"


def assert_rendered_keys_come_last(bed: AsteriskInstance) -> None:
    """queues.conf sets FreePBX's own `context=` (empty) and `periodic-announce-frequency=0` BEFORE the
    rendered `[400](+)` include; a call that hears the offer and leaves on 1 then proves the later keys
    win (DESIGN: guard this)."""
    conf = (bed.etc / "queues.conf").read_text()
    own, include = conf.index(f"[{QUEUE}]"), conf.index("#include queues_qcb.conf")
    assert own < conf.index("context=\n", own) < include, conf
    assert own < conf.index("periodic-announce-frequency=0", own) < include, conf
    rendered = (bed.etc / "queues_qcb.conf").read_text()
    assert f"[{QUEUE}](+)" in rendered, rendered
    assert f"context=qcb-exit-{QUEUE}" in rendered and "periodic-announce-frequency=5" in rendered, rendered


def test_rendered_dialplan_loads_without_warnings(asterisk: NewBed, db_dsn: str) -> None:
    demo.enable_queue(db_dsn)
    bed = demo.callback_bed(asterisk, db_dsn)

    bed.reload_dialplan()
    bed.cli("queue reload all")
    shown = bed.cli(f"dialplan show qcb-exit-{QUEUE}")

    assert f"AGI({bed.agi_dir}/qcb-request.agi,{QUEUE})" in shown, shown
    assert f"Goto(qcb-queue-{QUEUE},s,qcall)" in shown, shown
    entry = bed.cli(f"dialplan show qcb-queue-{QUEUE}")
    assert f"Queue({QUEUE},${{QCB_QUEUE_OPTIONS}},,,${{QCB_WAIT_LEFT}},,,,${{QCB_POSITION}})" in entry, entry
    assert "qcb-test-in" in bed.cli("dialplan show qcb-test-in"), "the inbound test context is missing"
    assert f"{QUEUE} has 0 calls" in bed.cli(f"queue show {QUEUE}")
    assert bed.warnings() == [], "\n".join(bed.warnings())


def test_caller_pressing_1_stores_the_request_and_hears_the_confirmation(
    asterisk: NewBed, db_dsn: str, handler: Handler
) -> None:
    demo.enable_queue(db_dsn)
    bed = demo.callback_bed(asterisk, db_dsn, agi=handler.agi)

    assert_rendered_keys_come_last(bed)

    call = press_1(bed)

    assert_hung_up(call)
    # With FreePBX's frequency 0 the offer would never play, with its empty context the 1 would not exit.
    assert_offer_then_exit(bed)
    rows = wait_for(lambda: demo.requests(db_dsn), 10, message="a callback request row")
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["queue"], row["number"], row["did"], row["source"], row["status"]) == (
        QUEUE,
        CALLER,
        DID,
        "agi",
        "pending",
    ), row
    joined = bed.ami.wait_event(lambda e: e.get("Event") == "QueueCallerJoin", timeout=5)
    assert row["caller_uniqueid"] == joined["Uniqueid"], (row["caller_uniqueid"], joined)
    accepted = demo.played(bed, "qcb-accepted")
    assert len(accepted) == 1, "the caller did not hear the confirmation (qcb-accepted) exactly once"
    target = f"{bed.agi_dir}/qcb-request.agi" if handler.server is None else f"{handler.agi}/request"
    assert f"AGI Script {target} completed" in bed.log_text(), f"{target} did not run to its end"
    if handler.server is not None:
        assert handler.server.calls == 1
    assert bed.warnings() == [], "\n".join(bed.warnings())


def test_open_request_is_not_stored_twice(asterisk: NewBed, db_dsn: str) -> None:
    demo.enable_queue(db_dsn)
    first = demo.run_cli(db_dsn, "request", "add", QUEUE, CALLER)
    assert "request 1" in first.output, first.output
    bed = demo.callback_bed(asterisk, db_dsn)

    call = press_1(bed)

    assert_hung_up(call)
    assert_offer_then_exit(bed)
    assert len(demo.played(bed, "qcb-already-requested")) == 1, "the caller was not told"
    assert demo.played(bed, "qcb-accepted") == []
    rows = demo.requests(db_dsn)
    assert [(r["id"], r["number"], r["source"]) for r in rows] == [(1, CALLER, "cli")], rows


def test_request_records_how_long_the_caller_waited(asterisk: NewBed, db_dsn: str, tmp_path: Path) -> None:
    """The request keeps the time the caller waited in the queue (the issue: "time waited").

    app_queue sets QUEUEWAIT (seconds) when a key takes the caller out of the queue; QUEUEJOINTIME is
    set only by FreePBX's own ext-queues dialplan, not by Asterisk.
    """
    demo.enable_queue(db_dsn)
    with demo.fastagi(db_dsn, tmp_path / "spool") as server:
        bed = demo.callback_bed(asterisk, db_dsn, agi=demo.agi_url(server))
        call = press_1(bed)

    assert_hung_up(call)
    rows = demo.requests(db_dsn)
    assert len(rows) == 1, rows
    joined = next(ln.at for ln in demo.log_lines(bed) if 'Queue("PJSIP/' in ln.text)
    pressed = demo.keys_received(bed, "1")[0].at
    expected = (pressed - joined).total_seconds()
    assert rows[0]["waited"] is not None, f"waited is NULL, the caller had waited {expected:.1f} s"
    assert abs(rows[0]["waited"] - expected) <= 2, (rows[0]["waited"], expected)
