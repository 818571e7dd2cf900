"""A caller sent back to the queue keeps their place (plain Asterisk, through ``qcb-queue-<Q>``).

Three callers wait in queue 400 with no agent. The second presses 1 and is refused (a blocked number):
they rejoin at position 2 with the third still behind them, without hearing the join announcement again,
and leave the queue at the deadline of their first join (the rest of their max wait, not a fresh one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from freepbx_callback.config import Dsn
from freepbx_callback.dialplan.render import render
from freepbx_callback.service import CallbackService
from tests.testbed import demo
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.sipp import Caller
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
MAX_WAIT_S = 40
CALLERS = ("2015551231", "2015551232", "2015551233")

QUEUES = """
[400]
strategy = ringall
joinempty = yes
leavewhenempty = no
context =
periodic-announce-frequency = 0

#include queues_qcb.conf
"""

# the admin's dialplan: the queue's max wait and a join announcement, then the rendered queue entry
EXTENSIONS = f"""
[qcb-test-in]
exten => 400,1,Answer()
 same => n,Set(QCB_MAX_WAIT={MAX_WAIT_S})
 same => n,Set(QCB_JOIN_ANNOUNCE=queue-thankyou)
 same => n,Goto(qcb-queue-400,s,1)

#include extensions_qcb.conf
"""


def _positions(bed: AsteriskInstance) -> dict[str, int]:
    return {e["CallerIDNum"]: int(e["Position"]) for e in demo.waiting_callers(bed, "400")}


def _lines_of(bed: AsteriskInstance, channel: str) -> list[demo.LogLine]:
    return [
        line for line in demo.log_lines(bed) if f'"{channel}"' in line.text or f"<{channel}>" in line.text
    ]


def test_a_refused_caller_rejoins_at_their_place_with_the_rest_of_their_wait(
    asterisk: Factory, dsn: Dsn, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True, did="5551000", offer_every=5, block_patterns=(CALLERS[1],))
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()}, queues=QUEUES, extensions=EXTENSIONS)
    render(service.queues(), "asterisk", str(bed.agi_dir)).write(bed.etc)
    bed.start()

    first = Caller(bed, "400", [], hold_s=90, caller_id=CALLERS[0]).start()
    wait_for(lambda: CALLERS[0] in _positions(bed), 15, 0.2, "caller 1 in the queue")
    second = Caller(bed, "400", [(8.0, "1")], hold_s=90, caller_id=CALLERS[1]).start()
    wait_for(lambda: CALLERS[1] in _positions(bed), 15, 0.2, "caller 2 in the queue")
    third = Caller(bed, "400", [], hold_s=90, caller_id=CALLERS[2]).start()
    try:
        wait_for(lambda: len(_positions(bed)) == 3, 15, 0.2, "caller 3 in the queue")
        channel = next(
            e["Channel"] for e in demo.waiting_callers(bed, "400") if e["CallerIDNum"] == CALLERS[1]
        )
        wait_for(lambda: demo.played(bed, "qcb-back-to-queue"), 40, 0.2, "caller 2 refused and sent back")
        positions = wait_for(
            lambda: p if len(p := _positions(bed)) == 3 else None, 20, 0.2, "caller 2 back in the queue"
        )
        assert positions == {CALLERS[0]: 1, CALLERS[1]: 2, CALLERS[2]: 3}, positions
        shown = bed.cli("queue show 400")
        assert "400 has 3 calls" in shown, shown
        assert demo.played(bed, "qcb-not-available"), "caller 2 was not told why"
        assert demo.requests(dsn.url()) == []

        lines = _lines_of(bed, channel)
        announced = [line for line in lines if "Playing 'queue-thankyou." in line.text]
        assert len(announced) == 1, "the join announcement was played again"
        joins = [line for line in lines if "@qcb-queue-400:" in line.text and " Queue(" in line.text]
        assert len(joins) == 2, [line.text for line in joins]

        # caller 2 leaves at the deadline of their first join
        wait_for(lambda: CALLERS[1] not in _positions(bed), MAX_WAIT_S + 30, 0.5, "caller 2 timed out")
        left = [
            line
            for line in _lines_of(bed, channel)
            if line.at > joins[-1].at and "@qcb-queue-400:" in line.text and " Queue(" not in line.text
        ]
        assert left, "caller 2 did not leave through the queue context"
        waited = (left[0].at - joins[0].at).total_seconds()
        assert MAX_WAIT_S - 2 <= waited <= MAX_WAIT_S + 3, (waited, joins[0].at, left[0].at)
        assert _timed_out(bed, channel, joins[-1].at), "Queue() did not end in TIMEOUT"
    finally:
        for caller in (first, second, third):
            caller.stop()


def _timed_out(bed: AsteriskInstance, channel: str, after: datetime) -> bool:
    """Queue() returned with QUEUESTATUS TIMEOUT (the dialplan logs it after the call)."""
    return any(
        "TIMEOUT" in line.text
        for line in _lines_of(bed, channel)
        if line.at > after and "qcb-queue-400" in line.text
    )
