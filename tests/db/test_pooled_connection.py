"""A connection kept in the pool between calls is checked by its first statement, not by a ping of its own:
one the server closed meanwhile (a restart, wait_timeout, a KILL) is replaced, whatever the first
statement is, and nothing is stored twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freepbx_callback.config import Dsn
from freepbx_callback.pool import ServicePool
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store


@pytest.fixture
def pool(dsn: Dsn) -> Iterator[ServicePool]:
    p = ServicePool(lambda: CallbackService(Store.connect(dsn)), 2)
    try:
        yield p
    finally:
        p.close()


def _kept(pool: ServicePool) -> tuple[CallbackService, int]:
    svc = pool.checkout()
    conn_id = int(svc.store._all("SELECT CONNECTION_ID()")[0][0])
    pool.give_back(svc, clean=True)
    return svc, conn_id


def _killed(pool: ServicePool, store: Store) -> tuple[CallbackService, int]:
    """The service the next call takes from the pool, its kept connection (id returned) killed meanwhile."""
    _, conn_id = _kept(pool)
    store._run(f"KILL CONNECTION {conn_id}")
    return pool.checkout(), conn_id


def test_a_read_first_reuses_a_live_connection_without_a_ping(
    pool: ServicePool, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True)
    kept, conn_id = _kept(pool)
    pings = []
    original = kept.store.conn.ping
    kept.store.conn.ping = lambda *a: pings.append(1) or original(*a)  # type: ignore[method-assign]
    svc = pool.checkout()
    assert svc is kept
    assert [q.queue for q in svc.queues()] == ["400"]
    assert pings == [] and int(svc.store._all("SELECT CONNECTION_ID()")[0][0]) == conn_id


def test_a_read_first_on_a_killed_connection_runs_again_on_a_new_one(
    pool: ServicePool, service: CallbackService, store: Store
) -> None:
    service.set_queue("400", enabled=True)
    svc, conn_id = _killed(pool, store)
    assert [q.queue for q in svc.queues()] == ["400"]
    assert int(svc.store._all("SELECT CONNECTION_ID()")[0][0]) != conn_id
    assert svc.store._all("SELECT @@session.time_zone") == [("+00:00",)]  # the new one is set up as usual


def test_a_write_first_on_a_killed_connection_is_stored_once(
    pool: ServicePool, service: CallbackService, store: Store
) -> None:
    service.set_queue("400", enabled=True)
    svc, _ = _killed(pool, store)
    # the API's path: the request's transaction is the first statement (no settings read before it)
    result = svc.request("400", "2015550123", source="api")
    assert result.kind == "created", result
    assert store._all("SELECT COUNT(*) FROM qcb_requests") == [(1,)]
    assert result.request == service.get(result.request.id)  # the row as returned equals the row as read
