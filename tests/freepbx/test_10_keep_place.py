"""On the real FreePBX: a caller sent back to the queue keeps their place, and a callback speaks the
caller's language to the customer and the agent's to the agent.

Three callers wait in queue 400 (its one member's phone does not answer). The second presses 1 and is
refused (a blocked number): FreePBX puts them back at position 2 with the third still behind them,
without running ext-queues' join part again (join announcement, join time), and they leave the queue at
the deadline of the queue's Max Wait counted from their first join.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.testbed.callbacks import PressingUas
from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.sipp import Caller, Uas
from tests.testbed.wait import wait_for

from .calls import cli, press_1, request_row, tick, wait_status
from .test_03_calls import configure

MAX_WAIT_S = 45
RETRY_S = 5  # queue 400's retry (tests/testbed/freepbx/fixture.php)
PRESS_AT_S = 15.0
CALLERS = ("5551251", "5551252", "5551253")
_CALLER_LINE = re.compile(r"^\s+(\d+)\. (\S+) \(wait")
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\]")


@pytest.fixture(autouse=True)
def _no_open_requests(fpbx: FreePbx) -> None:
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))


def _waiting(fpbx: FreePbx, queue: str = "400") -> dict[str, int]:
    """Channel -> position of the callers in ``queue`` (`queue show`)."""
    out = {}
    for line in fpbx.asterisk(f"queue show {queue}").splitlines():
        match = _CALLER_LINE.match(line)
        if match:
            out[match.group(2)] = int(match.group(1))
    return out


def _at(line: str) -> datetime:
    match = _STAMP.match(line)
    assert match, line
    return datetime.fromisoformat(match.group(1))


def _lines_of(fpbx: FreePbx, channel: str) -> list[str]:
    return [line for line in fpbx.full_log().splitlines() if f'"{channel}"' in line]


def _joined(fpbx: FreePbx, known: list[str]) -> str | None:
    fresh = [channel for channel in _waiting(fpbx) if channel not in known]
    return fresh[0] if len(fresh) == 1 else None


def test_a_refused_caller_rejoins_at_their_place_with_the_rest_of_the_max_wait(fpbx: FreePbx) -> None:
    fpbx.query("UPDATE queues_config SET maxwait = %s WHERE extension = '400'", str(MAX_WAIT_S))
    callers: list[Caller] = []
    try:
        configure(fpbx, "400", "--offer-every", "5", "--block", CALLERS[1])
        fpbx.set_contacts(agent_port=9, customer_port=9)  # the agent's phone does not answer
        channels: list[str] = []
        for number in CALLERS:
            keys = [(PRESS_AT_S, "1")] if number == CALLERS[1] else []
            callers.append(Caller(fpbx, "5551000", keys, hold_s=120, caller_id=number).start())  # type: ignore[arg-type]
            channels.append(wait_for(lambda: _joined(fpbx, channels), 20, 0.2, f"{number} in queue 400"))
        second = channels[1]
        wait_for(
            lambda: any("qcb-back-to-queue" in line for line in _lines_of(fpbx, second)),
            40,
            0.3,
            "caller 2 refused and sent back",
        )
        positions = wait_for(
            lambda: p if len(p := _waiting(fpbx)) == 3 and second in p else None,
            20,
            0.3,
            "caller 2 back in the queue",
        )
        assert positions == {channels[0]: 1, second: 2, channels[2]: 3}, (positions, channels)
        assert fpbx.query("SELECT COUNT(*) FROM qcb_requests WHERE number LIKE %s", f"%{CALLERS[1]}") == [
            (0,)
        ]

        lines = _lines_of(fpbx, second)
        queued = [line for line in lines if "@ext-queues:" in line and " Queue(" in line]
        assert len(queued) == 2, queued
        # ext-queues' join part (join announcement, join time) ran once: the rejoin enters at its Queue()
        join_time = [line for line in lines if "@ext-queues:" in line and "QUEUEJOINTIME=" in line]
        announce = [line for line in lines if "@ext-queues:" in line and "?Playback(" in line]
        assert len(join_time) == 1 and len(announce) == 1, (join_time, announce)
        assert f'"400,t,,,{MAX_WAIT_S},' in queued[0], queued[0]
        assert '"400,t,,,' in queued[1] and f",{MAX_WAIT_S}," not in queued[1] and ",2," in queued[1], queued[
            1
        ]

        # caller 2 leaves at the deadline of their first join, through FreePBX's own after-queue steps
        wait_for(lambda: second not in _waiting(fpbx), MAX_WAIT_S + 30, 0.5, "caller 2 timed out")
        after = [
            line
            for line in _lines_of(fpbx, second)
            if _at(line) > _at(queued[1]) and "@ext-queues:" in line and " Queue(" not in line
        ]
        assert after, "caller 2 did not go on in ext-queues after Queue()"
        waited = (_at(after[0]) - _at(queued[0])).total_seconds()
        rejoined = (_at(queued[1]) - _at(queued[0])).total_seconds()
        assert rejoined > RETRY_S + 6, rejoined  # else the two bounds below could not tell them apart
        # app_queue checks the deadline between ring-and-retry cycles, in whole seconds: it may leave up to
        # one retry late. A Max Wait restarted at the rejoin could not end before rejoined + MAX_WAIT_S.
        assert MAX_WAIT_S - 2 <= waited <= MAX_WAIT_S + RETRY_S + 2, (waited, queued, after[0])
        assert waited < rejoined + MAX_WAIT_S - 2, (waited, rejoined)
    finally:
        for caller in callers:
            caller.stop()
        fpbx.query("UPDATE queues_config SET maxwait = '' WHERE extension = '400'")
        fpbx.fw("reload")


def test_the_callback_greets_in_russian_and_whispers_in_the_agents_language(fpbx: FreePbx) -> None:
    """Queue 401 speaks Russian; extension 1002 (the agent) has the PBX's default language, English."""
    configure(
        fpbx, "401", "--language", "ru", "--mode", "customer-first", "--notify-agents", "--min-talk", "1"
    )
    fpbx.set_contacts(agent_port=9, customer_port=9)
    call = press_1(fpbx, did="5551001", caller="5551254", after_s=8)
    assert call.bye_received, call.summary()
    [(request_id, language)] = fpbx.query(
        "SELECT id, language FROM qcb_requests WHERE number LIKE %s AND status = 'pending'", "%5551254"
    )
    assert language == "ru"
    agent = Uas(fpbx, "answer", ring_s=0.5, hangup_after_s=8)  # type: ignore[arg-type]
    person = PressingUas(fpbx, press_after_s=6.5, hangup_after_s=16)  # type: ignore[arg-type]
    with agent, person:
        fpbx.set_contacts(agent.port, person.port)
        mark = len(fpbx.full_log())
        report = tick(fpbx)
        assert request_id in report["dialled"], report
        assert wait_status(fpbx, request_id, {"done", "failed"}, timeout=60) == "done"
    log = fpbx.full_log()[mark:]
    assert request_row(fpbx, request_id)["language"] == "ru"

    def played(prompt: str, channel: str) -> list[str]:
        found = [line for line in log.splitlines() if f"Playing '{prompt}." in line and f"<{channel}" in line]
        return [m.group(1) for line in found if (m := re.search(r"\(language '([^']+)'\)", line))]

    assert played("qcb-customer-intro", "Local/s@qcb-callback-customer-first") == ["ru"]
    assert "ru" in played("qcb-press-1-to-connect", "Local/s@qcb-callback-customer-first")
    assert played("qcb-callback-for", "Local/1002@from-queue") == ["en"]
