"""Pure decisions of the callback product: no I/O, no clock; callers pass ``now``.

Lifecycle::

    pending --claim--> dialing --answered--> done
       ^                  |----no answer/busy/failed, attempts left--> pending (retry)
       |                  |----no answer/busy/failed, none left-----> failed
       |                  |----lease lost (dialer died)-------------> pending (attempt not burned)
       |                  '----operator cancel (the call is hung up)--> cancelled
       |--deadline (expires_at) passed, not dialled--> expired
       '--operator--> cancelled            (closed --operator retry--> pending)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from . import hours
from .models import PROMPT_NAMES, Mode, Outcome, QueueSettings, Request, Status
from .numbers import Kind, PhoneNumber
from .records import record

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.DIALING, Status.EXPIRED, Status.CANCELLED}),
    Status.DIALING: frozenset({Status.PENDING, Status.DONE, Status.FAILED, Status.CANCELLED}),
    Status.DONE: frozenset({Status.PENDING}),
    Status.FAILED: frozenset({Status.PENDING}),
    Status.EXPIRED: frozenset({Status.PENDING}),
    Status.CANCELLED: frozenset({Status.PENDING}),
}


class PolicyError(ValueError):
    """A decision the rules do not allow (bad transition, invalid setting)."""


def can_transition(current: Status, new: Status) -> bool:
    return new in TRANSITIONS[current]


def check_transition(current: Status, new: Status) -> None:
    if not can_transition(current, new):
        raise PolicyError(f"a {current.value} request cannot become {new.value}")


# --- timing -----------------------------------------------------------------------------------------


# Expiry rules (the README's "how it works" states them too):
# - the window counts from the key press (a journaled request: from when it reached the database);
# - a try in which the customer was never dialled (no agent took it, the dialer died) never moves it;
# - after a counted attempt (the customer was dialled) the retry has its own window from when it is due;
# - counted attempts are bounded by ``attempts``;
# so no request stays open past its window and its last attempt, whether its queue is enabled or not.
# With callback hours (a schedule) the window counts open time only, and nothing is due while closed.

ALWAYS = hours.Schedule()


def window_end(start: datetime, settings: QueueSettings, schedule: hours.Schedule = ALWAYS) -> datetime:
    """The deadline of an attempt that becomes due at ``start``: ``window`` seconds of open time."""
    return hours.add_open(schedule, start, settings.window)


def first_due(schedule: hours.Schedule, at: datetime) -> datetime:
    """When an attempt wanted at ``at`` may start: then, or at the next opening."""
    return hours.next_open(schedule, at) or at


def deadline(request: Request, settings: QueueSettings) -> datetime:
    """The latest moment the pending attempt may start (stored in ``expires_at``; a row written before
    that column existed falls back to ``window`` after it became due)."""
    return request.expires_at or window_end(request.next_attempt_at, settings)


# When the caller wants the call (the keypad choice after the 1): the key, and its name.
WHEN_KEYS = {"1": "asap", "2": "hour", "3": "morning"}
WHEN_CHOICES = tuple(WHEN_KEYS.values())


def chosen_time(when: str, schedule: hours.Schedule, now: datetime) -> datetime:
    """The not-before time of a request whose caller chose ``when`` at ``now``."""
    if when == "asap":
        return now
    if when == "hour":
        return now + timedelta(hours=1)
    if when == "morning":
        return hours.next_morning(schedule, now)
    raise PolicyError(f"when {when!r}: one of {', '.join(WHEN_CHOICES)}")


def is_due(request: Request, now: datetime) -> bool:
    """Pending, its time has come, and its window has not passed."""
    in_window = request.expires_at is None or now <= request.expires_at
    return request.status is Status.PENDING and request.next_attempt_at <= now and in_window


def is_expired(request: Request, settings: QueueSettings, now: datetime) -> bool:
    return request.status is Status.PENDING and now > deadline(request, settings)


@record(frozen=True)
class Decision:
    status: Status
    next_attempt_at: datetime | None = None
    reason: str = ""
    expires_at: datetime | None = None  # a new deadline; None keeps the current one


UNKNOWN_REASON = "outcome unknown, not redialled"
NO_AGENT_BACKOFF = 20  # seconds before a callback no agent took is offered to the queue again


def after_outcome(
    settings: QueueSettings,
    counted_attempts: int,
    outcome: Outcome,
    talk_seconds: int,
    now: datetime,
    schedule: hours.Schedule = ALWAYS,
) -> Decision:
    """What happens to a dialing request once an attempt ended with ``outcome``.

    ``counted_attempts`` includes this attempt when it counts. An attempt in which the customer was never
    dialled (no agent took it, or the dialer died first) does not count: the request waits again, within
    the same window (its deadline is kept). A counted attempt with attempts left opens the retry's own
    window. An
    answered call shorter than ``min_talk`` seconds (an answering machine, a hang-up on pick-up) is not a
    callback delivered: it counts as no answer.
    """
    if outcome is Outcome.CANCELLED:
        return Decision(Status.CANCELLED, reason="cancelled before dialling")
    if outcome is Outcome.LOST:
        return Decision(Status.PENDING, now, reason="lost before dialling")
    if outcome is Outcome.NO_AGENT:
        later = now + timedelta(seconds=NO_AGENT_BACKOFF)
        return Decision(Status.PENDING, later, reason="no agent, not counted")
    if counted_attempts < 1:
        raise PolicyError("an outcome needs at least one attempt")
    if outcome is Outcome.UNKNOWN:  # never dial a customer who may have been reached
        return Decision(Status.FAILED, reason=UNKNOWN_REASON)
    if outcome is Outcome.ANSWERED and talk_seconds >= settings.min_talk:
        return Decision(Status.DONE, reason="answered")
    reason = outcome.value if outcome is not Outcome.ANSWERED else "answered_too_short"
    if counted_attempts >= settings.attempts:
        return Decision(Status.FAILED, reason=f"{reason}, no attempts left")
    # A retry that falls after closing waits for the opening.
    retry_at = first_due(schedule, now + timedelta(seconds=settings.retry_interval))
    expires_at = window_end(retry_at, settings, schedule)
    return Decision(Status.PENDING, retry_at, reason=reason, expires_at=expires_at)


# Agent acceptance: how long the agent has to press 1 once "press 1 to accept" has played.
ACCEPT_SECONDS = 10


def asks_agent(settings: QueueSettings, agent_accept: bool) -> bool:
    """Whether a callback of this queue waits for the agent's 1 before the customer is dialled: the
    queue's switch is on and the agent is called first (customer-first connects an agent to a customer
    already on the line: there is nothing left to accept)."""
    return agent_accept and settings.enabled and settings.mode is Mode.AGENT_FIRST


def place_in_line(request: Request) -> datetime:
    """When the caller originally joined the queue: the request time less the time they had waited."""
    return request.requested_at - timedelta(seconds=request.waited or 0)


def may_release(request: Request, live_joined: list[datetime], keep_place: bool) -> bool:
    """With keep-place-in-line, a callback waits while a live caller who joined before it still waits."""
    return not keep_place or all(joined >= place_in_line(request) for joined in live_joined)


def release_count(free_agents: int, in_flight: int, due: int) -> int:
    """How many due requests a queue may start now: never more than agents free to take them."""
    return max(0, min(free_agents - in_flight, due))


# --- who may ask ------------------------------------------------------------------------------------


@record(frozen=True)
class Refusal:
    code: str  # blocked | limit | disabled
    message: str
    reason: str = ""  # finer: emergency, premium, block_pattern, ... (the code when there is none finer)

    def __post_init__(self) -> None:
        if not self.reason:
            object.__setattr__(self, "reason", self.code)


_PATTERN_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": "[0-9]+", "!": "[0-9]*"}


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile a block/allow pattern: an Asterisk extension pattern (``_8900X.``) or a literal prefix."""
    text = pattern.strip()
    if not text:
        raise PolicyError("empty pattern")
    if not text.startswith("_"):
        if not re.fullmatch(r"\+?[0-9]+", text):
            raise PolicyError(f"pattern {pattern!r}: a prefix is digits with an optional '+'")
        return re.compile(re.escape(text) + "[0-9]*")
    out, i, body = [], 0, text[1:]
    while i < len(body):
        char = body[i].upper()
        if char in _PATTERN_CLASSES:
            out.append(_PATTERN_CLASSES[char])
        elif char.isdigit() or char == "+":
            out.append(re.escape(char))
        elif char == "[":
            end = body.find("]", i)
            inner = body[i + 1 : end] if end > 0 else ""
            if end < 0 or not re.fullmatch(r"[0-9-]+", inner):
                raise PolicyError(f"pattern {pattern!r}: bad character class")
            out.append(f"[{inner}]")
            i = end
        else:
            raise PolicyError(f"pattern {pattern!r}: {body[i]!r} is not allowed")
        i += 1
    return re.compile("".join(out))


def _matches(number: PhoneNumber, patterns: tuple[str, ...]) -> str | None:
    forms = {number.dial, number.dial.lstrip("+")} | ({number.e164} if number.e164 else set())
    for pattern in patterns:
        regex = pattern_regex(pattern)
        if any(regex.fullmatch(form) for form in forms):
            return pattern
    return None


_KIND_ALLOWANCE = {
    Kind.PREMIUM: ("allow_premium", "a premium-rate number"),
    Kind.SHARED_COST: ("allow_shared_cost", "a shared-cost number"),
    Kind.SATELLITE: ("allow_satellite", "a satellite or international-network number"),
    Kind.SPECIAL: ("allow_special", "a toll-free, VoIP, personal, pager, UAN or voicemail number"),
}
_NEVER_TEXT = {
    Kind.EMERGENCY: "an emergency number",
    Kind.SHORT_CODE: "a short code or service number",
    Kind.BAD_PREFIX: "written with a prefix this queue's country does not dial ('+0', '00', '011', '810')",
    Kind.TOO_LONG: "longer than any number of its country",
}


def number_refusal(settings: QueueSettings, number: PhoneNumber) -> Refusal | None:
    """Deny by default: why ``number`` may not be dialled from this queue, or None when it may.

    Emergency numbers, short codes, foreign prefixes and too-long numbers are never dialled. Block
    patterns come next. When allow patterns are set only a matching number may ask, and a match lifts
    the kind rules. Otherwise the number must be valid and national fixed line or mobile, or of a kind
    the queue allows; a number of another country needs ``allow_international`` as well.
    """
    if number.kind.never:
        return Refusal("blocked", f"{number.dial} is {_NEVER_TEXT[number.kind]}", number.kind.value)
    blocked_by = _matches(number, settings.block_patterns)
    if blocked_by:
        return Refusal("blocked", f"{number.dial} matches block pattern {blocked_by}", "block_pattern")
    if settings.allow_patterns:
        if _matches(number, settings.allow_patterns):
            return None
        return Refusal("blocked", f"{number.dial} matches none of the allow patterns", "not_allowed")
    if number.kind is Kind.INVALID:
        return Refusal("blocked", f"{number.dial} is not a valid number in {settings.region}", "invalid")
    if number.kind is Kind.SATELLITE:  # never national: its own allowance is enough
        if not settings.allow_satellite:
            return Refusal("blocked", f"{number.dial} is {_KIND_ALLOWANCE[Kind.SATELLITE][1]}", "satellite")
        return None
    if number.international and not settings.allow_international:
        return Refusal("blocked", f"{number.dial} is an international number", "international")
    if number.kind in _KIND_ALLOWANCE:
        setting, text = _KIND_ALLOWANCE[number.kind]
        if not getattr(settings, setting):
            return Refusal("blocked", f"{number.dial} is {text}", number.kind.value)
    return None


def refusal(settings: QueueSettings, number: PhoneNumber, open_in_queue: int | None) -> Refusal | None:
    """Why this queue will not take a callback for ``number`` now, or None when it will.

    ``open_in_queue`` None: the count is not known (the database is down); the limit is not checked.
    """
    if not settings.enabled:
        return Refusal("disabled", f"callback is not enabled for queue {settings.queue}")
    refused = number_refusal(settings, number)
    if refused is not None:
        return refused
    limit = settings.max_pending
    if limit is not None and open_in_queue is not None and open_in_queue >= limit:
        return Refusal("limit", f"queue {settings.queue} already has {open_in_queue} open callbacks")
    return None


# --- settings ---------------------------------------------------------------------------------------

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_DID = re.compile(r"\+?[0-9]{2,20}")


def validate_queue_name(queue: str) -> str:
    if not _QUEUE_NAME.fullmatch(queue):
        raise PolicyError(f"queue {queue!r}: use 1-32 letters, digits, '-' or '_'")
    return queue


def validate_settings(settings: QueueSettings) -> QueueSettings:
    """Refuse settings that could not work (or could reach the dialplan unescaped)."""
    validate_queue_name(settings.queue)
    if settings.did is not None and not _DID.fullmatch(settings.did):
        raise PolicyError(f"DID {settings.did!r}: digits with an optional leading '+'")
    limits = {
        "attempts": (settings.attempts, 1, 10),
        "retry_interval": (settings.retry_interval, 10, 86400),
        "window": (settings.window, 10, 86400),
        "offer_every": (settings.offer_every, 5, 3600),
        "min_talk": (settings.min_talk, 0, 600),
    }
    for name, (value, low, high) in limits.items():
        if not low <= value <= high:
            raise PolicyError(f"{name} must be between {low} and {high}, not {value}")
    if settings.max_pending is not None and not 0 <= settings.max_pending <= 100000:
        raise PolicyError("max_pending must be between 0 and 100000")
    if settings.language not in ("en", "ru"):
        raise PolicyError(f"language {settings.language!r}: en or ru")
    if not re.fullmatch(r"[A-Z]{2}", settings.region):
        raise PolicyError(f"region {settings.region!r}: a two-letter country code such as US or RU")
    if not isinstance(settings.mode, Mode):
        raise PolicyError(f"mode {settings.mode!r}: agent-first or customer-first")
    for pattern in settings.block_patterns + settings.allow_patterns:
        pattern_regex(pattern)
    for name, recording in settings.prompts:
        validate_prompt(name, recording)
    try:
        hours.schedule(settings.hours, settings.timezone)
    except hours.HoursError as exc:
        raise PolicyError(str(exc)) from None
    if settings.timegroup is not None and settings.timegroup < 1:
        raise PolicyError(f"time group {settings.timegroup}: a FreePBX Time Group id")
    return settings


_RECORDING = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_/.-]{0,127}")


def validate_prompt(name: str, recording: str) -> None:
    """A prompt override names a known prompt and a sound file name that cannot break out of the dialplan."""
    if name not in PROMPT_NAMES:
        raise PolicyError(f"prompt {name!r}: one of {', '.join(PROMPT_NAMES)}")
    if not _RECORDING.fullmatch(recording) or ".." in recording:
        raise PolicyError(f"recording {recording!r}: a sound name such as custom/our-offer")


def parse_duration(text: str) -> int:
    """``300``, ``300s``, ``5m``, ``2h``, ``1d`` → seconds."""
    match = re.fullmatch(r"\s*([0-9]{1,7})\s*([smhd]?)\s*", text.lower())
    if not match:
        raise PolicyError(f"duration {text!r}: use a number of seconds or 30s, 5m, 2h, 1d")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


# --- dialer health ----------------------------------------------------------------------------------

LIVE_TICKS = 3  # a dialer is up while its last tick is younger than this many tick intervals


def node_up(age_s: float, tick_seconds: float, stopped: bool) -> bool:
    return not stopped and age_s < LIVE_TICKS * tick_seconds
