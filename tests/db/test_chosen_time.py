"""A callback time of the caller's choice on a real MariaDB with a settable clock: the request is due at
the chosen time (never before), its window counts from it, "tomorrow morning" is the next opening at or
after 9:00, and an operator can move it (reschedule)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from freepbx_callback.policy import PolicyError
from freepbx_callback.service import CallbackService, NotFound
from tests.conftest import Clock

TUESDAY_1400 = datetime(2026, 12, 1, 14, 0)


def test_in_one_hour_is_due_then_and_not_before(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600, offer_times=True)
    clock.now = TUESDAY_1400
    result = service.request("400", "2015551234", when="hour")
    assert result.kind == "created" and result.request is not None
    request = result.request
    assert request.next_attempt_at == datetime(2026, 12, 1, 15, 0)
    assert request.expires_at == datetime(2026, 12, 1, 15, 10)  # the window counts from the chosen time
    clock.now = datetime(2026, 12, 1, 14, 59)
    assert service.claim("400", 1, "n") == []
    assert service.expire_due("400") == []
    clock.now = datetime(2026, 12, 1, 15, 0)
    assert [r.id for r, _ in service.claim("400", 1, "n")] == [request.id]


def test_tomorrow_morning_is_the_next_opening_after_nine(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, offer_times=True)
    clock.now = TUESDAY_1400
    plain = service.request("400", "2015551234", when="morning").request
    assert plain is not None and plain.next_attempt_at == datetime(2026, 12, 2, 9, 0)
    service.set_queue("400", hours=("mon-fri 10:00-17:00",), timezone="Europe/Moscow")  # UTC+3
    clock.now = datetime(2026, 12, 4, 12, 0)  # Friday: next morning is Monday's opening, 10:00 Moscow
    later = service.request("400", "2015551235", when="morning").request
    assert later is not None and later.next_attempt_at == datetime(2026, 12, 7, 7, 0)
    asap = service.request("400", "2015551236", when="asap").request
    assert asap is not None and asap.next_attempt_at == clock.now


def test_a_choice_is_ignored_where_not_offered(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    clock.now = TUESDAY_1400
    request = service.request("400", "2015551234", when="hour").request
    assert request is not None and request.next_attempt_at == TUESDAY_1400
    with pytest.raises(PolicyError):
        service.request("400", "2015551235", when="someday")


def test_reschedule_moves_the_time_and_its_window(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600)
    clock.now = TUESDAY_1400
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    moved = service.reschedule(rid, datetime(2026, 12, 1, 18, 30))
    assert moved.next_attempt_at == datetime(2026, 12, 1, 18, 30)
    assert moved.expires_at == datetime(2026, 12, 1, 18, 40)
    assert any(event == "rescheduled" for _, event, _ in service.history(rid)[1])
    assert service.claim("400", 1, "n") == []
    with pytest.raises(PolicyError):
        service.reschedule(rid, clock.now - timedelta(minutes=1))  # not in the past
    service.cancel(rid)
    with pytest.raises(PolicyError):
        service.reschedule(rid, datetime(2026, 12, 1, 19, 0))  # closed: nothing to move
    with pytest.raises(NotFound):
        service.reschedule(99999, datetime(2026, 12, 1, 19, 0))
