"""A callback at a time the client chose (the HTTP API's "at"): stored in one transaction, due then."""

from __future__ import annotations

from datetime import timedelta

from freepbx_callback.service import CallbackService
from tests.conftest import Clock


def test_a_chosen_time_is_the_first_due_time_and_the_window_counts_from_it(
    service: CallbackService, clock: Clock
) -> None:
    service.set_queue("400", enabled=True, window=600)
    at = clock.now + timedelta(hours=2)
    result = service.request("400", "2015550123", source="api", when=at)
    assert result.kind == "created", result.message
    assert result.request is not None
    assert result.request.next_attempt_at == at
    assert result.request.expires_at == at + timedelta(seconds=600)
    assert result.request.source == "api"


def test_a_chosen_time_in_the_past_is_now(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    result = service.request("400", "2015550123", when=clock.now - timedelta(minutes=5))
    assert result.request is not None and result.request.next_attempt_at == clock.now


def test_a_chosen_time_out_of_hours_moves_to_the_opening(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, hours=("mon-sun 09:00-10:00",), timezone="UTC")
    day = (clock.now + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    result = service.request("400", "2015550123", when=day)
    assert result.request is not None
    assert result.request.next_attempt_at == (day + timedelta(days=1)).replace(hour=9)
