"""MariaDB through mysqlclient: migrations, the queue and request repository, atomic claims.

The store makes no decisions: it reads and writes what the service tells it to. Two guarantees live
in the database itself rather than in Python: at most one open request per (queue, number) (a unique key
over the number's E.164 form, or its digits when it has none, and a generated column that is NULL once a
request is closed) and a claim that no two dialers can both
win (``FOR UPDATE SKIP LOCKED`` plus a conditional UPDATE whose row count decides, which also holds on
Galera where row locks are not cluster-wide).
"""

from __future__ import annotations

from datetime import datetime

import MySQLdb
from MySQLdb.constants import ER

from .config import Dsn
from .models import Mode, QueueSettings, Request, Status
from .schema import ENSURE, LATEST, MIGRATIONS, REQUEST_COLUMNS, SCHEMA_TABLE
from .store_accept import AcceptStore
from .store_alerts import AlertsStore
from .store_conn import (  # the errors are the store's: importable from here
    LOST_RACE,
    Connection,
    DuplicateCall,
    DuplicateOpenRequest,
    LostRace,
    StoreError,
    StoreUnavailable,
)
from .store_dialing import DialingStore
from .store_metrics import MetricsStore
from .store_reports import ReportsStore

__all__ = [
    "LOST_RACE",
    "DuplicateCall",
    "DuplicateOpenRequest",
    "LostRace",
    "Store",
    "StoreError",
    "StoreUnavailable",
]

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from typing import Any

QUEUE_COLUMNS = (
    "queue, enabled, did, attempts, retry_interval, window_s, offer_every, notify_agents, mode, max_pending, "
    "language, region, allow_international, allow_premium, block_patterns, allow_patterns, min_talk, "
    "keep_place, prompts, allow_shared_cost, allow_satellite, allow_special, hours, timezone, timegroup, "
    "offer_times, announce_position"
)
QUEUE_FIELDS = [c.strip().replace("window_s", "window") for c in QUEUE_COLUMNS.split(",")]
# What a queue read selects: its settings, then its alert addresses and kinds (see AlertsStore.note_alerts)
_QUEUE_READ = QUEUE_COLUMNS + ", alert_to, alert_on"
BOOLEAN_QUEUE_FIELDS = (
    "enabled",
    "notify_agents",
    "allow_international",
    "allow_premium",
    "keep_place",
    "allow_shared_cost",
    "allow_satellite",
    "allow_special",
    "offer_times",
    "announce_position",
)


class Store(Connection, DialingStore, ReportsStore, MetricsStore, AlertsStore, AcceptStore):
    """The repository; the dialer's queries (claims, attempts, recovery, heartbeats) are in
    :class:`~freepbx_callback.store_dialing.DialingStore`."""

    def __init__(self, conn: MySQLdb.Connection, dsn: Dsn) -> None:
        super().__init__(conn, dsn)
        self._alert_kinds: dict[str, tuple[float, frozenset[str]]] = {}

    # --- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        if not self._all("SHOW TABLES LIKE 'qcb\\_schema'"):
            return 0
        row = self._all("SELECT COALESCE(MAX(version), 0) FROM qcb_schema")
        return int(row[0][0])

    def migrate(self, now: datetime) -> list[int]:
        """Apply missing migrations in order; safe to run concurrently and repeatedly."""
        got = self._all("SELECT GET_LOCK('qcb_migrate', 60)")
        if not got or got[0][0] != 1:
            raise StoreError("another migration holds the lock for more than 60 s")
        try:
            self._run(SCHEMA_TABLE)
            done = {int(v) for (v,) in self._all("SELECT version FROM qcb_schema")}
            applied = []
            for version, description, statements in sorted(MIGRATIONS, key=lambda m: m[0]):
                if version in done:
                    continue
                for statement in statements:
                    self._run(statement)
                if self._record_migration(version, description, now):
                    applied.append(version)
            for statement in ENSURE:
                self._run(statement)
            return applied
        finally:
            self._run("SELECT RELEASE_LOCK('qcb_migrate')")

    def _record_migration(self, version: int, description: str, now: datetime) -> bool:
        """Note a migration as applied; False when another install recorded it first. GET_LOCK is local to
        one Galera node, so installs on two nodes can run the same (idempotent) statements at once: the
        row is then written by one of them, and the other's insert is ignored or loses certification."""
        sql = "INSERT IGNORE INTO qcb_schema (version, description, applied_at) VALUES (%s, %s, %s)"
        try:
            return self._run(sql, (version, description, now)).rowcount == 1
        except LostRace:
            return False

    @staticmethod
    def latest_version() -> int:
        return LATEST

    def freepbx_settings(self, keys: tuple[str, ...]) -> dict[str, str]:
        if not self._all("SHOW TABLES LIKE 'freepbx\\_settings'"):
            return {}
        marks = ", ".join(["%s"] * len(keys))
        rows = self._all(f"SELECT keyword, value FROM freepbx_settings WHERE keyword IN ({marks})", keys)
        return {k: v for k, v in rows if v is not None}

    def flag_freepbx_reload(self) -> bool:
        """What FreePBX's needreload() does: raise the Apply Config bar. False on a database that is not
        FreePBX's (no ``admin`` table), where there is nothing to raise."""
        if not self._all("SHOW TABLES LIKE 'admin'"):
            return False
        self._run("UPDATE admin SET value = 'true' WHERE variable = 'need_reload'")
        return True

    # --- queues -------------------------------------------------------------------------------------

    def _queue(self, row: tuple[Any, ...]) -> QueueSettings:
        *settings, alert_to, alert_on = row
        data = dict(zip(QUEUE_FIELDS, settings, strict=True))
        self.note_alerts(data["queue"], alert_to, alert_on)
        for name in BOOLEAN_QUEUE_FIELDS:
            data[name] = bool(data[name])
        data["mode"] = Mode(data["mode"])
        data["block_patterns"] = tuple((data["block_patterns"] or "").split())
        data["allow_patterns"] = tuple((data["allow_patterns"] or "").split())
        pairs = (item.partition("=") for item in (data["prompts"] or "").split())
        data["prompts"] = tuple((name, recording) for name, _, recording in pairs)
        data["hours"] = tuple(r.strip() for r in (data["hours"] or "").split(";") if r.strip())
        return QueueSettings(**data)

    def get_queue(self, queue: str, lock: bool = False) -> QueueSettings | None:
        suffix = " FOR UPDATE" if lock else ""
        rows = self._all(f"SELECT {_QUEUE_READ} FROM qcb_queues WHERE queue = %s{suffix}", (queue,))
        return self._queue(rows[0]) if rows else None

    def bump_admissions(self, queue: str) -> None:
        """Write the queue's row (admit_seq + 1): requests of one queue that must see each other's inserts
        (the open-request limit) then conflict on it, also across Galera nodes."""
        self._run("UPDATE qcb_queues SET admit_seq = admit_seq + 1 WHERE queue = %s", (queue,))

    def delete_queue(self, queue: str) -> bool:
        return self._run("DELETE FROM qcb_queues WHERE queue = %s", (queue,)).rowcount == 1

    def list_queues(self) -> list[QueueSettings]:
        return [self._queue(r) for r in self._all(f"SELECT {_QUEUE_READ} FROM qcb_queues ORDER BY queue")]

    def save_queue(self, s: QueueSettings, now: datetime) -> None:
        encoded = {
            "mode": s.mode.value,
            "block_patterns": " ".join(s.block_patterns),
            "allow_patterns": " ".join(s.allow_patterns),
            "prompts": " ".join(f"{name}={recording}" for name, recording in s.prompts),
            "hours": "; ".join(s.hours) or None,
        }
        values = [encoded.get(name, getattr(s, name)) for name in QUEUE_FIELDS] + [now]
        columns = QUEUE_COLUMNS + ", updated_at"
        updates = ", ".join(f"{c.strip()} = VALUES({c.strip()})" for c in columns.split(",")[1:])
        marks = ", ".join(["%s"] * len(values))
        sql = f"INSERT INTO qcb_queues ({columns}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}"
        self._run(sql, values)

    def time_group(self, group: int) -> list[str] | None:
        """The time lines of a FreePBX Time Group (timeconditions module), or None when there is no such
        group (or no such module)."""
        if not self._all("SHOW TABLES LIKE 'timegroups\\_details'"):
            return None
        rows = self._all("SELECT 1 FROM timegroups_groups WHERE id = %s", (group,))
        if not rows:
            return None
        sql = "SELECT time FROM timegroups_details WHERE timegroupid = %s ORDER BY id"
        return [str(t) for (t,) in self._all(sql, (group,))]

    def time_groups(self) -> list[tuple[int, str]]:
        """FreePBX's Time Groups (id, description); none without the timeconditions module."""
        if not self._all("SHOW TABLES LIKE 'timegroups\\_groups'"):
            return []
        rows = self._all("SELECT id, description FROM timegroups_groups ORDER BY description, id")
        return [(int(i), str(d)) for i, d in rows]

    # --- requests -----------------------------------------------------------------------------------

    @staticmethod
    def _request(row: tuple[Any, ...]) -> Request:
        values = list(row)
        values[3] = Status(values[3])
        return Request(*values)

    def get_request(self, request_id: int, lock: bool = False) -> Request | None:
        suffix = " FOR UPDATE" if lock else ""
        rows = self._all(f"SELECT {REQUEST_COLUMNS} FROM qcb_requests WHERE id = %s{suffix}", (request_id,))
        return self._request(rows[0]) if rows else None

    def find_open(self, queue: str, number_key: str) -> Request | None:
        """The open request for one number: ``number_key`` is its E.164 form, or its digits without one."""
        rows = self._all(
            f"SELECT {REQUEST_COLUMNS} FROM qcb_requests "
            "WHERE queue = %s AND number_key = %s AND open_flag = 1",
            (queue, number_key),
        )
        return self._request(rows[0]) if rows else None

    def open_requests(self) -> list[Request]:
        sql = f"SELECT {REQUEST_COLUMNS} FROM qcb_requests WHERE status IN ('pending', 'dialing') ORDER BY id"
        return [self._request(r) for r in self._all(sql)]

    def find_requested(self, queue: str, number: str, second: datetime) -> Request | None:
        """A request (any status) for ``number`` in ``queue`` made within the whole second ``second``."""
        sql = (
            f"SELECT {REQUEST_COLUMNS} FROM qcb_requests WHERE queue = %s AND number = %s "
            "AND requested_at >= %s AND requested_at < %s + INTERVAL 1 SECOND ORDER BY id LIMIT 1"
        )
        rows = self._all(sql, (queue, number, second, second))
        return self._request(rows[0]) if rows else None

    def find_by_call(self, uniqueid: str, queue: str, number: str) -> Request | None:
        """The request stored from one caller's call (a uniqueid is unique per Asterisk server only)."""
        sql = (
            f"SELECT {REQUEST_COLUMNS} FROM qcb_requests "
            "WHERE caller_uniqueid = %s AND queue = %s AND number = %s"
        )
        rows = self._all(sql, (uniqueid, queue, number))
        return self._request(rows[0]) if rows else None

    def open_ids(self, queue: str) -> list[int]:
        sql = "SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing') AND queue = %s ORDER BY id"
        return [int(i) for (i,) in self._all(sql, (queue,))]

    def count_open(self, queue: str) -> int:
        sql = "SELECT COUNT(*) FROM qcb_requests WHERE status IN ('pending', 'dialing') AND queue = %s"
        return int(self._all(sql, (queue,))[0][0])

    def list_requests(
        self, status: Status | None = None, queue: str | None = None, limit: int = 1000
    ) -> list[Request]:
        where, args = [], []
        if status is not None:
            where.append("status = %s")
            args.append(status.value)
        if queue is not None:
            where.append("queue = %s")
            args.append(queue)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        sql = f"SELECT {REQUEST_COLUMNS} FROM qcb_requests {clause} ORDER BY id DESC LIMIT %s"
        return [self._request(r) for r in self._all(sql, (*args, limit))]

    def insert_request(self, fields: dict[str, Any]) -> int:
        """Insert a pending request; DuplicateOpenRequest (its ``number`` is the number key) if one is open
        for the same queue and number; DuplicateCall if this call already stored this number."""
        columns = ", ".join(fields)
        marks = ", ".join(["%s"] * len(fields))
        try:
            cur = self._run(f"INSERT INTO qcb_requests ({columns}) VALUES ({marks})", tuple(fields.values()))
        except MySQLdb.IntegrityError as exc:
            if exc.args and exc.args[0] == ER.DUP_ENTRY:
                if "uq_caller_call" in str(exc.args[1]):
                    raise DuplicateCall(
                        f"call {fields.get('caller_uniqueid')} already has a request"
                    ) from None
                key = fields.get("e164") or fields["number"]
                raise DuplicateOpenRequest(fields["queue"], key) from None
            raise
        return int(cur.lastrowid)

    def update_request(self, request_id: int, expect: Status | None, **changes: Any) -> bool:
        """Conditional update: applies only while the row still has status ``expect``; True if it did."""
        sets = ", ".join(f"{key} = %s" for key in changes)
        values = [v.value if isinstance(v, Status) else v for v in changes.values()]
        sql = f"UPDATE qcb_requests SET {sets} WHERE id = %s"
        args = [*values, request_id]
        if expect is not None:
            sql += " AND status = %s"
            args.append(expect.value)
        try:
            return self._run(sql, args).rowcount == 1
        except MySQLdb.IntegrityError as exc:
            if exc.args and exc.args[0] == ER.DUP_ENTRY:
                request = self.get_request(request_id)
                raise DuplicateOpenRequest(
                    request.queue if request else "?", request.number if request else "?"
                ) from None
            raise

    def add_event(self, request_id: int, at: datetime, event: str, detail: str = "") -> None:
        self._run(
            "INSERT INTO qcb_events (request_id, at, event, detail) VALUES (%s, %s, %s, %s)",
            (request_id, at, event, detail[:255]),
        )

    def events(self, request_id: int) -> list[tuple[datetime, str, str]]:
        sql = "SELECT at, event, detail FROM qcb_events WHERE request_id = %s ORDER BY id"
        return [(a, e, d) for a, e, d in self._all(sql, (request_id,))]

    def purge_closed(self, before: datetime) -> int:
        sql = "DELETE FROM qcb_requests WHERE open_flag IS NULL AND closed_at IS NOT NULL AND closed_at < %s"
        return int(self._run(sql, (before,)).rowcount)

    def status_counts(self, since: datetime | None) -> dict[str, int]:
        clause, args = ("WHERE requested_at >= %s", (since,)) if since else ("", ())
        rows = self._all(f"SELECT status, COUNT(*) FROM qcb_requests {clause} GROUP BY status", args)
        return {status: int(count) for status, count in rows}

    def seconds_to_callback(self, since: datetime | None) -> list[float]:
        """For done requests: seconds from the request to the start of the answered attempt."""
        clause, args = ("AND r.requested_at >= %s", (since,)) if since else ("", ())
        rows = self._all(
            "SELECT TIMESTAMPDIFF(MICROSECOND, r.requested_at, a.started_at) / 1e6 FROM qcb_requests r "
            "JOIN qcb_attempts a ON a.request_id = r.id AND a.outcome = 'answered' "
            f"WHERE r.status = 'done' {clause}",
            args,
        )
        return [float(v) for (v,) in rows]
