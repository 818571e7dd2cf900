"""The store's alert side: each queue's addresses and kinds (columns of ``qcb_queues``), and the outbox
``qcb_alerts``.

Mixed into :class:`freepbx_callback.store.Store`, which provides ``_run`` and ``_all``. An outbox row is
``pending`` (waiting, or waiting for its next try), ``sending`` (claimed by one sender until
``lease_until``), ``sent``, or ``failed`` (given up). Senders claim a row with a conditional UPDATE, so
two senders (two ``serve`` nodes, a cron ``dial``) never send one alert twice.
"""

from __future__ import annotations

import time
from datetime import datetime

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path loads the store
if TYPE_CHECKING:
    from typing import Any

    import MySQLdb

    from .alerts import Alert

# How long the alert kinds seen with a queue's settings are trusted to skip the outbox statement: about
# one call's length, so a change made by another process (the CLI, the module page) applies within it.
ALERT_KINDS_TRUSTED_S = 2.0

_ALERT_COLUMNS = (
    "id, request_id, kind, queue, number, recipients, timezone, requested_at, event_at, attempts, "
    "last_outcome, tries"
)


class AlertsStore:
    _alert_kinds: dict[str, tuple[float, frozenset[str]]]  # queue -> (when read, kinds that alert)

    if TYPE_CHECKING:

        def _run(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> MySQLdb.cursors.Cursor: ...

        def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]: ...

    # --- per-queue settings ------------------------------------------------------------------------

    def get_alerts(self, queue: str) -> tuple[str | None, str] | None:
        """(alert_to, alert_on) as stored, or None for a queue without settings."""
        rows = self._all("SELECT alert_to, alert_on FROM qcb_queues WHERE queue = %s", (queue,))
        return (rows[0][0], rows[0][1] or "") if rows else None

    def all_alerts(self) -> dict[str, tuple[str | None, str]]:
        rows = self._all("SELECT queue, alert_to, alert_on FROM qcb_queues")
        return {q: (to, on or "") for q, to, on in rows}

    def note_alerts(self, queue: str, alert_to: str | None, alert_on: str | None) -> None:
        """Remember the alert kinds read with a queue's settings (none without addresses)."""
        kinds = frozenset((alert_on or "").split(",")) if alert_to else frozenset()
        self._alert_kinds[queue] = (time.monotonic(), kinds)

    def set_alerts(self, queue: str, alert_to: str | None, alert_on: str) -> bool:
        self._alert_kinds.pop(queue, None)
        sql = "UPDATE qcb_queues SET alert_to = %s, alert_on = %s WHERE queue = %s"
        self._run(sql, (alert_to, alert_on, queue))
        return bool(self._all("SELECT 1 FROM qcb_queues WHERE queue = %s", (queue,)))

    # --- the outbox --------------------------------------------------------------------------------

    def add_alert(self, request_id: int, kind: str, at: datetime, queue: str | None = None) -> int:
        """Put an alert of ``kind`` about the request in the outbox if its queue has addresses and that
        kind on (one statement; 0 or 1 rows). Run it inside the transaction of the change it reports.
        With the request's ``queue``, settings of that queue read by this connection within
        ALERT_KINDS_TRUSTED_S that alert on no such kind skip the statement (a stored request's path)."""
        seen = self._alert_kinds.get(queue) if queue is not None else None
        if seen is not None and time.monotonic() - seen[0] < ALERT_KINDS_TRUSTED_S and kind not in seen[1]:
            return 0
        return int(
            self._run(
                "INSERT INTO qcb_alerts (request_id, kind, queue, number, recipients, timezone, "
                "requested_at, event_at, attempts, last_outcome, next_try_at) "
                "SELECT r.id, %s, r.queue, r.number, q.alert_to, q.timezone, r.requested_at, %s, r.attempts, "
                "r.last_outcome, %s FROM qcb_requests r JOIN qcb_queues q ON q.queue = r.queue "
                "WHERE r.id = %s AND q.alert_to <> '' AND FIND_IN_SET(%s, q.alert_on)",
                (kind, at, at, request_id, kind),
            ).rowcount
        )

    def alerts_due(self, now: datetime, limit: int = 50) -> list[int]:
        """Ids of alerts to try now: waiting and due, or claimed by a sender whose lease ran out."""
        rows = self._all(
            "SELECT id FROM qcb_alerts WHERE (status = 'pending' AND next_try_at <= %s) "
            "OR (status = 'sending' AND lease_until < %s) ORDER BY id LIMIT %s",
            (now, now, limit),
        )
        return [int(r[0]) for r in rows]

    def claim_alert(self, alert_id: int, node: str, now: datetime, lease_until: datetime) -> Alert | None:
        """Take one alert for sending: the Alert for exactly one sender, None for every other."""
        claimed = self._run(
            "UPDATE qcb_alerts SET status = 'sending', claimed_by = %s, lease_until = %s, tries = tries + 1 "
            "WHERE id = %s AND ((status = 'pending' AND next_try_at <= %s) "
            "OR (status = 'sending' AND lease_until < %s))",
            (node, lease_until, alert_id, now, now),
        ).rowcount
        if claimed != 1:
            return None
        from .alerts import Alert, decode

        row = self._all(f"SELECT {_ALERT_COLUMNS} FROM qcb_alerts WHERE id = %s", (alert_id,))[0]
        return Alert(*row[:5], decode(row[5]), *row[6:11], tries=int(row[11]))  # type: ignore[arg-type]

    def alert_sent(self, alert_id: int, node: str, now: datetime) -> None:
        self._run(
            "UPDATE qcb_alerts SET status = 'sent', sent_at = %s, lease_until = NULL, last_error = NULL "
            "WHERE id = %s AND claimed_by = %s AND status = 'sending'",
            (now, alert_id, node),
        )

    def alert_not_sent(self, alert_id: int, node: str, error: str, retry_at: datetime | None) -> None:
        """A failed try: due again at ``retry_at``, or given up (``failed``) when it is None."""
        self._run(
            "UPDATE qcb_alerts SET status = %s, next_try_at = COALESCE(%s, next_try_at), lease_until = NULL, "
            "last_error = %s WHERE id = %s AND claimed_by = %s AND status = 'sending'",
            ("pending" if retry_at else "failed", retry_at, error[:255], alert_id, node),
        )

    def purge_alerts(self, before: datetime) -> int:
        sql = "DELETE FROM qcb_alerts WHERE status IN ('sent', 'failed') AND event_at < %s"
        return int(self._run(sql, (before,)).rowcount)

    def alert_rows(self, request_id: int | None = None) -> list[dict[str, Any]]:
        clause, args = ("WHERE request_id = %s", (request_id,)) if request_id is not None else ("", ())
        cur = self._run(
            "SELECT id, request_id, kind, queue, number, recipients, status, tries, next_try_at, sent_at, "
            f"last_error FROM qcb_alerts {clause} ORDER BY id",
            args,
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def alert_counts(self) -> dict[str, int]:
        return {s: int(n) for s, n in self._all("SELECT status, COUNT(*) FROM qcb_alerts GROUP BY status")}

    def last_alert_error(self, status: str) -> str | None:
        rows = self._all(
            "SELECT last_error FROM qcb_alerts WHERE status = %s ORDER BY id DESC LIMIT 1", (status,)
        )
        return rows[0][0] if rows else None
