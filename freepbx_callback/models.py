"""Plain data: statuses, outcomes, per-queue settings and callback requests."""

from __future__ import annotations

import enum
from datetime import datetime

from .records import Factory, as_dict, record, replace

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from typing import Any


class Status(str, enum.Enum):
    PENDING = "pending"
    DIALING = "dialing"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({Status.PENDING, Status.DIALING})
CLOSED_STATUSES = frozenset(set(Status) - OPEN_STATUSES)


class Outcome(str, enum.Enum):
    """How one callback attempt ended."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    NO_AGENT = "no_agent"  # no agent took the call: the customer was never dialled
    LOST = "lost"  # claimed, but the dialer died before anything was dialled
    # The call may have reached the customer but nothing says how it ended (its outcome never arrived):
    # counted, and the request is closed rather than dialled again.
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"  # the request was cancelled before the customer was dialled

    @property
    def counted(self) -> bool:
        """Whether the attempt uses up one of the customer's attempts."""
        return self not in (Outcome.NO_AGENT, Outcome.LOST, Outcome.CANCELLED)


# Set by the dialplan on the customer's leg (the Originate's ChannelId) when the customer is connected:
# epoch seconds with milliseconds. Read by the outcome handler (talk time) and by a cancel (a call in
# which the customer already talks to an agent is left up).
CONNECTED_AT = "SHARED(QCB_CONNECTED_AT)"
# "1" when the customer's dial answered but reached no one (a failing route's dialplan answered it).
UNREACHED = "SHARED(QCB_UNREACHED)"


class Mode(str, enum.Enum):
    AGENT_FIRST = "agent-first"
    CUSTOMER_FIRST = "customer-first"


LANGUAGES = ("en", "ru")
PROMPT_NAMES = (
    "offer",
    "accepted",
    "already-requested",
    "not-available",
    "enter-number",
    "you-entered",
    "confirm",
    "invalid-number",
    "back-to-queue",
    "callback-for",
    "customer-intro",
    "press-1-to-connect",
    "goodbye",
    "accepted-later",
    "after",
    "choose-time",
)


@record(frozen=True)
class QueueSettings:
    """Callback settings of one queue; defaults are the product's (seed page)."""

    queue: str
    enabled: bool = False
    did: str | None = None
    attempts: int = 2
    retry_interval: int = 300
    window: int = 600
    offer_every: int = 30
    notify_agents: bool = True
    mode: Mode = Mode.AGENT_FIRST
    max_pending: int | None = None
    language: str = "en"
    region: str = "US"
    allow_international: bool = False
    allow_premium: bool = False
    allow_shared_cost: bool = False
    allow_satellite: bool = False  # satellite and international networks (+870, +881, +882, +883, ...)
    allow_special: bool = False  # toll-free, VoIP, personal, pager, UAN and voicemail numbers
    block_patterns: tuple[str, ...] = ()
    allow_patterns: tuple[str, ...] = ()
    min_talk: int = 5
    keep_place: bool = False  # release only when no live caller who joined earlier is still waiting
    prompts: tuple[tuple[str, str], ...] = ()  # (prompt name, system recording) overrides
    # Callback hours (see hours.py): rules such as "mon-fri 09:00-17:00" read in ``timezone``, or a
    # FreePBX Time Group (its id), which then wins; neither: always open.
    hours: tuple[str, ...] = ()
    timezone: str = "UTC"
    timegroup: int | None = None
    offer_times: bool = False  # after the 1, the caller may choose when: as soon as possible, in 1 hour...
    announce_position: bool = False  # the caller's position and the queue's hold time before each offer

    def prompt(self, name: str) -> str:
        """The sound to play for prompt ``name``: the admin's recording, else the shipped ``qcb-<name>``."""
        return dict(self.prompts).get(name) or f"qcb-{name}"

    def replace(self, **changes: Any) -> QueueSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = as_dict(self)
        data["mode"] = self.mode.value
        data["block_patterns"] = list(self.block_patterns)
        data["allow_patterns"] = list(self.allow_patterns)
        data["prompts"] = dict(self.prompts)
        data["hours"] = list(self.hours)
        return data


@record
class Request:
    """One callback request (a row of qcb_requests)."""

    id: int
    queue: str
    number: str
    status: Status
    requested_at: datetime
    next_attempt_at: datetime
    e164: str | None = None
    did: str | None = None
    language: str = "en"
    attempts: int = 0  # attempts that counted (the customer was dialled)
    caller_uniqueid: str | None = None
    position: int | None = None
    waited: int | None = None
    source: str = "cli"
    last_outcome: str | None = None
    closed_at: datetime | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    tries: int = 0  # every attempt row, counted or not
    expires_at: datetime | None = None  # the latest start of the pending attempt (policy.deadline)

    def to_dict(self) -> dict[str, Any]:
        data = as_dict(self)
        data["status"] = self.status.value
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat(timespec="seconds") + "Z"
        return data


@record
class Attempt:
    """One dial attempt of a request (a row of qcb_attempts)."""

    request_id: int
    attempt_no: int
    started_at: datetime
    node: str = ""
    ended_at: datetime | None = None
    outcome: str | None = None
    agent: str | None = None
    talk_seconds: int | None = None
    channel_id: str | None = None
    counted: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = as_dict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat(timespec="seconds") + "Z"
        return data


@record
class Stats:
    since: datetime | None
    by_status: dict[str, int] = Factory(dict)
    requested: int = 0
    median_seconds_to_callback: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(timespec="seconds") + "Z" if self.since else None,
            "requested": self.requested,
            "by_status": self.by_status,
            "median_seconds_to_callback": self.median_seconds_to_callback,
        }


@record(frozen=True)
class Heartbeat:
    """What a dialer reports after each tick (``serve``'s loop, or a ``dial`` run from cron)."""

    node: str
    kind: str  # serve | cron
    pid: int
    version: str
    started_at: datetime
    tick_seconds: float  # the interval between ticks: ``serve --poll``, or cron's minute
    ami_ok: bool | None  # None: not known (no AMI attempt)
    ami_error: str | None = None


@record(frozen=True)
class NodeStatus:
    """A dialer's last heartbeat, with its age measured by the database's clock."""

    node: str
    kind: str
    pid: int
    version: str
    started_at: datetime
    last_tick_at: datetime
    tick_seconds: float
    ami_ok: bool | None
    ami_error: str | None
    stopped_at: datetime | None
    age_s: float
    up: bool

    def to_dict(self) -> dict[str, Any]:
        data = as_dict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat(timespec="milliseconds") + "Z"
        data["age_s"] = round(self.age_s, 3)
        return data
