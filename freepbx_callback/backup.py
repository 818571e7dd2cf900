"""The backup document: every queue's callback settings and every open request, as one JSON object.

``{"version": 1, "queues": [<queue show --json>...], "requests": [<request show --json fields>...]}``.
A queue's alert addresses and kinds (``alert_to``, ``alert_on``) are optional: a backup written before
they existed restores and leaves them as they are. A queue's ``agent_accept`` (agent acceptance, kept
beside its settings) is optional too: without it (a backup of an older version) the queue comes back
with it off.
Reading one back checks every value the way the CLI and the request handler do (a backup file is
input like any other: a number in it reaches a dial string), and refuses the whole file on the first
bad value, so a restore writes all of it or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import alerts, numbers, policy
from .models import Mode, QueueSettings, Request, Status

VERSION = 1
_E164 = re.compile(r"\+[0-9]{3,20}")
_UNIQUEID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SOURCE = re.compile(r"[a-z_-]{1,16}")
OPEN = (Status.PENDING.value, Status.DIALING.value)


class BackupError(ValueError):
    """The document is not a backup this version can restore; the message names the bad value."""


@dataclass(frozen=True)
class OpenRequest:
    """An open request as the backup holds it (already checked)."""

    backup_id: int | None
    queue: str
    number: str
    status: Status
    requested_at: datetime
    next_attempt_at: datetime
    e164: str | None = None
    did: str | None = None
    language: str = "en"
    attempts: int = 0
    caller_uniqueid: str | None = None
    position: int | None = None
    waited: int | None = None
    source: str = "cli"
    last_outcome: str | None = None


@dataclass(frozen=True)
class Backup:
    queues: list[QueueSettings]
    requests: list[OpenRequest]
    # queue -> (addresses, kinds), for the queues whose entry carries them
    alerts: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    accept: frozenset[str] = frozenset()  # the queues with agent acceptance on


def dump(
    queues: list[QueueSettings], requests: list[Request], accept: Collection[str] = ()
) -> dict[str, Any]:
    return {
        "version": VERSION,
        "queues": [q.to_dict() | {"agent_accept": q.queue in accept} for q in queues],
        "requests": [r.to_dict() for r in requests if r.status.is_open],
    }


# --- reading ------------------------------------------------------------------------------------------


def _kind(where: str, value: Any, kind: type | tuple[type, ...], nullable: bool = False) -> Any:
    if value is None and nullable:
        return None
    # bool is an int in Python; a true/false where a number belongs is still wrong.
    if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BackupError(f"{where}: expected {expected}{' or null' if nullable else ''}, got {value!r}")
    return value


def _keys(where: str, item: Any, required: set[str], optional: set[str]) -> dict[str, Any]:
    _kind(where, item, dict)
    missing = sorted(required - set(item))
    if missing:
        raise BackupError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(item) - required - optional)
    if unknown:
        raise BackupError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return dict(item)


QUEUE_TYPES: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "queue": (str, False),
    "enabled": (bool, False),
    "did": (str, True),
    "attempts": (int, False),
    "retry_interval": (int, False),
    "window": (int, False),
    "offer_every": (int, False),
    "notify_agents": (bool, False),
    "mode": (str, False),
    "max_pending": (int, True),
    "language": (str, False),
    "region": (str, False),
    "allow_international": (bool, False),
    "allow_premium": (bool, False),
    "allow_shared_cost": (bool, False),
    "allow_satellite": (bool, False),
    "allow_special": (bool, False),
    "block_patterns": (list, False),
    "allow_patterns": (list, False),
    "min_talk": (int, False),
    "keep_place": (bool, False),
    "prompts": (dict, False),
    "hours": (list, False),
    "timezone": (str, False),
    "timegroup": (int, True),
    "offer_times": (bool, False),
    "announce_position": (bool, False),
    "alert_to": (list, False),
    "alert_on": (list, False),
    "agent_accept": (bool, False),  # not a QueueSettings field: see Backup.accept
}
ALERT_KEYS = ("alert_to", "alert_on")


def parse_queue(where: str, item: Any) -> QueueSettings:
    data = _keys(where, item, {"queue"}, set(QUEUE_TYPES))
    for key, value in data.items():
        kind, nullable = QUEUE_TYPES[key]
        _kind(f"{where}.{key}", value, kind, nullable)
    for key in ("block_patterns", "allow_patterns", "hours"):
        if key in data:
            data[key] = tuple(_kind(f"{where}.{key}[]", p, str) for p in data[key])
    if "prompts" in data:
        data["prompts"] = tuple(
            (_kind(f"{where}.prompts", name, str), _kind(f"{where}.prompts.{name}", rec, str))
            for name, rec in data["prompts"].items()
        )
    for key in ALERT_KEYS:
        data.pop(key, None)  # read by parse_alerts
    data.pop("agent_accept", None)
    if "mode" in data:
        try:
            data["mode"] = Mode(data["mode"])
        except ValueError:
            raise BackupError(f"{where}.mode: agent-first or customer-first, not {data['mode']!r}") from None
    try:
        return policy.validate_settings(QueueSettings(**data))
    except policy.PolicyError as exc:
        raise BackupError(f"{where} ({data['queue']!r}): {exc}") from None


def parse_alerts(where: str, item: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """A queue entry's alert addresses and kinds, or None when it carries neither."""
    if not any(key in item for key in ALERT_KEYS):
        return None
    try:
        to = alerts.parse_addresses([_kind(f"{where}.alert_to[]", a, str) for a in item.get("alert_to", [])])
        on = alerts.parse_kinds([_kind(f"{where}.alert_on[]", k, str) for k in item.get("alert_on", [])])
    except alerts.AlertError as exc:
        raise BackupError(f"{where}: {exc}") from None
    return to, on


REQUEST_REQUIRED = {"queue", "number", "status", "requested_at", "next_attempt_at"}
# Fields a request carries that a restore does not take over: its row id, its attempt log position and
# its claim belong to the database it came from; a restored request gets a window of its own.
REQUEST_IGNORED = {"id", "tries", "closed_at", "claimed_by", "lease_until", "expires_at"}
REQUEST_OPTIONAL = {
    "e164",
    "did",
    "language",
    "attempts",
    "caller_uniqueid",
    "position",
    "waited",
    "source",
    "last_outcome",
} | REQUEST_IGNORED


def _when(where: str, value: Any) -> datetime:
    text = _kind(where, value, str)
    try:
        parsed = datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        raise BackupError(f"{where}: not an ISO 8601 time: {text!r}") from None
    if parsed.tzinfo is not None:
        raise BackupError(f"{where}: a UTC time such as 2025-01-31T10:00:00Z, not {text!r}")
    return parsed


def _number(where: str, value: Any) -> str:
    text = _kind(where, value, str)
    try:
        clean = numbers.clean(text)
    except numbers.InvalidNumber as exc:
        raise BackupError(f"{where}: {exc}") from None
    if clean != text:
        raise BackupError(f"{where}: {text!r} is not a stored number (digits with an optional leading '+')")
    return clean


def _matching(where: str, value: Any, pattern: re.Pattern[str], nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    text = _kind(where, value, str)
    if not pattern.fullmatch(text):
        raise BackupError(f"{where}: unexpected value {text!r}")
    return text


def _count(where: str, value: Any, nullable: bool = True) -> int | None:
    number = _kind(where, value, int, nullable)
    if number is not None and number < 0:
        raise BackupError(f"{where}: must not be negative, not {number}")
    return number


def parse_request(where: str, item: Any) -> OpenRequest:
    data = _keys(where, item, REQUEST_REQUIRED, REQUEST_OPTIONAL)
    status = _kind(f"{where}.status", data["status"], str)
    if status not in OPEN:
        raise BackupError(
            f"{where}.status: only open requests (pending, dialing) are restored, not {status!r}"
        )
    queue = _kind(f"{where}.queue", data["queue"], str)
    try:
        policy.validate_queue_name(queue)
    except policy.PolicyError as exc:
        raise BackupError(f"{where}.queue: {exc}") from None
    language = data.get("language", "en")
    if language not in ("en", "ru"):
        raise BackupError(f"{where}.language: en or ru, not {language!r}")
    last_outcome = _kind(f"{where}.last_outcome", data.get("last_outcome"), str, nullable=True)
    backup_id = _count(f"{where}.id", data.get("id"))
    return OpenRequest(
        backup_id=backup_id,
        queue=queue,
        number=_number(f"{where}.number", data["number"]),
        status=Status(status),
        requested_at=_when(f"{where}.requested_at", data["requested_at"]),
        next_attempt_at=_when(f"{where}.next_attempt_at", data["next_attempt_at"]),
        e164=_matching(f"{where}.e164", data.get("e164"), _E164),
        did=_number(f"{where}.did", data["did"]) if data.get("did") is not None else None,
        language=language,
        attempts=_count(f"{where}.attempts", data.get("attempts", 0), nullable=False) or 0,
        caller_uniqueid=_matching(f"{where}.caller_uniqueid", data.get("caller_uniqueid"), _UNIQUEID),
        position=_count(f"{where}.position", data.get("position")),
        waited=_count(f"{where}.waited", data.get("waited")),
        source=_matching(f"{where}.source", data.get("source", "cli"), _SOURCE, nullable=False) or "cli",
        last_outcome=last_outcome[:64] if last_outcome else None,
    )


def parse(data: Any) -> Backup:
    """Check a whole backup document; BackupError on the first value that is wrong."""
    doc = _keys("backup", data, {"version", "queues", "requests"}, set())
    if doc["version"] != VERSION or isinstance(doc["version"], bool):
        raise BackupError(f"backup version {doc['version']!r}: this freepbx-callback reads version {VERSION}")
    items = _kind("queues", doc["queues"], list)
    queues = [parse_queue(f"queues[{i}]", q) for i, q in enumerate(items)]
    alert_settings = {
        q.queue: found
        for i, (q, item) in enumerate(zip(queues, items, strict=True))
        if (found := parse_alerts(f"queues[{i}]", item)) is not None
    }
    names = [q.queue for q in queues]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BackupError(f"queues: {', '.join(twice)} appear more than once")
    requests = [
        parse_request(f"requests[{i}]", r) for i, r in enumerate(_kind("requests", doc["requests"], list))
    ]
    accept = frozenset(q["queue"] for q in doc["queues"] if q.get("agent_accept") is True)
    return Backup(queues, requests, alert_settings, accept)
