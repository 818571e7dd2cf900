"""The two grouped counts ``GET /metrics`` reads at each scrape.

Requests: grouped on ``ix_due`` (status, queue, ...), an index-only scan. Attempts: the ended ones by
outcome (an attempt under way has none yet; one that ended without an outcome counts as ``unknown``).
"""

from __future__ import annotations

from typing import Any


def request_counts(store: Any) -> list[tuple[str, str, int]]:
    """(status, queue, requests), sorted."""
    rows = store._all(
        "SELECT status, queue, COUNT(*) FROM qcb_requests FORCE INDEX (ix_due) "
        "GROUP BY status, queue ORDER BY status, queue"
    )
    return [(str(status), str(queue), int(n)) for status, queue, n in rows]


def attempt_counts(store: Any) -> list[tuple[str, int]]:
    """(outcome, ended attempts), sorted."""
    rows = store._all(
        "SELECT COALESCE(outcome, 'unknown'), COUNT(*) FROM qcb_attempts WHERE ended_at IS NOT NULL "
        "GROUP BY 1 ORDER BY 1"
    )
    return [(str(outcome), int(n)) for outcome, n in rows]
