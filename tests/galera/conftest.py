"""A 3-node MariaDB Galera cluster on 127.0.0.1 for the tests in this folder (one cluster per session).

Every node takes writes. The tests run the product's own service on different nodes at once, which is
where node-local locks (SELECT ... FOR UPDATE, GET_LOCK) stop protecting anything and only conflicting
writes, certified cluster-wide, do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from freepbx_callback.config import Dsn
from freepbx_callback.service import CallbackService, utcnow
from freepbx_callback.store import Store
from tests.testbed.galera import Galera, GaleraUnavailable


@pytest.fixture(scope="session")
def galera() -> Iterator[Galera]:
    try:
        bed = Galera.start()
    except GaleraUnavailable as exc:
        pytest.skip(f"no Galera cluster on this machine: {exc}")
    try:
        yield bed
    finally:
        bed.stop()


class Cluster:
    """One test database on the cluster, reachable through each node."""

    def __init__(self, bed: Galera, database: str) -> None:
        self.bed, self.database = bed, database
        self.stores: list[Store] = []

    def dsn(self, node: int) -> Dsn:
        return self.bed.dsn(node, self.database)

    def service(self, node: int, clock: Callable[[], datetime] = utcnow) -> CallbackService:
        store = Store.connect(self.dsn(node))
        self.stores.append(store)
        return CallbackService(store, clock)

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture
def empty_cluster(galera: Galera) -> Iterator[Cluster]:
    """A new database with no tables, on all three nodes."""
    cluster = Cluster(galera, galera.create_database())
    try:
        yield cluster
    finally:
        cluster.close()
        galera.drop_database(cluster.database)


@pytest.fixture
def cluster(empty_cluster: Cluster) -> Cluster:
    """A new migrated database on all three nodes."""
    store = Store.connect(empty_cluster.dsn(0))
    store.migrate(utcnow())
    store.close()
    empty_cluster.bed.wait_synced()
    return empty_cluster
