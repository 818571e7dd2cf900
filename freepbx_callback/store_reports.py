"""The store's reporting side: the events not yet written to Asterisk's queue_log, and the rows the
per queue and day figures are computed from.

Mixed into :class:`freepbx_callback.store.Store`, which provides ``_run`` and ``_all``. Each event row
carries ``queue_log``: 0 while it waits for the queue_log writer, 1 once a writer took it (rows that
were there before the column came are 1: history is not written again).
"""

from __future__ import annotations

from datetime import date, datetime

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path loads the store
if TYPE_CHECKING:
    from typing import Any

    import MySQLdb

    from .reports import EventRow, RequestFigure


class ReportsStore:
    if TYPE_CHECKING:

        def _run(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> MySQLdb.cursors.Cursor: ...

        def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]: ...

    def queue_log_pending(self, limit: int = 200) -> list[EventRow]:
        """The oldest events no writer took yet, with their request and its attempts."""
        from .reports import EventRow, LoggedAttempt

        rows = self._all(
            "SELECT e.id, e.request_id, e.event, e.detail, r.queue, r.number, r.caller_uniqueid, "
            "r.position, r.waited, r.source, r.attempts, r.last_outcome, r.requested_at "
            "FROM qcb_events e JOIN qcb_requests r ON r.id = e.request_id "
            "WHERE e.queue_log = 0 ORDER BY e.id LIMIT %s",
            (limit,),
        )
        attempts: dict[int, list[LoggedAttempt]] = {}
        ids = sorted({int(row[1]) for row in rows})
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            for request_id, *fields in self._all(
                "SELECT request_id, attempt_no, agent, ended_at, talk_seconds, originate FROM qcb_attempts "
                f"WHERE request_id IN ({marks}) ORDER BY request_id, attempt_no",
                ids,
            ):
                attempts.setdefault(int(request_id), []).append(LoggedAttempt(*fields))
        return [
            EventRow(*row[:12], requested_at=row[12], attempt_list=tuple(attempts.get(int(row[1]), ())))
            for row in rows
        ]

    def take_for_queue_log(self, event_id: int) -> bool:
        """Take one event for the queue_log: True for exactly one writer, whatever runs concurrently."""
        sql = "UPDATE qcb_events SET queue_log = 1 WHERE id = %s AND queue_log = 0"
        return self._run(sql, (event_id,)).rowcount == 1

    def give_back_to_queue_log(self, event_id: int) -> None:
        """An event taken but not sent (AMI went away first): the next writer sends it."""
        self._run("UPDATE qcb_events SET queue_log = 0 WHERE id = %s", (event_id,))

    def request_figures(self, since: datetime | None) -> list[RequestFigure]:
        """Each request made since ``since``: queue, UTC day, status, and for a done request the seconds
        from the request to the customer connected (the answered attempt's end less its talk time)."""
        from .reports import RequestFigure

        clause, args = ("WHERE r.requested_at >= %s", (since,)) if since else ("", ())
        rows = self._all(
            "SELECT r.queue, DATE(r.requested_at), r.status, "
            "(SELECT TIMESTAMPDIFF(MICROSECOND, r.requested_at, "
            "  a.ended_at - INTERVAL COALESCE(a.talk_seconds, 0) SECOND) / 1e6 "
            " FROM qcb_attempts a WHERE a.request_id = r.id AND a.outcome = 'answered' "
            " AND a.ended_at IS NOT NULL ORDER BY a.attempt_no DESC LIMIT 1) "
            f"FROM qcb_requests r {clause}",
            args,
        )
        return [
            RequestFigure(
                str(queue),
                day if isinstance(day, date) else date.fromisoformat(str(day)),
                str(status),
                None if wait is None else max(0.0, float(wait)),
            )
            for queue, day, status, wait in rows
        ]
