"""Pure reporting: callback events as Asterisk queue_log lines, and the per queue and day figures.

No I/O and no clock: the store reads the rows, the dialer writes the lines through AMI ``QueueLog``.

queue_log lines (Asterisk writes ``time|callid|queue|agent|event|data1|data2|...``; ``callid`` is the
uniqueid of the caller's original queue call, or ``qcb-<request id>`` for a request that did not come
from a call, e.g. one made with ``request add``; ``agent`` is the agent's interface where one is known,
else ``NONE``). Every line starts its data with the request id and the customer's number:

============================ ==========================================================================
event                        data
============================ ==========================================================================
``CALLBACKREQUEST``          request id | number | position in the queue | seconds waited | source
``CALLBACKATTEMPT``          request id | number | try
``CALLBACKANSWERED``         request id | number | try | seconds from the request to the customer
                             connected | talk seconds
``CALLBACKFAILED``           request id | number | counted attempts | reason
``CALLBACKEXPIRED``          request id | number | counted attempts | reason
============================ ==========================================================================
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

# Our event rows (qcb_events.event) that make a queue_log line, and the line's event name.
QUEUE_LOG_EVENTS = {
    "requested": "CALLBACKREQUEST",
    "claimed": "CALLBACKATTEMPT",
    "done": "CALLBACKANSWERED",
    "failed": "CALLBACKFAILED",
    "expired": "CALLBACKEXPIRED",
}
NO_AGENT = "NONE"  # what app_queue writes in the agent field of a line that has no agent
_TRY = re.compile(r"\btry (\d+)\b")
OFFERED_UNKNOWN = (
    "offered: not counted (the offer is the queue's periodic announcement, which Asterisk plays without "
    "telling the module)"
)


@dataclass(frozen=True)
class LoggedAttempt:
    """What a line needs of one attempt."""

    attempt_no: int
    agent: str | None = None
    ended_at: datetime | None = None
    talk_seconds: int | None = None
    originate: str | None = None  # sent, refused, failed (qcb_attempts.originate)


@dataclass(frozen=True)
class EventRow:
    """One event row with what a queue_log line needs of its request."""

    event_id: int
    request_id: int
    event: str
    detail: str
    queue: str
    number: str
    caller_uniqueid: str | None = None
    position: int | None = None
    waited: int | None = None
    source: str = ""
    attempts: int = 0
    last_outcome: str | None = None
    requested_at: datetime | None = None
    attempt_list: tuple[LoggedAttempt, ...] = ()


@dataclass(frozen=True)
class QueueLogLine:
    """The fields of one AMI ``QueueLog`` action."""

    queue: str
    event: str
    uniqueid: str
    interface: str
    data: tuple[str, ...]

    @property
    def message(self) -> str:
        """``Message``: Asterisk writes it after the event name; ``|`` separates the data fields."""
        return "|".join(self.data)


def _clean(value: object) -> str:
    """A data field: no field separator and no line break inside it."""
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "/").split())


def try_number(detail: str) -> int | None:
    """The try an event's detail names (``try 2 by node``, ``try 1: answered``)."""
    match = _TRY.search(detail)
    return int(match.group(1)) if match else None


def connected_at(attempt: LoggedAttempt) -> datetime | None:
    """When the customer was connected: the attempt's end less its talk time."""
    if attempt.ended_at is None or attempt.talk_seconds is None:
        return None
    return attempt.ended_at - timedelta(seconds=attempt.talk_seconds)


def queue_log_line(row: EventRow) -> QueueLogLine | None:
    """The queue_log line of one event, or None when the event makes none (a note, a retry, an attempt
    that Asterisk refused to place: nothing was dialled)."""
    name = QUEUE_LOG_EVENTS.get(row.event)
    if name is None:
        return None
    callid = row.caller_uniqueid or f"qcb-{row.request_id}"
    number = try_number(row.detail)
    attempt = next((a for a in row.attempt_list if a.attempt_no == number), None)
    interface = (attempt.agent if attempt is not None else None) or NO_AGENT
    head: list[object] = [row.request_id, row.number]
    if row.event == "requested":
        data = [*head, row.position, row.waited, row.source]
    elif row.event == "claimed":
        if attempt is not None and attempt.originate == "refused":
            return None
        data = [*head, number]
    elif row.event == "done":
        connected = connected_at(attempt) if attempt is not None else None
        wait = (
            round((connected - row.requested_at).total_seconds())
            if connected is not None and row.requested_at is not None
            else None
        )
        data = [*head, number, wait, attempt.talk_seconds if attempt is not None else None]
    else:
        data = [*head, row.attempts, row.last_outcome]
    return QueueLogLine(row.queue, name, _clean(callid), _clean(interface), tuple(_clean(v) for v in data))


# --- per queue and day --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFigure:
    """One request as the figures see it: its queue, the (UTC) day it was made, its status, and the
    seconds from the request to the customer connected (answered requests only)."""

    queue: str
    day: date
    status: str
    seconds_to_callback: float | None = None


@dataclass
class DayStats:
    queue: str
    day: date
    accepted: int = 0  # requests stored
    answered: int = 0  # done: the customer was connected to an agent
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    open: int = 0  # still pending or being dialled
    waits: list[float] = field(default_factory=list, repr=False)

    @property
    def median_seconds(self) -> float | None:
        return round(statistics.median(self.waits), 1) if self.waits else None

    @property
    def p90_seconds(self) -> float | None:
        return percentile(self.waits, 90)

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "day": self.day.isoformat(),
            "accepted": self.accepted,
            "answered": self.answered,
            "failed": self.failed,
            "expired": self.expired,
            "cancelled": self.cancelled,
            "open": self.open,
            "median_seconds_to_callback": self.median_seconds,
            "p90_seconds_to_callback": self.p90_seconds,
        }


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least ``pct`` % of the values at or
    below it), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


_STATUS_FIELD = {"done": "answered", "failed": "failed", "expired": "expired", "cancelled": "cancelled"}


def by_queue_and_day(figures: Iterable[RequestFigure]) -> list[DayStats]:
    """The figures of each (queue, day) that has requests, ordered by queue then day."""
    days: dict[tuple[str, date], DayStats] = {}
    for item in figures:
        stats = days.setdefault((item.queue, item.day), DayStats(item.queue, item.day))
        stats.accepted += 1
        name = _STATUS_FIELD.get(item.status, "open")
        setattr(stats, name, getattr(stats, name) + 1)
        if item.status == "done" and item.seconds_to_callback is not None:
            stats.waits.append(item.seconds_to_callback)
    return [days[key] for key in sorted(days)]
