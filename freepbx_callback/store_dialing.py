"""The store's dialer side: claims, attempts, recovery evidence, expiry and heartbeats.

Mixed into :class:`freepbx_callback.store.Store` (one store, two files), which provides the connection
plumbing (``_run``, ``_all``, ``transaction``) and the row readers. Like the rest of the store it makes
no decisions.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from .models import Attempt, Heartbeat, Request
from .schema import REQUEST_COLUMNS

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from typing import Any

    import MySQLdb


class DialingStore:
    if TYPE_CHECKING:

        def _run(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> MySQLdb.cursors.Cursor: ...

        def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]: ...

        @staticmethod
        def _request(row: tuple[Any, ...]) -> Request: ...

    def pick_due(
        self, queue: str, now: datetime, limit: int, placed_before: datetime | None = None
    ) -> list[int]:
        """Lock up to ``limit`` due pending requests, oldest first, skipping rows another claimer holds.

        Uses the ``ix_due`` index, so the cost follows the pending rows of the queue, not the history.
        Call inside :meth:`transaction`.
        """
        place, args = "", [queue, now]
        if placed_before is not None:  # keep place in line: only callers who joined before the live ones
            place = "AND requested_at - INTERVAL COALESCE(waited, 0) SECOND <= %s "
            args.append(placed_before)
        sql = (
            "SELECT id FROM qcb_requests FORCE INDEX (ix_due) WHERE status = 'pending' AND queue = %s "
            f"AND next_attempt_at <= %s {place}ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED"
        )
        return [int(i) for (i,) in self._all(sql, (*args, limit))]

    def insert_attempt(self, attempt: Attempt) -> None:
        self._run(
            "INSERT INTO qcb_attempts (request_id, attempt_no, node, started_at, channel_id) "
            "VALUES (%s, %s, %s, %s, %s)",
            (attempt.request_id, attempt.attempt_no, attempt.node, attempt.started_at, attempt.channel_id),
        )

    def finish_attempt(self, attempt: Attempt) -> bool:
        """Close an open attempt row; False when it was closed already (a repeated report)."""
        cur = self._run(
            "UPDATE qcb_attempts SET ended_at = %s, outcome = %s, talk_seconds = %s, "
            "agent = COALESCE(%s, agent), counted = %s "
            "WHERE request_id = %s AND attempt_no = %s AND ended_at IS NULL",
            (
                attempt.ended_at,
                attempt.outcome,
                attempt.talk_seconds,
                attempt.agent,
                int(attempt.counted),
                attempt.request_id,
                attempt.attempt_no,
            ),
        )
        return cur.rowcount == 1

    def replace_unknown(self, request_id: int, attempt_no: int, outcome: str, counted: bool) -> bool:
        """Put the real outcome on an attempt recovery had closed as unknown; False if it was not."""
        cur = self._run(
            "UPDATE qcb_attempts SET outcome = %s, counted = %s WHERE request_id = %s AND attempt_no = %s "
            "AND outcome = 'unknown'",
            (outcome, int(counted), request_id, attempt_no),
        )
        return cur.rowcount == 1

    def finish_attempt_late(self, request_id: int, attempt_no: int, talk: int, agent: str | None) -> None:
        self._run(
            "UPDATE qcb_attempts SET talk_seconds = %s, agent = COALESCE(%s, agent) "
            "WHERE request_id = %s AND attempt_no = %s",
            (talk, agent, request_id, attempt_no),
        )

    def set_attempt_agent(self, request_id: int, attempt_no: int, agent: str) -> None:
        self._run(
            "UPDATE qcb_attempts SET agent = %s WHERE request_id = %s AND attempt_no = %s",
            (agent, request_id, attempt_no),
        )

    def attempts(self, request_id: int) -> list[Attempt]:
        rows = self._all(
            "SELECT request_id, attempt_no, started_at, node, ended_at, outcome, agent, talk_seconds, "
            "channel_id, counted FROM qcb_attempts WHERE request_id = %s ORDER BY attempt_no",
            (request_id,),
        )
        return [Attempt(*row[:-1], counted=bool(row[-1])) for row in rows]

    def dialing(self, queue: str | None = None) -> list[Request]:
        """Requests being dialled (few: at most one per busy agent), optionally of one queue."""
        clause, args = ("AND queue = %s", (queue,)) if queue else ("", ())
        sql = f"SELECT {REQUEST_COLUMNS} FROM qcb_requests WHERE status = 'dialing' {clause}"
        return [self._request(r) for r in self._all(sql, args)]

    def has_due(self, queue: str, now: datetime) -> bool:
        sql = (
            "SELECT 1 FROM qcb_requests FORCE INDEX (ix_due) WHERE status = 'pending' AND queue = %s "
            "AND next_attempt_at <= %s LIMIT 1"
        )
        return bool(self._all(sql, (queue, now)))

    def bump_claim_seq(self, queue: str) -> None:
        """Write the queue's row first thing in a claim: claimers of one queue then serialise on its row
        lock on one server, and on Galera (where row locks are node-local) two claims committed on
        different nodes conflict at certification, so one of them fails (LostRace) instead of both
        counting the same free agents."""
        self._run("UPDATE qcb_queues SET claim_seq = claim_seq + 1 WHERE queue = %s", (queue,))

    def in_flight(self, queue: str, waiting: Collection[str], since: datetime) -> int:
        """Open attempts of ``queue`` that may still need a free agent: claimed at or after ``since``
        (perhaps not in the queue yet, on any node) or whose channel id is in ``waiting`` (seen waiting
        in the queue). Call inside the claim's transaction, after :meth:`bump_claim_seq`."""
        ids = sorted(set(waiting))
        clause = f" OR a.channel_id IN ({', '.join(['%s'] * len(ids))})" if ids else ""
        sql = (
            "SELECT COUNT(*) FROM qcb_requests r FORCE INDEX (ix_due) JOIN qcb_attempts a "
            "ON a.request_id = r.id AND a.attempt_no = r.tries WHERE r.status = 'dialing' AND r.queue = %s "
            f"AND a.ended_at IS NULL AND (a.started_at >= %s{clause})"
        )
        return int(self._all(sql, (queue, since, *ids))[0][0])

    def set_originate(self, request_id: int, attempt_no: int, state: str) -> None:
        """What became of the attempt's Originate: sent (written to AMI), refused (Response: Error) or
        failed (OriginateResponse Failure of an agent-first call)."""
        self._run(
            "UPDATE qcb_attempts SET originate = %s WHERE request_id = %s AND attempt_no = %s",
            (state, request_id, attempt_no),
        )

    def originate_failed(self, request_id: int, attempt_no: int, channel_id: str) -> None:
        self._run(
            "UPDATE qcb_attempts SET originate = 'failed' WHERE request_id = %s AND attempt_no = %s "
            "AND channel_id = %s AND originate = 'sent' AND ended_at IS NULL",
            (request_id, attempt_no, channel_id),
        )

    def originate_state(self, request_id: int, attempt_no: int) -> str | None:
        rows = self._all(
            "SELECT originate FROM qcb_attempts WHERE request_id = %s AND attempt_no = %s",
            (request_id, attempt_no),
        )
        return rows[0][0] if rows else None

    def node_alive(self, node: str, lease: int) -> bool:
        """Whether a dialer of ``node`` is running: a heartbeat not marked stopped and not older than ten
        of its ticks (at least two leases). A node that never beat counts as dead."""
        rows = self._all(
            "SELECT COUNT(*) FROM qcb_nodes WHERE node = %s AND stopped_at IS NULL "
            "AND last_tick_at >= UTC_TIMESTAMP(3) - INTERVAL GREATEST(tick_ms * 10, %s * 2000) * 1000 "
            "MICROSECOND",
            (node[:64], lease),
        )
        return int(rows[0][0]) > 0

    def cancelled_open_attempts(self, since: datetime) -> list[Attempt]:
        """The open last attempt of each request cancelled since ``since`` (a call maybe still up)."""
        rows = self._all(
            "SELECT a.request_id, a.attempt_no, a.started_at, a.node, a.ended_at, a.outcome, a.agent, "
            "a.talk_seconds, a.channel_id, a.counted FROM qcb_requests r FORCE INDEX (ix_closed) "
            "JOIN qcb_attempts a ON a.request_id = r.id AND a.attempt_no = r.tries "
            "WHERE r.closed_at >= %s AND r.status = 'cancelled' AND a.ended_at IS NULL",
            (since,),
        )
        return [Attempt(*row[:-1], counted=bool(row[-1])) for row in rows]

    def recent_claims(self, queue: str, since: datetime) -> int:
        sql = (
            "SELECT COUNT(*) FROM qcb_requests r JOIN qcb_attempts a ON a.request_id = r.id "
            "AND a.attempt_no = r.tries WHERE r.status = 'dialing' AND r.queue = %s AND a.started_at >= %s"
        )
        return int(self._all(sql, (queue, since))[0][0])

    def next_due(self) -> datetime | None:
        """When the earliest pending request becomes due (for the daemon's sleep)."""
        rows = self._all("SELECT MIN(next_attempt_at) FROM qcb_requests WHERE status = 'pending'")
        return rows[0][0] if rows else None

    def pending_past(self, queue: str, now: datetime) -> list[int]:
        """Pending requests of ``queue`` whose deadline (``expires_at``) is before ``now``."""
        sql = (
            "SELECT id FROM qcb_requests FORCE INDEX (ix_expiry) WHERE status = 'pending' AND queue = %s "
            "AND expires_at < %s"
        )
        return [int(i) for (i,) in self._all(sql, (queue, now))]

    # --- dialer heartbeats (times from the database's clock, so nodes' clocks need not agree) -------

    def save_heartbeat(self, beat: Heartbeat) -> None:
        self._run(
            "INSERT INTO qcb_nodes (node, kind, pid, version, started_at, last_tick_at, tick_ms, ami_ok, "
            "ami_error, stopped_at) VALUES (%s, %s, %s, %s, %s, UTC_TIMESTAMP(3), %s, %s, %s, NULL) "
            "ON DUPLICATE KEY UPDATE pid = VALUES(pid), version = VALUES(version), "
            "started_at = VALUES(started_at), last_tick_at = VALUES(last_tick_at), "
            "tick_ms = VALUES(tick_ms), ami_ok = VALUES(ami_ok), ami_error = VALUES(ami_error), "
            "stopped_at = NULL",
            (
                beat.node[:64],
                beat.kind[:8],
                beat.pid,
                beat.version[:32],
                beat.started_at,
                max(1, round(beat.tick_seconds * 1000)),
                None if beat.ami_ok is None else int(beat.ami_ok),
                beat.ami_error[:255] if beat.ami_error else None,
            ),
        )

    def mark_stopped(self, node: str, kind: str, pid: int) -> None:
        self._run(
            "UPDATE qcb_nodes SET stopped_at = UTC_TIMESTAMP(3) WHERE node = %s AND kind = %s AND pid = %s",
            (node[:64], kind[:8], pid),
        )

    def nodes(self) -> list[dict[str, Any]]:
        """Every heartbeat row, newest first, with ``age_s`` (seconds since its last tick) and
        ``tick_seconds``."""
        rows = self._all(
            "SELECT node, kind, pid, version, started_at, last_tick_at, tick_ms / 1000, ami_ok, ami_error, "
            "stopped_at, TIMESTAMPDIFF(MICROSECOND, last_tick_at, UTC_TIMESTAMP(3)) / 1e6 FROM qcb_nodes "
            "ORDER BY last_tick_at DESC"
        )
        names = ("node", "kind", "pid", "version", "started_at", "last_tick_at", "tick_seconds", "ami_ok")
        names += ("ami_error", "stopped_at", "age_s")
        return [dict(zip(names, row, strict=True)) for row in rows]
