"""The store's connection to MariaDB: opening it, statements, transactions, and the errors every part of
the store raises. A connection kept in a pool between calls checks itself on its next statement
(:meth:`Connection.verify_on_first_use`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import MySQLdb
from MySQLdb.constants import ER

from .config import Dsn

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from typing import Any, Self

LOST_RACE = {ER.LOCK_DEADLOCK, ER.LOCK_WAIT_TIMEOUT, 1180, 4162}  # 1180/4162: Galera certification


class StoreError(Exception):
    """Base of the store's errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (or refused the login)."""


class DuplicateOpenRequest(StoreError):
    def __init__(self, queue: str, number: str) -> None:
        super().__init__(f"an open request already exists for {number} in queue {queue}")
        self.queue, self.number = queue, number


class DuplicateCall(StoreError):
    """A request from this caller's call (channel uniqueid) is already stored."""


class LostRace(StoreError):
    """Another transaction (or Galera node) won; nothing was changed."""


def _unavailable(dsn: Dsn, exc: MySQLdb.Error) -> StoreUnavailable:
    code, text = (exc.args + (None, str(exc)))[:2] if exc.args else (None, str(exc))
    return StoreUnavailable(f"cannot use database {dsn.describe()}: {text} ({code})")


def _open(dsn: Dsn, timeout: int, io_timeout: int | None) -> MySQLdb.Connection:
    kwargs: dict[str, Any] = dict(
        user=dsn.user,
        password=dsn.password,
        database=dsn.database,
        connect_timeout=timeout,
        charset="utf8mb4",
        autocommit=True,
    )
    if io_timeout is not None:
        kwargs.update(read_timeout=io_timeout, write_timeout=io_timeout)
    kwargs.update(unix_socket=dsn.unix_socket) if dsn.unix_socket else kwargs.update(
        host=dsn.host, port=dsn.port
    )
    try:
        conn = MySQLdb.connect(**kwargs)
        conn.cursor().execute("SET time_zone = '+00:00'")
    except MySQLdb.Error as exc:
        raise _unavailable(dsn, exc) from None
    return conn


class Connection:
    """One MariaDB connection (autocommit, UTC) with nested transactions."""

    def __init__(self, conn: MySQLdb.Connection, dsn: Dsn) -> None:
        self.conn, self.dsn = conn, dsn
        self._depth = 0
        self._connect_args: tuple[int, int | None] = (5, None)
        self._unverified = False  # see verify_on_first_use

    @classmethod
    def connect(cls, dsn: Dsn, timeout: int = 5, io_timeout: int | None = None) -> Self:
        """``timeout``: seconds to connect; ``io_timeout``: seconds any one read or write may wait on the
        server (a network partition then fails fast as StoreUnavailable instead of hanging until TCP gives
        up). Leave it None for work that may run long (migrations, purges)."""
        store = cls(_open(dsn, timeout, io_timeout), dsn)
        store._connect_args = (timeout, io_timeout)
        return store

    def verify_on_first_use(self) -> None:
        """This connection waited in a pool; the server may have closed it meanwhile (a restart, its
        wait_timeout, a KILL). Its next statement checks, at no extra round trip where it can: a read
        runs as it is and, if the connection turns out lost, runs again on a new one; anything else
        (a write, a transaction) goes after a ping, and a new connection if the ping fails."""
        self._unverified = True

    def _revive(self) -> None:
        try:
            self.conn.ping()
            return
        except MySQLdb.Error:
            self.close()
        self.conn = _open(self.dsn, *self._connect_args)

    def _first_run(self, sql: str, args: tuple[Any, ...] | list[Any]) -> MySQLdb.cursors.Cursor:
        self._unverified = False
        if not sql.startswith("SELECT "):
            self._revive()
            return self._run(sql, args)
        try:
            return self._run(sql, args)
        except StoreUnavailable:
            self._revive()
            return self._run(sql, args)

    def close(self) -> None:
        with suppress(MySQLdb.Error):
            self.conn.close()

    def idle(self) -> bool:
        """Outside any transaction: the connection may serve another caller."""
        return self._depth == 0

    # --- plumbing -----------------------------------------------------------------------------------

    def _run(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> MySQLdb.cursors.Cursor:
        if self._unverified:
            return self._first_run(sql, args)
        cur = self.conn.cursor()
        try:
            cur.execute(sql, args)
        except MySQLdb.IntegrityError:
            raise
        except MySQLdb.OperationalError as exc:
            if exc.args and exc.args[0] in LOST_RACE:
                raise LostRace(str(exc)) from None
            raise _unavailable(self.dsn, exc) from None
        return cur

    def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._run(sql, args).fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One InnoDB transaction; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._run("START TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            with suppress(MySQLdb.Error):
                self.conn.rollback()
            raise
        self._depth = 0
        try:
            self.conn.commit()
        except MySQLdb.OperationalError as exc:
            if exc.args and exc.args[0] in LOST_RACE:
                raise LostRace(str(exc)) from None
            raise _unavailable(self.dsn, exc) from None
