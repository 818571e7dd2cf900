"""A customer leg that never reached the customer is not "answered".

On FreePBX the customer is dialled as Local/<number>@from-internal; when the outbound route fails, the
dialplan there may answer that Local channel and play a failure, so Dial() on our side sees ANSWER. Here
the same on plain Asterisk: the dial template's context answers and plays a failure, like a broken route,
or dials the SIPp "trunk" like a working one, or dials a trunk that fails and then answers to play a
failure, as FreePBX's routes do ("all circuits are busy"; tests/freepbx has the real one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]

ROUTES = """
[qcb-test-broken-route]
exten => _X.,1,Answer()
 same => n,Playback(silence/1&tt-weasels)
 same => n,Wait(6)
 same => n,Congestion(3)
 same => n,Hangup()

[qcb-test-route]
exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,20)
 same => n,Hangup()

; FreePBX's outbound route when its trunk fails: "all circuits are busy", played with an answer
[qcb-test-trunk-fails]
exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,20)
 same => n,Playback(silence/1&vm-goodbye)
 same => n,Hangup()
"""


def _run(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path, route: str, customer_mode: str
) -> tuple[object, object, Uas]:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=3, attempts=2)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, customer_mode, ring_s=1, hangup_after_s=5)
    CallbackBed.configure(bed, "400", {"agent": agent}, customer)
    bed.extensions += ROUTES
    cb = CallbackBed(bed, dsn, "400")
    cb.render(service)
    bed.start()
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        dialer = cb.dialer(tmp_path / "spool", dial_template=f"Local/{{number}}@{route}", ring_timeout=15)
        assert dialer.tick().dialled == [request.id]
        ended = wait_for(
            lambda: (r := service.get(request.id)).status is not Status.DIALING and r,
            timeout=40,
            message="the callback's outcome",
        )
        [attempt] = wait_for(
            lambda: (h := service.history(request.id)[0]) and h[0].ended_at and h,
            timeout=10,
            message="the attempt closed",
        )
    return ended, attempt, customer


def test_a_route_that_answers_and_plays_a_failure_is_not_answered(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    request, attempt, customer = _run(asterisk, dsn, service, tmp_path, "qcb-test-broken-route", "answer")
    assert customer.invites() == []
    assert (attempt.outcome, attempt.counted) == ("failed", True), attempt
    assert (request.status, request.attempts, request.last_outcome) == (Status.PENDING, 1, "failed"), request


def test_a_working_route_through_a_local_channel_is_answered(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    request, attempt, customer = _run(asterisk, dsn, service, tmp_path, "qcb-test-route", "answer")
    assert len(customer.invites()) == 1
    assert request.status is Status.DONE, (request, attempt)
    assert attempt.outcome == "answered" and 4 <= attempt.talk_seconds <= 6, attempt


def test_a_route_whose_customer_does_not_answer_is_no_answer(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    request, attempt, customer = _run(asterisk, dsn, service, tmp_path, "qcb-test-route", "noanswer")
    assert len(customer.invites()) == 1
    assert (attempt.outcome, request.status) == ("no_answer", Status.PENDING), (request, attempt)


def test_a_trunk_that_fails_then_a_failure_message_is_not_answered(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    request, attempt, customer = _run(asterisk, dsn, service, tmp_path, "qcb-test-trunk-fails", "unavailable")
    assert len(customer.invites()) == 1, "the trunk was tried"
    assert (attempt.outcome, attempt.counted) == ("failed", True), attempt
    assert (request.status, request.last_outcome) == (Status.PENDING, "failed"), request
