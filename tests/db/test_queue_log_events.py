"""The events waiting for Asterisk's queue_log, on a real MariaDB: each is taken by exactly one writer."""

from __future__ import annotations

from freepbx_callback.config import Dsn
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store


def test_new_events_wait_with_their_request_until_one_writer_takes_them(
    dsn: Dsn, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True)
    request = service.request("400", "2015551234", uniqueid="1764579600.7", position=2, waited=30).request
    assert request is not None
    [row] = service.queue_log_pending()
    assert (row.request_id, row.event, row.queue, row.number) == (
        request.id,
        "requested",
        "400",
        "2015551234",
    )
    assert (row.caller_uniqueid, row.position, row.waited, row.source) == ("1764579600.7", 2, 30, "cli")
    # A second dialer (another process, another connection) cannot take it too.
    other = CallbackService(Store.connect(dsn))
    assert service.take_for_queue_log(row.event_id)
    assert not other.take_for_queue_log(row.event_id)
    assert service.queue_log_pending() == [] and other.queue_log_pending() == []
    # Taken but never sent (AMI went away first): it waits again.
    other.give_back_to_queue_log(row.event_id)
    assert [r.event_id for r in service.queue_log_pending()] == [row.event_id]
    other.store.close()


def test_events_come_oldest_first_with_the_attempts(service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    first = service.request("400", "2015551234").request
    second = service.request("400", "2015551235").request
    assert first is not None and second is not None
    [(_, attempt)] = service.claim("400", 1, "node-a", 120)
    rows = service.queue_log_pending()
    assert [(r.request_id, r.event) for r in rows] == [
        (first.id, "requested"),
        (second.id, "requested"),
        (attempt.request_id, "claimed"),
    ]
    assert [a.attempt_no for a in rows[2].attempt_list] == [1]


def test_the_upgrade_does_not_write_history(store: Store, service: CallbackService) -> None:
    """A database from before schema 16 (no queue_log column) with a request: after ``db migrate`` its
    events are not waiting for the queue_log, the next request's are."""
    service.set_queue("400", enabled=True)
    old = service.request("400", "2015551234").request
    store._run("ALTER TABLE qcb_events DROP INDEX ix_event_queue_log, DROP COLUMN queue_log")
    store._run("DELETE FROM qcb_schema WHERE version = 16")
    assert store.migrate(service.clock()) == [16]
    assert service.queue_log_pending() == []
    new = service.request("400", "2015551235").request
    assert old is not None and new is not None
    assert [(r.request_id, r.event) for r in service.queue_log_pending()] == [(new.id, "requested")]
