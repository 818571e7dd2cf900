"""A customer leg through a Local channel route (as FreePBX's outbound routes are) whose trunk fails.

FreePBX plays "all circuits are busy" after every trunk of a route failed, and Playback answers the
route's Local channel: the callback's Dial then says ANSWER although the customer was never reached. The
attempt must be recorded as failed (counted, retried), never as answered; a customer who does answer
through the same route is still an answer.
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
CUSTOMER = "2015550123"

# Like FreePBX's outbound route: dial the trunk; when it fails, answer and play a message.
ROUTE = """
[test-route]
exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,8)
 same => n,Playback(silence/1&vm-goodbye)
 same => n,Hangup()
"""


def _start(
    asterisk: Factory, dsn: Dsn, service: CallbackService, customer_mode: str
) -> tuple[CallbackBed, Uas, Uas]:
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, customer_mode, ring_s=0.5, hangup_after_s=3)
    CallbackBed.configure(bed, "400", {"agent": agent}, customer)
    bed.extensions += ROUTE
    cb = CallbackBed(bed, dsn, "400")
    cb.render(service)
    bed.start()
    return cb, agent, customer


def _callback(cb: CallbackBed, service: CallbackService, tmp_path: Path) -> int:
    request = service.request("400", CUSTOMER).request
    assert request is not None
    dialer = cb.dialer(tmp_path / "spool", dial_template="Local/{number}@test-route")
    assert dialer.tick().dialled == [request.id]
    wait_for(lambda: service.get(request.id).attempts == 1, timeout=40, message="the attempt recorded")
    return request.id


def test_a_route_that_answers_with_a_failure_message_is_a_failed_attempt(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=0, attempts=2)
    cb, agent, customer = _start(asterisk, dsn, service, "unavailable")
    with agent, customer:
        request_id = _callback(cb, service, tmp_path)
        [attempt] = service.history(request_id)[0]
        assert (attempt.outcome, attempt.counted) == ("failed", True), attempt
        after = service.get(request_id)
        assert after.status is Status.PENDING and after.last_outcome == "failed", after
        assert len(customer.invites()) == 1, "the trunk was tried"
    log = cb.bed.log_text()
    assert "vm-goodbye" in log, "the route answered and played its message (the case under test)"
    assert "the route's own dialplan" in log


def test_a_customer_who_answers_through_the_same_route_is_an_answer(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=0, attempts=2)
    cb, agent, customer = _start(asterisk, dsn, service, "answer")
    with agent, customer:
        request_id = _callback(cb, service, tmp_path)
        done = wait_for(
            lambda: (r := service.get(request_id)).status is Status.DONE and r, timeout=30, message="done"
        )
        assert done.attempts == 1
        [attempt] = service.history(request_id)[0]
        assert attempt.outcome == "answered", attempt
    assert "answered by PJSIP/trunk-" in cb.bed.log_text()
