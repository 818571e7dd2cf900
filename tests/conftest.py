"""Shared fixtures: a real MariaDB server for the session, a fresh migrated database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from freepbx_callback.config import Dsn
from freepbx_callback.service import CallbackService, utcnow
from freepbx_callback.store import Store
from tests.testbed.mariadb import MariaDB, ensure_server

# Every `serve` a test starts gets its HTTP API on a free port: tests (and test runs) side by side must not
# fight over the default 127.0.0.1:8573.
os.environ.setdefault("QCB_HTTP", "127.0.0.1:0")


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    server = ensure_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dsn(mariadb: MariaDB) -> Iterator[Dsn]:
    """A new, migrated, empty database for one test."""
    db = mariadb.create_database()
    store = Store.connect(db)
    store.migrate(utcnow())
    store.close()
    try:
        yield db
    finally:
        mariadb.drop_database(db.database)


@pytest.fixture
def db_dsn(dsn: Dsn) -> str:
    return dsn.url()


@pytest.fixture
def store(dsn: Dsn) -> Iterator[Store]:
    s = Store.connect(dsn)
    try:
        yield s
    finally:
        s.close()


class Clock:
    """A settable clock for the service (the database still stores real rows)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: Store, clock: Clock) -> CallbackService:
    return CallbackService(store, clock)
