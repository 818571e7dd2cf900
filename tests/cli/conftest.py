"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freepbx_callback.service import utcnow
from freepbx_callback.store import Store


@pytest.fixture
def other_db(mariadb) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A second migrated, empty database: where a backup is restored."""
    db = mariadb.create_database()
    store = Store.connect(db)
    store.migrate(utcnow())
    store.close()
    try:
        yield db.url()
    finally:
        mariadb.drop_database(db.database)
