"""API keys: bearer tokens of the HTTP API's clients, their queues and their rate limits.

A token is ``qcb_`` and 32 random bytes (URL-safe base64); only its SHA-256 is stored, with its first
characters as a hint for ``apikey list``. A key may be limited to some queues. Rate limits are fixed
windows counted in the database (every ``serve`` node shares them): requests per minute per key, and
requests per hour per number (the number's bucket is shared by every key; the asking key's limit
applies).

The functions at the top are pure; :class:`ApiKeys` runs them against the store.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .policy import PolicyError, validate_queue_name
from .store import Store
from .store_api import ApiStore

TOKEN_PREFIX = "qcb_"
HINT_LENGTH = 8  # "qcb_" and the token's first 4 characters
DEFAULT_PER_MINUTE = 60
DEFAULT_PER_NUMBER_HOUR = 3
KEY_WINDOW = 60  # seconds: the per-key limit counts requests per minute
NUMBER_WINDOW = 3600  # the per-number limit counts requests per hour
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


# --- pure ---------------------------------------------------------------------------------------------


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is none."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def validate_key_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise PolicyError(f"key name {name!r}: 1-64 letters, digits, '.', '-' or '_', starting with one")
    return name


def validate_limit(value: int, what: str) -> int:
    if not 1 <= value <= 1_000_000:
        raise PolicyError(f"{what} {value}: 1 to 1000000")
    return value


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    token_hint: str
    queues: tuple[str, ...] = ()  # empty: every queue
    per_minute: int = DEFAULT_PER_MINUTE
    per_number_hour: int = DEFAULT_PER_NUMBER_HOUR
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, queue: str) -> bool:
        return not self.queues or queue in self.queues

    def to_dict(self) -> dict[str, object]:
        stamp = lambda t: t.isoformat(timespec="seconds") + "Z" if t else None  # noqa: E731
        return {
            "name": self.name,
            "token_hint": self.token_hint + "…",
            "queues": list(self.queues),
            "per_minute": self.per_minute,
            "per_number_hour": self.per_number_hour,
            "created_at": stamp(self.created_at),
            "revoked_at": stamp(self.revoked_at),
        }


@dataclass(frozen=True)
class Window:
    """A fixed rate window: ``limit`` hits per ``seconds`` in bucket ``bucket``."""

    bucket: str
    limit: int
    seconds: int

    def start(self, now: float) -> int:
        return int(now // self.seconds) * self.seconds

    def retry_after(self, now: float) -> int:
        """Whole seconds until this window ends (at least 1)."""
        return max(1, math.ceil(self.start(now) + self.seconds - now))


def windows(key: ApiKey, number_key: str) -> list[Window]:
    """The limits one request is counted against: its key's, then its number's."""
    return [
        Window(f"k:{key.id}", key.per_minute, KEY_WINDOW),
        Window(f"n:{number_key}"[:80], key.per_number_hour, NUMBER_WINDOW),
    ]


@dataclass(frozen=True)
class Limited:
    """A request over a limit: which one, and when to come back."""

    window: Window
    retry_after: int
    hits: int = field(default=0)


def over_limit(window: Window, hits: int, now: float) -> Limited | None:
    """``hits`` counts this request: over when it is past the limit."""
    if hits <= window.limit:
        return None
    return Limited(window, window.retry_after(now), hits)


def epoch(t: datetime) -> float:
    """Seconds since the epoch of a naive UTC time."""
    return t.replace(tzinfo=UTC).timestamp()


# --- against the store --------------------------------------------------------------------------------


class KeyExists(PolicyError):
    pass


class ApiKeys:
    """Adding, listing, revoking and checking keys; counting rate windows."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock
        self.rows = ApiStore(store)

    def add(
        self,
        name: str,
        queues: tuple[str, ...] = (),
        per_minute: int = DEFAULT_PER_MINUTE,
        per_number_hour: int = DEFAULT_PER_NUMBER_HOUR,
    ) -> tuple[ApiKey, str]:
        """A new key and its token (shown once: only its hash is kept). A revoked key's name may be
        taken again."""
        validate_key_name(name)
        queues = tuple(dict.fromkeys(validate_queue_name(q) for q in queues))
        validate_limit(per_minute, "per-minute limit")
        validate_limit(per_number_hour, "per-number limit")
        token = new_token()
        with self.store.transaction():
            current = self.rows.key_by_name(name, lock=True)
            if current is not None and current.revoked_at is None:
                raise KeyExists(f"key {name} exists (revoke it first to replace it)")
            if current is not None:
                self.rows.delete_key(current.id)
            self.rows.insert_key(
                name,
                hash_token(token),
                token[:HINT_LENGTH],
                queues,
                per_minute,
                per_number_hour,
                self.clock(),
            )
            key = self.rows.key_by_name(name)
        assert key is not None
        return key, token

    def list(self, include_revoked: bool = False) -> list[ApiKey]:
        return [k for k in self.rows.all_keys() if include_revoked or k.revoked_at is None]

    def revoke(self, name: str) -> ApiKey:
        from .dialing import NotFound

        with self.store.transaction():
            key = self.rows.key_by_name(name, lock=True)
            if key is None or key.revoked_at is not None:
                raise NotFound(f"no active key {name}")
            self.rows.revoke_key(key.id, self.clock())
        revoked = self.rows.key_by_name(name)
        assert revoked is not None
        return revoked

    def authenticate(self, token: str | None) -> ApiKey | None:
        """The active key of ``token``, or None."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        key = self.rows.key_by_hash(hash_token(token))
        return key if key is not None and key.revoked_at is None else None

    def count(self, limits: list[Window]) -> Limited | None:
        """Count one request in each window; the first window it is over, or None."""
        now = epoch(self.clock())
        for window in limits:
            hits = self.rows.hit(window.bucket, window.start(now))
            limited = over_limit(window, hits, now)
            if limited is not None:
                return limited
        return None
