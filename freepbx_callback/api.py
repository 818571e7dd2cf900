"""The HTTP API's pure parts: reading a request body, and what each outcome answers.

No I/O here: :mod:`.api_service` runs these against the service and the store, :mod:`.http_api` speaks
HTTP. Errors carry a stable ``code`` an integrator can branch on; the message is for people.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_BODY = 16 * 1024  # bytes: a callback request is a few dozen
MAX_NAME = 100
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
BODY_FIELDS = ("queue", "number", "at", "name")

# RequestResult.kind -> (HTTP status, error code) for a request that was not created.
REFUSALS = {
    "duplicate": (409, "duplicate"),
    "invalid": (422, "invalid_number"),
    "blocked": (422, "number_refused"),
    "disabled": (422, "queue_disabled"),
    "limit": (429, "queue_full"),
}
QUEUE_FULL_RETRY = 60  # seconds: a full queue's Retry-After


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


@dataclass(frozen=True)
class CallbackBody:
    queue: str
    number: str
    at: datetime | None = None  # naive: in the queue's time zone; aware: its own offset
    name: str | None = None


def _field(data: dict[str, Any], name: str, required: bool) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"{name!r} is required", {"field": name})
        return None
    if isinstance(value, int) and not isinstance(value, bool) and name == "number":
        value = str(value)
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"{name!r} must be a string", {"field": name})
    value = value.strip()
    if required and not value:
        raise ApiError(400, "missing_field", f"{name!r} is empty", {"field": name})
    return value or None


def parse_at(text: str) -> datetime:
    """ISO 8601: ``2026-12-02T10:00:00Z``, with an offset, or without one (the queue's time zone)."""
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400,
            "invalid_field",
            f"'at' {text!r} is not an ISO 8601 time (e.g. 2026-12-02T10:00:00Z)",
            {"field": "at"},
        ) from None


def parse_callback(raw: bytes) -> CallbackBody:
    """A ``POST /v1/callbacks`` body, or ApiError 400."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    unknown = sorted(set(data) - set(BODY_FIELDS))
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}", {"fields": unknown})
    queue = _field(data, "queue", True)
    number = _field(data, "number", True)
    assert queue is not None and number is not None
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", queue):
        raise ApiError(400, "invalid_field", "'queue': 1-32 letters, digits, '-' or '_'", {"field": "queue"})
    if len(number) > 40:
        raise ApiError(400, "invalid_field", "'number' is too long", {"field": "number"})
    at_text = _field(data, "at", False)
    name = _field(data, "name", False)
    if name is not None and (len(name) > MAX_NAME or not name.isprintable()):
        raise ApiError(
            400, "invalid_field", f"'name': up to {MAX_NAME} printable characters", {"field": "name"}
        )
    return CallbackBody(queue, number, parse_at(at_text) if at_text else None, name)


def body_hash(raw: bytes) -> str:
    """What an Idempotency-Key is bound to: the JSON's content, whatever its spacing or key order."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key: 1-128 printable ASCII characters")
    return value


def refusal(kind: str, message: str, reason: str, request_id: int | None) -> ApiError:
    """The error for a request the service did not create (RequestResult's kind, message, reason)."""
    status, code = REFUSALS.get(kind, (422, kind))
    extra: dict[str, Any] = {"reason": reason or kind}
    headers = {}
    if kind == "duplicate" and request_id is not None:
        extra["request_id"] = request_id
    if kind == "limit":
        headers["Retry-After"] = str(QUEUE_FULL_RETRY)
    return ApiError(status, code, message, extra, headers)


def parse_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise ApiError(404, "not_found", f"no callback {text!r}")
    return int(text)


DEFAULT_HTTP_PORT = 8573  # not 4573 (FreePBX core's FastAGI) nor 4577 (ours)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``PORT`` (on 127.0.0.1) -> (host, port); ValueError if not."""
    text = text.strip()
    if text.isdigit():
        host, port = "127.0.0.1", text
    elif text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r}: use [ADDRESS]:PORT")
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"{text!r}: use HOST:PORT")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: use HOST:PORT with a port from 0 to 65535")
    return host, int(port)
