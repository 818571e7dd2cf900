"""Per queue and day figures on a real MariaDB, from rows whose figures are known."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store

T = datetime(2026, 11, 30, 10, 0, 0)


def add(
    store: Store,
    queue: str,
    number: str,
    status: str,
    at: datetime,
    attempts: list[tuple[str, datetime, int]] = (),  # type: ignore[assignment]
) -> int:
    """A request and its attempts: (outcome, ended_at, talk seconds)."""
    cur = store._run(
        "INSERT INTO qcb_requests (queue, number, status, requested_at, next_attempt_at, attempts, tries) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (queue, number, status, at, at, len(attempts), len(attempts)),
    )
    request_id = int(cur.lastrowid)
    for no, (outcome, ended, talk) in enumerate(attempts, 1):
        store._run(
            "INSERT INTO qcb_attempts (request_id, attempt_no, started_at, ended_at, outcome, talk_seconds) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (request_id, no, ended - timedelta(seconds=talk + 20), ended, outcome, talk),
        )
    return request_id


def known_rows(store: Store) -> None:
    """Queue 400 on 2026-11-30: 6 accepted, 3 answered after 60, 500 and 180 s, 1 failed, 1 expired, 1
    still open (its answer was too short: no callback yet); on 2026-12-01: one answered after 30 s and one
    cancelled. Queue 401 on 2026-11-30: one expired."""
    s = timedelta(seconds=1)
    add(store, "400", "2015550001", "done", T, [("answered", T + 120 * s, 60)])
    h11 = T + timedelta(hours=1)
    add(
        store,
        "400",
        "2015550002",
        "done",
        h11,
        [("no_answer", h11 + 60 * s, 0), ("answered", h11 + 600 * s, 100)],
    )
    h12 = T + timedelta(hours=2)
    add(store, "400", "2015550003", "done", h12, [("answered", h12 + 180 * s, 0)])
    add(
        store, "400", "2015550004", "failed", T, [("no_answer", T + 30 * s, 0), ("no_answer", T + 400 * s, 0)]
    )
    add(store, "400", "2015550005", "expired", T)
    add(store, "400", "2015550006", "pending", T, [("answered", T + 50 * s, 1)])
    day2 = T + timedelta(days=1)
    add(store, "400", "2015550007", "done", day2, [("answered", day2 + 40 * s, 10)])
    add(store, "400", "2015550008", "cancelled", day2)
    add(store, "401", "2015550009", "expired", T)


def test_figures_per_queue_and_day(store: Store, service: CallbackService) -> None:
    known_rows(store)
    got = [d.to_dict() for d in service.daily_stats()]
    assert got == [
        {
            "queue": "400",
            "day": "2026-11-30",
            "accepted": 6,
            "answered": 3,
            "failed": 1,
            "expired": 1,
            "cancelled": 0,
            "open": 1,
            "median_seconds_to_callback": 180.0,
            "p90_seconds_to_callback": 500.0,
        },
        {
            "queue": "400",
            "day": "2026-12-01",
            "accepted": 2,
            "answered": 1,
            "failed": 0,
            "expired": 0,
            "cancelled": 1,
            "open": 0,
            "median_seconds_to_callback": 30.0,
            "p90_seconds_to_callback": 30.0,
        },
        {
            "queue": "401",
            "day": "2026-11-30",
            "accepted": 1,
            "answered": 0,
            "failed": 0,
            "expired": 1,
            "cancelled": 0,
            "open": 0,
            "median_seconds_to_callback": None,
            "p90_seconds_to_callback": None,
        },
    ]


def test_since_keeps_only_the_recent_requests(store: Store, service: CallbackService, clock) -> None:  # noqa: ANN001
    known_rows(store)
    clock.now = T + timedelta(days=1, hours=1)
    got = service.daily_stats(since=2 * 3600)
    assert [(d.queue, d.day, d.accepted) for d in got] == [("400", date(2026, 12, 1), 2)]
