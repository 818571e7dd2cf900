"""The number rules are applied again at the moment of dialling: a request stored before they became
stricter (an upgrade of the product) or before the queue withdrew an allowance is cancelled, not dialled."""

from __future__ import annotations

from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.conftest import Clock


def _legacy_row(store: Store, number: str, now: object) -> int:
    """An open request as an earlier version stored it (no number rules checked)."""
    return store.insert_request(
        {"queue": "400", "number": number, "status": "pending", "requested_at": now, "next_attempt_at": now}
    )


def test_an_emergency_number_stored_before_the_rules_is_never_dialled(
    service: CallbackService, store: Store, clock: Clock
) -> None:
    service.set_queue("400", enabled=True)
    emergency = _legacy_row(store, "911", clock.now)
    satellite = _legacy_row(store, "+8810000000", clock.now)
    good = service.request("400", "2015550123").request
    assert good is not None
    claimed = service.claim("400", 5, "n", free=5)
    assert [r.id for r, _ in claimed] == [good.id], "only the valid national number is dialled"
    for request_id in (emergency, satellite):
        request = service.get(request_id)
        assert request.status is Status.CANCELLED, request
        assert (request.last_outcome or "").startswith("not dialled:"), request
        assert service.history(request_id)[0] == [], "no attempt: nothing was dialled"
        assert any(event == "cancelled" for _, event, _ in service.history(request_id)[1])


def test_an_allowance_withdrawn_after_the_request_cancels_it(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, allow_international=True)
    request = service.request("400", "+442079460000").request
    assert request is not None and request.status is Status.PENDING
    service.set_queue("400", allow_international=False)
    assert service.claim("400", 5, "n", free=5) == []
    after = service.get(request.id)
    assert after.status is Status.CANCELLED and after.last_outcome == "not dialled: international", after
