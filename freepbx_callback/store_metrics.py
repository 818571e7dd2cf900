"""The store's side of ``GET /metrics``: the two grouped counts read at each scrape.

Mixed into :class:`freepbx_callback.store.Store`, which provides ``_all``. Requests are grouped on
``ix_due`` (status, queue, ...), an index-only scan; attempts are the ended ones by outcome (one under
way has none yet; one that ended without an outcome counts as ``unknown``), a scan of qcb_attempts
(bench/metrics_scrape.py measures both as the history grows).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path loads the store
if TYPE_CHECKING:
    from typing import Any


class MetricsStore:
    if TYPE_CHECKING:

        def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]: ...

    def request_counts(self) -> list[tuple[str, str, int]]:
        """(status, queue, requests), sorted."""
        rows = self._all(
            "SELECT status, queue, COUNT(*) FROM qcb_requests FORCE INDEX (ix_due) "
            "GROUP BY status, queue ORDER BY status, queue"
        )
        return [(str(status), str(queue), int(n)) for status, queue, n in rows]

    def attempt_counts(self) -> list[tuple[str, int]]:
        """(outcome, ended attempts), sorted."""
        rows = self._all(
            "SELECT COALESCE(outcome, 'unknown'), COUNT(*) FROM qcb_attempts WHERE ended_at IS NOT NULL "
            "GROUP BY 1 ORDER BY 1"
        )
        return [(str(outcome), int(n)) for outcome, n in rows]
