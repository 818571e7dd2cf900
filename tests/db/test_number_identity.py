"""One number, one open request; one call, one request: guarantees the database itself keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freepbx_callback.config import Dsn
from freepbx_callback.journal import Entry, Journal
from freepbx_callback.models import Status
from freepbx_callback.schema import MIGRATIONS, SCHEMA_TABLE
from freepbx_callback.service import CallbackService, utcnow
from freepbx_callback.store import DuplicateOpenRequest, Store

SPELLINGS = ("+74951234567", "84951234567", "74951234567")


@pytest.fixture
def ru(service: CallbackService) -> CallbackService:
    service.set_queue("400", enabled=True, region="RU")
    return service


def test_three_spellings_of_one_number_hold_one_open_request(ru: CallbackService) -> None:
    results = [ru.request("400", raw) for raw in SPELLINGS]
    assert [r.kind for r in results] == ["created", "duplicate", "duplicate"]
    assert {r.request.id for r in results if r.request} == {results[0].request.id}  # type: ignore[union-attr]
    assert ru.store.count_open("400") == 1


def test_the_database_refuses_a_second_open_row_for_the_same_e164(ru: CallbackService, store: Store) -> None:
    ru.request("400", "+74951234567")
    now = utcnow()
    fields = {
        "queue": "400",
        "number": "84951234567",
        "e164": "+74951234567",
        "status": "pending",
        "requested_at": now,
        "next_attempt_at": now,
    }
    with pytest.raises(DuplicateOpenRequest):
        store.insert_request(fields)


def test_a_number_let_in_by_an_allow_pattern_dedupes_on_its_digits(service: CallbackService) -> None:
    service.set_queue("400", enabled=True, allow_patterns=("_555XXXX",))
    first = service.request("400", "5551234")
    assert first.kind == "created" and first.request is not None and first.request.e164 is None
    assert service.request("400", "555 1234").kind == "duplicate"
    assert service.request("400", "5551235").kind == "created"


def test_one_call_id_from_two_servers_is_two_requests(service: CallbackService) -> None:
    """Asterisk servers without ``systemname`` hand out the same uniqueids."""
    service.set_queue("400", enabled=True)
    a = service.request("400", "2125551234", uniqueid="1700000000.42", source="agi")
    b = service.request("400", "2125559876", uniqueid="1700000000.42", source="agi")
    assert (a.kind, b.kind) == ("created", "created")
    assert len(service.list()) == 2


def test_the_same_call_replayed_twice_is_stored_once(service: CallbackService, tmp_path) -> None:  # type: ignore[no-untyped-def]
    service.set_queue("400", enabled=True)
    journal = Journal(tmp_path / "spool")
    entry = Entry(
        queue="400", number="2125551234", requested_at=utcnow().isoformat(), uniqueid="1700000000.7"
    )
    journal.append(entry)
    assert service.replay(journal)["stored"] == 1
    [stored] = service.list()
    service.cancel(stored.id)  # closed since: the open-request dedupe no longer covers it
    journal.append(entry)  # the same file again (a replay interrupted after the insert)
    assert service.replay(journal) == {"stored": 0, "duplicate": 1, "rejected": 0}
    assert [r.id for r in service.list()] == [stored.id]


# --- migration 6 on a database that already holds duplicates ---------------------------------------


@pytest.fixture
def at_version_5(mariadb) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    db: Dsn = mariadb.create_database()
    store = Store.connect(db)
    store._run(SCHEMA_TABLE)
    for version, description, statements in MIGRATIONS:
        if version > 5:
            break
        for statement in statements:
            store._run(statement)
        store._run(
            "INSERT INTO qcb_schema (version, description, applied_at) VALUES (%s, %s, %s)",
            (version, description, utcnow()),
        )
    try:
        yield store
    finally:
        store.close()
        mariadb.drop_database(db.database)


def _old_row(
    store: Store, number: str, e164: str | None, status: str = "pending", uniqueid: str | None = None
) -> int:
    now = utcnow()
    return store.insert_request(
        {
            "queue": "400",
            "number": number,
            "e164": e164,
            "status": status,
            "caller_uniqueid": uniqueid,
            "requested_at": now,
            "next_attempt_at": now,
        }
    )


def test_migration_6_closes_duplicate_open_requests_it_finds(at_version_5: Store) -> None:
    store = at_version_5
    first = _old_row(store, "+74951234567", "+74951234567", uniqueid="1.1")
    second = _old_row(store, "84951234567", "+74951234567", uniqueid="1.2")
    dialing = _old_row(store, "74951234567", "+74951234567", status="dialing", uniqueid="1.3")
    other = _old_row(store, "89161234567", "+79161234567")
    closed = _old_row(store, "+74951234567", "+74951234567", status="done")

    assert 6 in store.migrate(utcnow())

    status = {i: store.get_request(i).status for i in (first, second, dialing, other, closed)}  # type: ignore[union-attr]
    # the one being dialled stays; the others for that number are cancelled, with the reason in an event
    assert status == {
        first: Status.CANCELLED,
        second: Status.CANCELLED,
        dialing: Status.DIALING,
        other: Status.PENDING,
        closed: Status.DONE,
    }
    for request_id in (first, second):
        [(_, event, detail)] = store.events(request_id)
        assert event == "cancelled" and f"request {dialing}" in detail
        assert store.get_request(request_id).closed_at is not None  # type: ignore[union-attr]
    assert store.events(dialing) == []

    store._run("DELETE FROM qcb_schema WHERE version = 6")
    assert store.migrate(utcnow()) == [6]  # runs again without harm
    assert [len(store.events(i)) for i in (first, second, dialing)] == [1, 1, 0]
