"""What one ``GET /metrics`` scrape costs the database as the history grows: the two grouped queries
(requests by status and queue over ``ix_due``; ended attempts by outcome, a scan of qcb_attempts) and the
whole text rendered, on a real MariaDB filled with SIZES requests (20 queues, 2 % open) and 1.5 attempts
per request. Prints one table; asserts nothing. Environment: QCB_BENCH_SIZES (default 10000,100000,300000),
QCB_BENCH_RUNS (default 20).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freepbx_callback.metrics import Metrics, Sources, render  # noqa: E402
from freepbx_callback.service import CallbackService, utcnow  # noqa: E402
from freepbx_callback.store import Store  # noqa: E402
from tests.testbed.mariadb import ensure_server  # noqa: E402

SIZES = [int(n) for n in os.environ.get("QCB_BENCH_SIZES", "10000,100000,300000").split(",")]
RUNS = int(os.environ.get("QCB_BENCH_RUNS", "20"))


def fill(store: Store, start: int, stop: int) -> None:
    """Requests start+1..stop: 98 % closed (done, expired, failed, cancelled), the rest pending; ended
    attempts: one per request, a second for every other one."""
    store._run(
        "INSERT INTO qcb_requests "
        "(queue, number, status, requested_at, next_attempt_at, closed_at, attempts) "
        "SELECT 400 + seq %% 20, CONCAT('2015', LPAD(seq, 7, '0')), "
        "CASE seq %% 50 WHEN 0 THEN 'pending' WHEN 1 THEN 'expired' WHEN 2 THEN 'failed' "
        "WHEN 3 THEN 'cancelled' ELSE 'done' END, "
        "NOW(3), NOW(3), IF(seq %% 50 = 0, NULL, NOW(3)), 1 + seq %% 2 "
        f"FROM seq_{start + 1}_to_{stop}"
    )
    first = store._all("SELECT MIN(id) FROM qcb_requests WHERE number = %s", (f"2015{start + 1:07d}",))[0][0]
    store._run(
        "INSERT INTO qcb_attempts (request_id, attempt_no, node, started_at, ended_at, outcome) "
        "SELECT r.id, n.seq, 'bench', NOW(3), NOW(3), "
        "ELT(1 + (r.id + n.seq) %% 4, 'answered', 'no_answer', 'busy', 'answered') "
        "FROM qcb_requests r JOIN seq_1_to_2 n ON n.seq <= r.attempts WHERE r.id >= %s",
        (first,),
    )


def timed(call: object) -> float:
    assert callable(call)
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    server = ensure_server()
    dsn = server.create_database("qcb_bench_metrics")
    store = Store.connect(dsn)
    try:
        store.migrate(utcnow())
        service = CallbackService(store)
        sources = Sources(Metrics(), lambda: service, lambda svc, clean: None)
        rows = []
        filled = 0
        for size in SIZES:
            fill(store, filled, size)
            filled = size
            attempts = store._all("SELECT COUNT(*) FROM qcb_attempts")[0][0]
            rows.append(
                (
                    f"{size:,}",
                    f"{attempts:,}",
                    f"{timed(store.request_counts):.1f}",
                    f"{timed(store.attempt_counts):.1f}",
                    f"{timed(lambda: render(sources)):.1f}",
                )
            )
    finally:
        store.close()
        server.drop_database(dsn.database)
    headers = ("requests", "attempts", "requests by status, ms", "attempts by outcome, ms", "scrape, ms")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\nGET /metrics database cost (median of {RUNS})")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
