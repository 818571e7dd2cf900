"""Pure: a queue's callback hours and open-time arithmetic. No I/O, no clock: callers pass ``t``.

Times in and out are naive UTC (what the database keeps); a schedule's rules are read in its own time
zone. A rule is written ``mon-fri 09:00-17:00`` (days, then a time range; ``09:00-17:00`` alone is every
day) or as a FreePBX Time Group line ``09:00-17:00|mon-fri|*|*`` (time | weekdays | days of the month |
months, ``*`` = any). A range is open from its start up to, not including, its end; ``22:00-06:00``
is open before 06:00 and from 22:00 on each day the rule names (as Asterisk's GotoIfTime reads it).
A schedule without rules is always open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from .records import record

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
HORIZON_DAYS = 400  # how far ahead an opening is looked for (a rule may name one day of a year)
DAY_MINUTES = 24 * 60


class HoursError(ValueError):
    """A rule or time zone that cannot be read."""


@record(frozen=True)
class Rule:
    start: int  # minutes after midnight
    end: int  # minutes after midnight; 1440 = midnight at the end of the day
    days: frozenset[int]  # 0 = Monday
    mdays: frozenset[int] | None = None  # days of the month, None = any
    months: frozenset[int] | None = None  # 1 = January, None = any

    def matches(self, day: date) -> bool:
        return (
            day.weekday() in self.days
            and (self.mdays is None or day.day in self.mdays)
            and (self.months is None or day.month in self.months)
        )

    def spans(self) -> list[tuple[int, int]]:
        """The open minutes of a matching day."""
        if self.start < self.end:
            return [(self.start, self.end)]
        return [(0, self.end), (self.start, DAY_MINUTES)]  # wraps midnight (or start == end: all day)


@record(frozen=True)
class Schedule:
    rules: tuple[Rule, ...] = ()
    timezone: str = "UTC"

    @property
    def always_open(self) -> bool:
        return not self.rules

    @property
    def zone(self) -> tzinfo:
        return zone(self.timezone)


def zone(name: str) -> tzinfo:
    if name == "UTC":  # the default: no zoneinfo (and no tz database read) on the request path
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"time zone {name!r}: a name such as UTC or Europe/Moscow") from None


def _range(text: str, names: tuple[str, ...], low: int, high: int, what: str) -> frozenset[int] | None:
    """``*``, ``mon-fri``, ``sat,sun``, ``1-15`` → the values (``*`` → None); names count from ``low``."""
    text = text.strip().lower()
    if text in ("", "*"):
        return None
    out: set[int] = set()

    def value(item: str) -> int:
        if item in names:
            return names.index(item) + low
        if item.isdigit() and low <= int(item) <= high:
            return int(item)
        raise HoursError(f"{what} {item!r}: use {names[0] + '-' + names[-1] if names else f'{low}-{high}'}")

    for part in text.split(","):
        first, _, last = part.partition("-")
        a, b = value(first.strip()), value((last or first).strip())
        size = high - low + 1
        for step in range(((b - a) % size) + 1):  # fri-mon wraps, as in Asterisk
            out.add(low + (a - low + step) % size)
    return frozenset(out)


_TIME_RANGE = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})")


def _times(text: str) -> tuple[int, int]:
    text = text.strip()
    if text in ("", "*"):
        return 0, DAY_MINUTES
    match = _TIME_RANGE.fullmatch(text)
    if not match:
        raise HoursError(f"time range {text!r}: use HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise HoursError(f"time range {text!r}: hours 00-23 (24:00 ends a day), minutes 00-59")
    return h1 * 60 + m1, (h2 * 60 + m2) or DAY_MINUTES


def parse_rule(text: str) -> Rule:
    """``mon-fri 09:00-17:00``, ``09:00-17:00`` or FreePBX's ``09:00-17:00|mon-fri|*|*``."""
    try:
        return _parse_rule(text)
    except HoursError as exc:
        raise HoursError(f"hours {text!r}: {exc}") from None


def _parse_rule(text: str) -> Rule:
    if "|" in text:
        parts = (text.split("|") + ["*"] * 4)[:4]
        times, dow, dom, month = parts
    else:
        words = text.split()
        if len(words) == 1:
            dow, times = "*", words[0]
        elif len(words) == 2:
            dow, times = words
        else:
            raise HoursError("use 'mon-fri 09:00-17:00'")
        dom = month = "*"
    start, end = _times(times)
    days = _range(dow, DAYS, 0, 6, "weekday")
    return Rule(
        start,
        end,
        days if days is not None else frozenset(range(7)),
        _range(dom, (), 1, 31, "day of the month"),
        _range(month, MONTHS, 1, 12, "month"),
    )


def schedule(rules: Iterable[str], timezone: str = "UTC") -> Schedule:
    zone(timezone)
    return Schedule(tuple(parse_rule(r) for r in rules if r.strip()), timezone)


def describe(rule: Rule) -> str:
    def days(values: frozenset[int]) -> str:
        return ",".join(DAYS[d] for d in sorted(values))

    start, end = rule.start, rule.end
    text = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    return text if len(rule.days) == 7 else f"{days(rule.days)} {text}"


# --- open time --------------------------------------------------------------------------------------


def _utc(local: datetime, tz: tzinfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def utc_of(local_time: datetime, timezone: str) -> datetime:
    """Naive UTC of ``local_time`` (naive: in ``timezone``; aware: its own offset)."""
    if local_time.tzinfo is not None:
        return local_time.astimezone(UTC).replace(tzinfo=None)
    return _utc(local_time, zone(timezone))


def local(t: datetime, tz: tzinfo) -> datetime:
    """Naive UTC ``t`` as naive local time in ``tz``."""
    return t.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


def _day_spans(s: Schedule, day: date, tz: tzinfo) -> list[tuple[datetime, datetime]]:
    minutes = sorted(span for rule in s.rules if rule.matches(day) for span in rule.spans())
    midnight = datetime.combine(day, time())
    return [
        (_utc(midnight + timedelta(minutes=a), tz), _utc(midnight + timedelta(minutes=b), tz))
        for a, b in minutes
    ]


def open_spans(s: Schedule, t: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The schedule's open spans (merged, UTC) that end after ``t``, in order, up to HORIZON_DAYS."""
    tz = s.zone
    first = local(t, tz).date() - timedelta(days=1)
    current: tuple[datetime, datetime] | None = None
    for offset in range(HORIZON_DAYS + 2):
        for a, b in _day_spans(s, first + timedelta(days=offset), tz):
            if current is not None and a <= current[1]:
                current = (current[0], max(current[1], b))
                continue
            if current is not None and current[1] > t:
                yield current
            current = (a, b)
    if current is not None and current[1] > t:
        yield current


def open_at(s: Schedule, t: datetime) -> bool:
    if s.always_open:
        return True
    return any(a <= t < b for a, b in _first(s, t))


def _first(s: Schedule, t: datetime) -> list[tuple[datetime, datetime]]:
    span = next(open_spans(s, t), None)
    return [span] if span is not None else []


def next_open(s: Schedule, t: datetime) -> datetime | None:
    """``t`` when open then, else when the schedule next opens (None: not within HORIZON_DAYS)."""
    if s.always_open:
        return t
    for a, _ in _first(s, t):
        return max(a, t)
    return None


def next_close(s: Schedule, t: datetime) -> datetime | None:
    """When the span open at ``t`` closes (None: closed at ``t``, or always open)."""
    if s.always_open:
        return None
    for a, b in _first(s, t):
        return b if a <= t else None
    return None


def add_open(s: Schedule, start: datetime, seconds: float) -> datetime:
    """The moment ``seconds`` of open time after ``start`` (closed time does not count). A schedule that
    never opens again counts plain time, so a deadline is always finite."""
    if s.always_open:
        return start + timedelta(seconds=seconds)
    left = timedelta(seconds=seconds)
    for a, b in open_spans(s, start):
        a = max(a, start)
        if a + left <= b:
            return a + left
        left -= b - a
    return start + timedelta(seconds=seconds)


def next_morning(s: Schedule, now: datetime, morning: time = time(9, 0)) -> datetime:
    """ "Tomorrow morning": ``morning`` (local) of the day after ``now``'s, or the schedule's first opening
    at or after it."""
    tz = s.zone
    day = local(now, tz).date() + timedelta(days=1)
    at = _utc(datetime.combine(day, morning), tz)
    return next_open(s, at) or at


def day_word(s: Schedule, now: datetime, at: datetime) -> str:
    """How to name the day of ``at`` to a caller at ``now``, in the schedule's zone: today, tomorrow,
    or the weekday (within a week), else the date."""
    tz = s.zone
    days = (local(at, tz).date() - local(now, tz).date()).days
    return {0: "today", 1: "tomorrow"}.get(days, "weekday" if 1 < days < 7 else "date")
