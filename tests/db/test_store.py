"""The store and the service on a real MariaDB: schema, uniqueness, claims, outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import pytest

from freepbx_callback.config import Dsn
from freepbx_callback.models import Outcome, Status
from freepbx_callback.policy import PolicyError
from freepbx_callback.schema import LATEST, MIGRATIONS
from freepbx_callback.service import CallbackService, utcnow
from freepbx_callback.store import Store, StoreUnavailable
from tests.conftest import Clock

T = TypeVar("T")


def in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``count`` threads released at the same moment."""
    gate = threading.Barrier(count)

    def run(i: int) -> T:
        gate.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def fresh_service(dsn: Dsn, clock: Clock | None = None) -> CallbackService:
    return CallbackService(Store.connect(dsn), clock or utcnow)


def test_migrate_is_idempotent_and_versioned(store: Store) -> None:
    assert store.schema_version() == LATEST
    assert store.migrate(utcnow()) == []
    rows = store._all("SELECT version FROM qcb_schema")
    assert sorted(r[0] for r in rows) == sorted(version for version, _, _ in MIGRATIONS)


def test_concurrent_migrations_on_an_empty_database(mariadb, dsn: Dsn) -> None:  # type: ignore[no-untyped-def]
    empty = mariadb.create_database()
    results = in_parallel(4, lambda i: Store.connect(empty).migrate(utcnow()))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(MIGRATIONS)]
    assert Store.connect(empty).schema_version() == LATEST
    mariadb.drop_database(empty.database)


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailable, match=r"cannot use database u@127\.0\.0\.1:1/x"):
        Store.connect(Dsn("u", "p", "127.0.0.1", 1, "x"), timeout=2)


def test_twenty_concurrent_requests_for_one_number_make_one_open_row(
    service: CallbackService, dsn: Dsn
) -> None:
    service.set_queue("400", enabled=True, did="5551000")
    results = in_parallel(20, lambda i: fresh_service(dsn).request("400", "5551234", source="test"))
    kinds = sorted(r.kind for r in results)
    assert kinds == ["created"] + ["duplicate"] * 19
    created = next(r for r in results if r.kind == "created")
    assert all(r.request is not None and r.request.id == created.request.id for r in results)  # type: ignore[union-attr]
    rows = service.store._all("SELECT COUNT(*), SUM(status = 'pending') FROM qcb_requests")
    assert rows[0][0] == 1 and int(rows[0][1]) == 1


def test_database_itself_refuses_a_second_open_row(store: Store, service: CallbackService) -> None:
    """Even a writer that skips the service's check cannot insert a second open request."""
    service.set_queue("400", enabled=True)
    service.request("400", "5551234")
    now = utcnow()
    fields = {
        "queue": "400",
        "number": "5551234",
        "status": "pending",
        "requested_at": now,
        "next_attempt_at": now,
    }
    from freepbx_callback.store import DuplicateOpenRequest

    with pytest.raises(DuplicateOpenRequest):
        store.insert_request(fields)
    fields["status"] = "done"
    store.insert_request(fields)  # closed rows do not count


def test_max_pending_holds_under_concurrency(service: CallbackService, dsn: Dsn) -> None:
    service.set_queue("400", enabled=True, max_pending=5)
    results = in_parallel(12, lambda i: fresh_service(dsn).request("400", f"55510{i:02d}"))
    assert sorted(r.kind for r in results).count("created") == 5
    assert {r.kind for r in results} == {"created", "limit"}
    assert service.store.count_open("400") == 5


def test_request_refusals_write_nothing(service: CallbackService) -> None:
    assert service.request("400", "5551234").kind == "disabled"
    service.set_queue("400", enabled=True, block_patterns=("_555XXXX",))
    assert service.request("400", "x;Dial(1)").kind == "invalid"
    assert service.request("400", "anonymous").reason == "withheld"
    assert service.request("400", "5551234").kind == "blocked"
    assert service.request("400", "+442079460000").kind == "blocked"
    assert service.request("400", "2125551234", did="55;1").kind == "invalid"
    assert service.store._all("SELECT COUNT(*) FROM qcb_requests")[0][0] == 0


def test_request_keeps_caller_details(service: CallbackService) -> None:
    service.set_queue("400", enabled=True, did="5551000", language="ru", region="RU")
    r = service.request(
        "400", "+7 495 123-45-67", uniqueid="1700000000.1", position=3, waited=42, source="agi"
    ).request
    assert r is not None
    assert (r.number, r.e164, r.did, r.language, r.caller_uniqueid, r.position, r.waited, r.source) == (
        "+74951234567",
        "+74951234567",
        "5551000",
        "ru",
        "1700000000.1",
        3,
        42,
        "agi",
    )
    own_did = service.request("400", "84951112233", did="+15559999", language="en").request
    assert own_did is not None and own_did.did == "+15559999" and own_did.language == "en"


def test_two_concurrent_claimers_get_disjoint_sets(service: CallbackService, dsn: Dsn, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    for i in range(60):
        assert service.request("400", f"555{i:04d}").kind == "created"
    clock.advance(1)
    claimed = in_parallel(
        2, lambda i: [r.id for r, _ in fresh_service(dsn, clock).claim("400", 40, f"node{i}")]
    )
    a, b = set(claimed[0]), set(claimed[1])
    assert not a & b
    assert len(a) + len(b) == 60
    rows = service.store._all("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM qcb_attempts")
    assert rows[0] == (60, 60)


def test_many_claimers_never_share_an_attempt(service: CallbackService, dsn: Dsn, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    for i in range(100):
        service.request("400", f"556{i:04d}")
    clock.advance(1)

    def drain(i: int) -> list[int]:
        s = fresh_service(dsn, clock)
        got: list[int] = []
        while batch := s.claim("400", 3, f"node{i}"):
            got.extend(r.id for r, _ in batch)
        return got

    results = in_parallel(6, drain)
    everything = [i for r in results for i in r]
    assert len(everything) == len(set(everything)) == 100


def test_claim_takes_oldest_due_first_and_respects_the_limit(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    ids = []
    for i in range(5):
        ids.append(service.request("400", f"555000{i}").request.id)  # type: ignore[union-attr]
        clock.advance(1)
    assert service.claim("400", 0, "n") == []
    first = service.claim("400", 2, "n")
    assert [r.id for r, _ in first] == ids[:2]
    assert all(r.status is Status.DIALING and r.tries == 1 and r.claimed_by == "n" for r, _ in first)
    assert all(
        a.attempt_no == 1 and a.channel_id and a.channel_id.startswith(f"qcb-{r.id}-1-") for r, a in first
    )
    assert service.claim("other", 5, "n") == []


def test_not_yet_due_is_not_claimed(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    r = service.request("400", "5551234").request
    assert r is not None
    clock.advance(-1)
    assert service.claim("400", 5, "n") == []


def test_no_answer_retries_then_fails(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, attempts=2, retry_interval=300)
    rid = service.request("400", "5551234").request.id  # type: ignore[union-attr]
    [(r, _)] = service.claim("400", 1, "n")
    r = service.record_outcome(rid, 1, Outcome.NO_ANSWER)
    assert r.status is Status.PENDING and r.next_attempt_at == clock.now + timedelta(seconds=300)
    assert r.attempts == 1
    assert service.claim("400", 1, "n") == []  # not due for 300 s
    clock.advance(300)
    [(r, _)] = service.claim("400", 1, "n")
    assert r.tries == 2
    r = service.record_outcome(rid, 2, Outcome.BUSY)
    assert r.status is Status.FAILED and r.closed_at == clock.now
    attempts, events = service.history(rid)
    assert [(a.attempt_no, a.outcome) for a in attempts] == [(1, "no_answer"), (2, "busy")]
    assert [e for _, e, _ in events] == ["requested", "claimed", "pending", "claimed", "failed"]
    assert r.attempts == 2


def test_no_agent_and_lost_attempts_do_not_count(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, attempts=2)
    rid = service.request("400", "5551234").request.id  # type: ignore[union-attr]
    service.claim("400", 1, "n")
    r = service.apply_leg(rid, 1, Outcome.NO_AGENT)
    assert (r.status, r.attempts, r.tries) == (Status.PENDING, 0, 1)
    assert r.next_attempt_at == clock.now + timedelta(seconds=20)
    clock.advance(20)
    service.claim("400", 1, "n")
    assert service.apply_leg(rid, 2, None, agent="PJSIP/agent").status is Status.DIALING
    r = service.record_outcome(rid, 2, Outcome.NO_ANSWER)
    assert (r.status, r.attempts, r.tries) == (Status.PENDING, 1, 2)
    attempts = service.history(rid)[0]
    assert [(a.outcome, a.counted, a.agent) for a in attempts] == [
        ("no_agent", False, None),
        ("no_answer", True, "PJSIP/agent"),
    ]


def test_recover_releases_dead_claims_and_keeps_live_calls(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    dead = service.request("400", "5551111").request.id  # type: ignore[union-attr]
    live = service.request("400", "5552222").request.id  # type: ignore[union-attr]
    claimed = {r.id: a for r, a in service.claim("400", 2, "n", lease=60)}
    alive = {claimed[live].channel_id}
    assert service.recover(lambda cid: cid in alive) == {"extended": 0, "released": 0}  # lease not over
    clock.advance(61)
    assert service.recover(lambda cid: cid in alive) == {"extended": 1, "released": 1}
    d = service.get(dead)
    assert (d.status, d.attempts, d.next_attempt_at) == (Status.PENDING, 0, clock.now)
    assert service.get(live).status is Status.DIALING


def test_answered_is_done_and_outcome_is_idempotent(service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    rid = service.request("400", "5551234").request.id  # type: ignore[union-attr]
    service.claim("400", 1, "n")
    done = service.record_outcome(rid, 1, Outcome.ANSWERED, talk_seconds=30, agent="PJSIP/201")
    assert done.status is Status.DONE
    again = service.record_outcome(rid, 1, Outcome.NO_ANSWER)
    assert again.status is Status.DONE
    assert [a.outcome for a in service.history(rid)[0]] == ["answered"]
    assert service.stats().median_seconds_to_callback is not None


def test_expire_after_window(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600)
    rid = service.request("400", "5551234").request.id  # type: ignore[union-attr]
    clock.advance(600)
    assert service.expire_due("400") == []
    clock.advance(1)
    assert service.expire_due("400") == [rid]
    assert service.get(rid).status is Status.EXPIRED
    assert service.request("400", "5551234").kind == "created"  # a closed request frees the number


def test_cancel_retry_and_reopen_conflict(service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    rid = service.request("400", "5551234").request.id  # type: ignore[union-attr]
    assert service.cancel(rid).status is Status.CANCELLED
    with pytest.raises(PolicyError, match="cancelled request cannot become cancelled"):
        service.cancel(rid)
    reopened = service.retry(rid)
    assert reopened.status is Status.PENDING and reopened.attempts == 0
    service.cancel(rid)
    service.request("400", "5551234")
    with pytest.raises(PolicyError, match="already exists"):
        service.retry(rid)


def test_purge_only_closed_and_old(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    old = service.request("400", "5551111").request.id  # type: ignore[union-attr]
    service.cancel(old)
    service.request("400", "5552222")
    clock.advance(86400 * 31)
    recent = service.request("400", "5553333").request.id  # type: ignore[union-attr]
    service.cancel(recent)
    assert service.purge(86400 * 30) == 1
    assert {r.number for r in service.list()} == {"5552222", "5553333"}


def test_due_lookup_uses_the_due_index(service: CallbackService, store: Store) -> None:
    service.set_queue("400", enabled=True)
    now = utcnow()
    history = [("400", f"5{i:06d}", "done", now, now, now) for i in range(3000)]
    store.conn.cursor().executemany(
        "INSERT INTO qcb_requests (queue, number, status, requested_at, next_attempt_at, closed_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        history,
    )
    for i in range(10):
        service.request("400", f"212555{i:04d}")
    store._run("ANALYZE TABLE qcb_requests")
    plan = store._all(
        "EXPLAIN SELECT id FROM qcb_requests FORCE INDEX (ix_due) WHERE status = 'pending' AND queue = '400' "
        "AND next_attempt_at <= NOW() ORDER BY next_attempt_at, id LIMIT 5"
    )
    key, rows = plan[0][5], int(plan[0][8])
    assert key == "ix_due"
    assert rows <= 50  # pending rows, not the 3000 of history


def test_migrate_repairs_tables_created_without_the_generated_key(
    store: Store, service: CallbackService
) -> None:
    """FreePBX creates the tables from module.xml first (no generated column, no unique key over it)."""
    store._run("ALTER TABLE qcb_requests DROP INDEX uq_open_request")
    store._run("ALTER TABLE qcb_requests DROP COLUMN open_flag")
    store._run("ALTER TABLE qcb_requests MODIFY requested_at DATETIME NOT NULL")
    store.migrate(utcnow())
    service.set_queue("400", enabled=True)
    assert service.request("400", "5551234").kind == "created"
    assert service.request("400", "5551234").kind == "duplicate"
    columns = dict(
        store._all(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qcb_requests'"
        )
    )
    assert columns["requested_at"] == "datetime(3)" and "open_flag" in columns


def test_a_deadlock_is_a_lost_race_not_a_crash(service: CallbackService, dsn: Dsn) -> None:
    """Deadlocks (and Galera certification failures, same handling) surface as LostRace."""
    from freepbx_callback.store import LostRace

    service.set_queue("400", enabled=True)
    ids = [service.request("400", n).request.id for n in ("5551111", "5552222")]  # type: ignore[union-attr]
    a, b = Store.connect(dsn), Store.connect(dsn)
    outcomes: list[str] = []
    gate = threading.Barrier(2)

    def cross(store: Store, first: int, second: int) -> None:
        try:
            with store.transaction():
                store._run("UPDATE qcb_requests SET waited = 1 WHERE id = %s", (first,))
                gate.wait()
                store._run("UPDATE qcb_requests SET waited = 2 WHERE id = %s", (second,))
            outcomes.append("committed")
        except LostRace:
            outcomes.append("lost")

    threads = [
        threading.Thread(target=cross, args=(a, ids[0], ids[1])),
        threading.Thread(target=cross, args=(b, ids[1], ids[0])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["committed", "lost"]


def test_keep_place_releases_only_callers_who_joined_before_the_live_ones(
    service: CallbackService, clock: Clock
) -> None:
    service.set_queue("400", enabled=True, keep_place=True)
    early = service.request("400", "5551111", waited=120).request  # joined the queue 120 s ago
    late = service.request("400", "5552222", waited=5).request  # joined 5 s ago
    assert early is not None and late is not None
    live_joined = clock.now - timedelta(seconds=60)  # a live caller who joined 60 s ago still waits
    clock.advance(1)
    claimed = [r.id for r, _ in service.claim("400", 5, "n", placed_before=live_joined)]
    assert claimed == [early.id]
    assert [r.id for r, _ in service.claim("400", 5, "n")] == [late.id]  # nobody waiting any more
