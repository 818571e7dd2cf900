"""Refused callers go back to the queue: a blocked number, a number never dialled (emergency, satellite),
or the queue's open-request limit reached.

The handler says so (qcb-not-available), stores nothing, and the rendered exit context puts the
caller back into Queue(400); AMI QueueStatus and `queue show` must list them there again.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.testbed import demo
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.demo import CALLER, PRESS_AFTER_S, QUEUE
from tests.testbed.sipp import Caller
from tests.testbed.wait import wait_for

pytestmark = pytest.mark.e2e
NewBed = Callable[..., AsteriskInstance]


def requeued(bed: AsteriskInstance) -> bool:
    """The exit context sent the caller back: Queue(400) ran again, through qcb-queue-400."""
    return any(
        f"@qcb-queue-{QUEUE}:" in line.text and 'Queue("PJSIP/' in line.text for line in demo.log_lines(bed)
    )


@pytest.mark.parametrize(
    ("setting", "caller_id", "result"),
    [
        (("--block", "_201555XXXX"), CALLER, "blocked"),
        (("--max-pending", "0"), CALLER, "limit"),
        ((), "+8810000000", "blocked"),  # satellite network, not even valid: a spoofed toll-fraud caller ID
        ((), "911", "blocked"),  # emergency: never dialled
    ],
    ids=["blocked-number", "max-pending-reached", "satellite-caller-id", "emergency-caller-id"],
)
def test_refused_caller_hears_why_and_is_back_in_the_queue(
    asterisk: NewBed, db_dsn: str, setting: tuple[str, ...], caller_id: str, result: str
) -> None:
    demo.enable_queue(db_dsn, *setting)
    bed = demo.callback_bed(asterisk, db_dsn)

    with Caller(bed, QUEUE, [(PRESS_AFTER_S, "1")], hold_s=60, caller_id=caller_id) as caller:
        wait_for(lambda: requeued(bed), 40, 0.2, "the caller sent back to the queue")
        entries = wait_for(
            lambda: [e for e in demo.waiting_callers(bed) if e.get("CallerIDNum") == caller_id],
            10,
            0.2,
            f"{caller_id} waiting in queue {QUEUE} (AMI QueueStatus)",
        )
        shown = bed.cli(f"queue show {QUEUE}")
        assert caller.running(), "the caller was hung up instead of queued"
        assert f"{QUEUE} has 1 calls" in shown and entries[0]["Channel"] in shown, shown
        assert f"no request stored ({result}), back to queue {QUEUE}" in bed.log_text()
        assert len(demo.played(bed, "qcb-not-available")) == 1, "the caller was not told"
        assert len(demo.played(bed, "qcb-back-to-queue")) == 1
        assert demo.played(bed, "qcb-accepted") == []
        assert demo.requests(db_dsn) == []
        bed.ami_action({"Action": "Hangup", "Channel": entries[0]["Channel"]})
        call = caller.wait()

    assert call.bye_received, call.summary()
    assert demo.requests(db_dsn) == []  # nothing stored: nothing the dialer could ever dial
    assert "0 active channels" in bed.cli("core show channels count")
