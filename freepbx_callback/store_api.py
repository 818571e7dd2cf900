"""The HTTP API's tables: keys, rate windows, idempotent answers, who asked for a request.

Like the rest of the store it makes no decisions; it uses a :class:`~freepbx_callback.store.Store`'s
connection and transactions.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import MySQLdb
from MySQLdb.constants import ER

if TYPE_CHECKING:
    from .apikeys import ApiKey
    from .store import Store

KEY_COLUMNS = "id, name, token_hint, queues, per_minute, per_number_hour, created_at, revoked_at"


class ApiStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.store._all(sql, args)

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> MySQLdb.cursors.Cursor:
        return self.store._run(sql, args)

    # --- keys ---------------------------------------------------------------------------------------

    @staticmethod
    def _key(row: tuple[Any, ...]) -> ApiKey:
        from .apikeys import ApiKey

        key_id, name, hint, queues, per_minute, per_number, created, revoked = row
        queue_names = tuple((queues or "").split())
        return ApiKey(
            int(key_id), name, hint, queue_names, int(per_minute), int(per_number), created, revoked
        )

    def key_by_name(self, name: str, lock: bool = False) -> ApiKey | None:
        suffix = " FOR UPDATE" if lock else ""
        rows = self._all(f"SELECT {KEY_COLUMNS} FROM qcb_api_keys WHERE name = %s{suffix}", (name,))
        return self._key(rows[0]) if rows else None

    def key_by_hash(self, token_hash: str) -> ApiKey | None:
        rows = self._all(f"SELECT {KEY_COLUMNS} FROM qcb_api_keys WHERE token_hash = %s", (token_hash,))
        return self._key(rows[0]) if rows else None

    def all_keys(self) -> list[ApiKey]:
        return [self._key(r) for r in self._all(f"SELECT {KEY_COLUMNS} FROM qcb_api_keys ORDER BY name")]

    def insert_key(
        self,
        name: str,
        token_hash: str,
        hint: str,
        queues: tuple[str, ...],
        per_minute: int,
        per_number_hour: int,
        now: datetime,
    ) -> None:
        self._run(
            "INSERT INTO qcb_api_keys (name, token_hash, token_hint, queues, per_minute, per_number_hour, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (name, token_hash, hint, " ".join(queues) or None, per_minute, per_number_hour, now),
        )

    def delete_key(self, key_id: int) -> None:
        self._run("DELETE FROM qcb_api_keys WHERE id = %s", (key_id,))

    def revoke_key(self, key_id: int, now: datetime) -> None:
        self._run(
            "UPDATE qcb_api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL", (now, key_id)
        )

    # --- rate windows -------------------------------------------------------------------------------

    def hit(self, bucket: str, window_start: int) -> int:
        """Count one hit in a window; the window's hits, this one included (one atomic statement: every
        serve node counts in the same row)."""
        self._run(
            "INSERT INTO qcb_api_rates (bucket, window_start, hits) VALUES (%s, %s, LAST_INSERT_ID(1)) "
            "ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(hits + 1)",
            (bucket, window_start),
        )
        return int(self._all("SELECT LAST_INSERT_ID()")[0][0])

    # --- idempotency --------------------------------------------------------------------------------

    def claim_idempotency(self, key_id: int, idem_key: str, body_hash: str, now: datetime) -> bool:
        """Take ``idem_key`` for a request about to run; False when the key already has a row."""
        try:
            self._run(
                "INSERT INTO qcb_api_idempotency (key_id, idem_key, body_hash, created_at) "
                "VALUES (%s, %s, %s, %s)",
                (key_id, idem_key, body_hash, now),
            )
        except MySQLdb.IntegrityError as exc:
            if exc.args and exc.args[0] == ER.DUP_ENTRY:
                return False
            raise
        return True

    def idempotency(self, key_id: int, idem_key: str) -> tuple[str, datetime, int | None, str | None] | None:
        """(body hash, created at, status, response) of a stored key, or None."""
        rows = self._all(
            "SELECT body_hash, created_at, status, response FROM qcb_api_idempotency "
            "WHERE key_id = %s AND idem_key = %s",
            (key_id, idem_key),
        )
        if not rows:
            return None
        body_hash, created, status, response = rows[0]
        return body_hash, created, None if status is None else int(status), response

    def finish_idempotency(self, key_id: int, idem_key: str, status: int, response: str) -> None:
        self._run(
            "UPDATE qcb_api_idempotency SET status = %s, response = %s WHERE key_id = %s AND idem_key = %s",
            (status, response, key_id, idem_key),
        )

    def drop_idempotency(self, key_id: int, idem_key: str, older_than: datetime | None = None) -> None:
        sql, args = "DELETE FROM qcb_api_idempotency WHERE key_id = %s AND idem_key = %s", (key_id, idem_key)
        if older_than is not None:
            sql, args = sql + " AND created_at < %s", (*args, older_than)
        self._run(sql, args)

    # --- requests made through the API --------------------------------------------------------------

    def note_request(self, request_id: int, key_name: str, name: str | None) -> None:
        self._run(
            "INSERT IGNORE INTO qcb_api_requests (request_id, key_name, name) VALUES (%s, %s, %s)",
            (request_id, key_name, name),
        )

    def request_origin(self, request_id: int) -> tuple[str, str | None] | None:
        rows = self._all("SELECT key_name, name FROM qcb_api_requests WHERE request_id = %s", (request_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    # --- housekeeping -------------------------------------------------------------------------------

    def purge(self, rates_before: int, idempotency_before: datetime) -> int:
        """Drop ended rate windows, expired idempotent answers and notes of purged requests."""
        n = self._run("DELETE FROM qcb_api_rates WHERE window_start < %s", (rates_before,)).rowcount
        n += self._run(
            "DELETE FROM qcb_api_idempotency WHERE created_at < %s", (idempotency_before,)
        ).rowcount
        n += self._run(
            "DELETE a FROM qcb_api_requests a LEFT JOIN qcb_requests r ON r.id = a.request_id "
            "WHERE r.id IS NULL"
        ).rowcount
        return int(n)
