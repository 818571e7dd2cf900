"""Talk time on a real Asterisk: only the time the customer was connected counts toward ``--min-talk``.

Agent-first: the customer leg's channel was answered when the agent answered, so Asterisk's ANSWEREDTIME
on it includes the customer's ring time; customer-first: the greeting and the queue wait come before
the agent. The SIPp customer rings, answers, then hangs up after a set time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed, PressingUas
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]


def _agent_first(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path, ring_s: float, talk_s: float
) -> tuple[object, object]:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=3, attempts=2)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, "answer", ring_s=ring_s, hangup_after_s=talk_s)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        assert cb.dialer(tmp_path / "spool", ring_timeout=15).tick().dialled == [request.id]
        ended = wait_for(
            lambda: (r := service.get(request.id)).status is not Status.DIALING and r,
            timeout=40,
            message="the callback's outcome",
        )
        [attempt] = service.history(request.id)[0]
        assert len(customer.invites()) == 1
    return ended, attempt


def test_ring_time_does_not_count_as_talk_time(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """Rang 6 s, talked 1 s, min_talk 3: not delivered (answered too short), the retry stays."""
    request, attempt = _agent_first(asterisk, dsn, service, tmp_path, ring_s=6, talk_s=1)
    assert (request.status, request.last_outcome) == (Status.PENDING, "answered_too_short"), request
    assert attempt.outcome == "answered" and attempt.talk_seconds <= 2, attempt


def test_a_normal_call_is_done_with_its_real_talk_time(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    request, attempt = _agent_first(asterisk, dsn, service, tmp_path, ring_s=6, talk_s=5)
    assert request.status is Status.DONE, request
    assert 4 <= attempt.talk_seconds <= 6, attempt


def test_customer_first_counts_only_the_time_with_the_agent(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """Greeting, key press, 4 s of the agent ringing, then about 1.5 s with the agent: too short."""
    service.set_queue(
        "400", enabled=True, did="5551000", mode="customer-first", notify_agents=False, min_talk=4
    )
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=4)
    person = PressingUas(bed, press_after_s=4.5, hangup_after_s=6)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, person)
    with agent, person:
        request = service.request("400", "2015551234").request
        assert request is not None
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
        ended = wait_for(
            lambda: (r := service.get(request.id)).status is not Status.DIALING and r,
            timeout=40,
            message="the callback's outcome",
        )
        assert len(agent.invites()) == 1, "the customer must have reached the agent"
        [attempt] = service.history(request.id)[0]
        assert (ended.status, ended.last_outcome) == (Status.PENDING, "answered_too_short"), (ended, attempt)
        assert attempt.outcome == "answered" and attempt.talk_seconds <= 3, attempt
