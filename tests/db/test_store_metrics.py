"""The database figures of ``GET /metrics``: requests by status and queue, ended attempts by outcome (one
under way is not counted; one that ended without an outcome is ``unknown``)."""

from __future__ import annotations

from datetime import timedelta

from freepbx_callback.models import Attempt
from freepbx_callback.service import CallbackService


def test_requests_by_status_and_queue_and_ended_attempts_by_outcome(service: CallbackService) -> None:
    store = service.store
    assert store.request_counts() == [] and store.attempt_counts() == []
    service.set_queue("400", enabled=True, did="5551000")
    service.set_queue("401", enabled=True, did="5551001")
    ids = [
        service.request(q, n).request.id
        for q, n in (("400", "2015550101"), ("400", "2015550102"), ("401", "2015550103"))
    ]
    service.cancel(ids[1])
    assert store.request_counts() == [("cancelled", "400", 1), ("pending", "400", 1), ("pending", "401", 1)]
    now = service.clock()
    for no, outcome in ((1, "no_answer"), (2, "answered"), (3, None), (4, "open")):
        store.insert_attempt(Attempt(ids[0], no, now, node="test"))
        if outcome != "open":
            store.finish_attempt(
                Attempt(ids[0], no, now, ended_at=now + timedelta(seconds=5), outcome=outcome)
            )
    assert store.attempt_counts() == [("answered", 1), ("no_answer", 1), ("unknown", 1)]
