"""The service's reporting side: the per queue and day figures, and the events waiting for Asterisk's
queue_log. Mixed into :class:`freepbx_callback.service.CallbackService` (``store`` and ``clock`` come
from there); the pure parts are in :mod:`freepbx_callback.reports`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path loads the service
if TYPE_CHECKING:
    from collections.abc import Callable

    from .reports import DayStats, EventRow
    from .store import Store


class ReportsService:
    if TYPE_CHECKING:
        store: Store
        clock: Callable[[], datetime]

    def daily_stats(self, since: int | None = None) -> list[DayStats]:
        """Per queue and (UTC) day of the request: accepted, answered, failed, expired, the median and
        90th percentile time from the request to the customer connected; ``since`` in seconds."""
        from .reports import by_queue_and_day

        start = self.clock() - timedelta(seconds=since) if since else None
        return by_queue_and_day(self.store.request_figures(start))

    def queue_log_pending(self, limit: int = 200) -> list[EventRow]:
        """The oldest events no queue_log writer has taken yet."""
        return self.store.queue_log_pending(limit)

    def take_for_queue_log(self, event_id: int) -> bool:
        """Take one event for the queue_log; True for exactly one writer (it then writes the line)."""
        return self.store.take_for_queue_log(event_id)

    def give_back_to_queue_log(self, event_id: int) -> None:
        """An event taken but never sent: another writer (or the next tick) sends it."""
        self.store.give_back_to_queue_log(event_id)
