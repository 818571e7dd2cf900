"""Callback hours on a real Asterisk: a caller who presses 1 while the queue's callback hours are closed
is stored, told when the call will come ("today after <time>", said by Asterisk in the caller's
language), is not dialled while the hours are closed, and is dialled once they open.

The schedule is built around the current time: it opens at a minute boundary about a minute and a half
after the test starts, so both the closed and the open side are real time on the real components.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from freepbx_callback import hours
from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService, utcnow
from tests.testbed import demo
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.sipp import Uas, call_and_press, call_with_keys
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]


def _after(lines: list[demo.LogLine], first: demo.LogLine) -> list[str]:
    return [line.text for line in lines if line.at >= first.at]


def test_out_of_hours_request_is_told_the_time_and_dialled_at_the_opening(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    start = utcnow()
    opens = (start + timedelta(seconds=150)).replace(second=0, microsecond=0)
    rule = f"{opens:%H:%M}-{opens + timedelta(hours=1):%H:%M}"
    service.set_queue("400", enabled=True, did="5551000", offer_every=5, min_talk=2, hours=(rule,))
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.5)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=4)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        pause = {"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "true"}
        bed.ami_action(pause)  # the caller waits in line (no agent free) and presses 1
        call = call_and_press(bed, "400", dtmf_after_s=7, hold_s=40, caller_id="2015551234")
        assert call.bye_received, call.summary()
        [request] = service.list()
        assert request.status is Status.PENDING
        assert request.next_attempt_at == opens, (request.next_attempt_at, opens)

        # Told when: "... we will call you back" today (or tomorrow, near midnight) "after" 9:41 pm.
        [told] = demo.played(bed, "qcb-accepted-later")
        assert demo.played(bed, "qcb-accepted") == [], "the as-soon-as-possible confirmation played"
        lines = demo.log_lines(bed)
        word = hours.day_word(hours.Schedule(), utcnow(), opens)
        [after] = demo.played(bed, "qcb-after")
        said = "\n".join(_after(lines, told))
        assert said.index(f"'digits/{word}.") < said.index("'qcb-after."), said
        spoken_time = "\n".join(_after(lines, after))
        hour12 = opens.hour % 12 or 12
        assert f"'digits/{hour12}." in spoken_time, spoken_time
        assert f"'digits/{'a-m' if opens.hour < 12 else 'p-m'}." in spoken_time, spoken_time
        assert demo.played(bed, "qcb-goodbye"), "no goodbye after the time"

        bed.ami_action({**pause, "Paused": "false"})  # the agent is free: only the hours hold the call
        dialer = cb.dialer(tmp_path / "spool")
        while utcnow() < opens - timedelta(seconds=2):
            report = dialer.tick()
            assert report.dialled == [] and report.expired == [], report.summary()
            time.sleep(2)
        assert agent.invites() == [] and customer.invites() == [], "dialled while the hours were closed"

        def dialled() -> bool:
            return bool(dialer.tick().dialled)

        wait_for(dialled, timeout=30, interval=1, message="the dialer to call back once the hours open")
        assert utcnow() >= opens
        done = wait_for(
            lambda: service.get(request.id).status is Status.DONE, timeout=40, message="the callback done"
        )
        assert done
        [customer_invite] = customer.invites()
        assert "2015551234@" in customer_invite.first_line


@pytest.mark.parametrize("transport", ["agi-bin", "fastagi"])
def test_caller_choosing_in_one_hour_is_stored_for_then_and_not_dialled_before(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path, transport: str
) -> None:
    """After the 1 the caller hears the choice (1 as soon as possible, 2 in one hour, 3 tomorrow morning)
    and presses 2: the request is due an hour later, the caller is told so (SAY DATETIME over either
    transport), and a free agent does not make the dialer call before then."""
    service.set_queue("400", enabled=True, did="5551000", offer_every=5, offer_times=True)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.5)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=4)
    with contextlib.ExitStack() as stack:
        CallbackBed.configure(bed, "400", {"agent": agent}, customer)
        cb = CallbackBed(bed, dsn, "400")
        agi = None
        if transport == "fastagi":
            agi = demo.agi_url(stack.enter_context(demo.fastagi(dsn.url(), tmp_path / "fastagi-spool")))
        cb.render(service, agi=agi)
        bed.start()
        stack.enter_context(agent)
        stack.enter_context(customer)
        _choose_in_one_hour(bed, cb, service, agent, customer, tmp_path)


def _choose_in_one_hour(
    bed: AsteriskInstance,
    cb: CallbackBed,
    service: CallbackService,
    agent: Uas,
    customer: Uas,
    tmp_path: Path,
) -> None:
    pause = {"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "true"}
    bed.ami_action(pause)
    pressed = utcnow()
    call = call_with_keys(bed, "400", [(7, "1"), (3, "2")], hold_s=40, caller_id="2015551234")
    assert call.bye_received, call.summary()
    [request] = service.list()
    assert request.status is Status.PENDING
    due = request.next_attempt_at - pressed
    assert timedelta(minutes=59) < due < timedelta(minutes=61), due
    assert request.expires_at == request.next_attempt_at + timedelta(seconds=600)
    [choice] = demo.played(bed, "qcb-choose-time")
    twos = [k for k in demo.keys_received(bed, "2") if k.at >= choice.at]
    assert twos, "the 2 did not arrive during the choice"
    assert demo.played(bed, "qcb-accepted-later"), "the caller was not told when"
    [after] = demo.played(bed, "qcb-after")
    [goodbye] = demo.played(bed, "qcb-goodbye")
    said = [
        ln.text for ln in demo.log_lines(bed) if after.at <= ln.at <= goodbye.at and "'digits/" in ln.text
    ]
    assert said, "the time was not said (SAY DATETIME)"
    bed.ami_action({**pause, "Paused": "false"})
    dialer = cb.dialer(tmp_path / "spool")
    for _ in range(3):
        assert dialer.tick().dialled == []
        time.sleep(1)
    assert agent.invites() == [] and customer.invites() == [], "dialled before the chosen time"
    assert service.get(request.id).status is Status.PENDING
