"""Department alerts, the pure part: which kinds there are, checking addresses, the retry schedule, the
mail transport's URL, and the message itself. No I/O and no clock: the sender (:mod:`.mailer`) passes
the time and the Message-ID in.

Kinds: ``new`` (a request was stored), ``failed`` (closed with no attempts left, or with an unknown
outcome) and ``expired`` (not dialled within its window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KINDS = ("new", "failed", "expired")
MAX_TRIES = 8  # a mail not delivered after this many tries (about 90 minutes of backoff) is given up
FIRST_BACKOFF = 60  # seconds before the second try; doubled after each failure ...
MAX_BACKOFF = 1800  # ... up to this
LEASE_SECONDS = 300  # a claimed mail whose sender died is tried again after this (> a slow SMTP talk)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


class AlertError(ValueError):
    """A bad address, kind or transport URL; the message names it."""


def parse_kinds(items: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"new,failed"`` (or a list of such) -> the kinds in their fixed order; AlertError on others."""
    parts = [items] if isinstance(items, str) else list(items)
    words = {w.strip().lower() for part in parts for w in part.split(",") if w.strip()}
    unknown = sorted(words - set(KINDS))
    if unknown:
        raise AlertError(f"alert kind(s) {', '.join(unknown)}: choose from {', '.join(KINDS)}")
    return tuple(k for k in KINDS if k in words)


def parse_address(text: str) -> str:
    """One plain address (``ops@example.com``); AlertError for anything else (names, lists, headers)."""
    value = text.strip()
    if not _ADDRESS.fullmatch(value) or len(value) > 254:
        raise AlertError(f"{text!r} is not an e-mail address (user@example.com)")
    return value


def parse_addresses(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Addresses given one by one or comma-separated, checked, each once, in the order given."""
    out = [parse_address(a) for item in items for a in item.split(",") if a.strip()]
    return tuple(dict.fromkeys(out))


def encode(addresses: tuple[str, ...]) -> str | None:
    return ",".join(addresses) or None


def decode(stored: str | None) -> tuple[str, ...]:
    return tuple(a for a in (stored or "").split(",") if a)


def backoff(tries: int, first: int = FIRST_BACKOFF) -> int:
    """Seconds to wait after the ``tries``-th failed try: 60, 120, 240 ... at most MAX_BACKOFF."""
    return min(MAX_BACKOFF, first * 2 ** max(0, tries - 1))


def permanent(code: int | None) -> bool:
    """An SMTP reply that trying again will not change (5xx), e.g. to a recipient: no such user."""
    return code is not None and 500 <= code < 600


# --- the transport -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transport:
    """Where mail goes: SMTP (plain, STARTTLS or TLS) or the local MTA's sendmail."""

    kind: str  # smtp, smtps, sendmail
    host: str = "127.0.0.1"
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sendmail: str = "/usr/sbin/sendmail"

    def describe(self) -> str:
        if self.kind == "sendmail":
            return f"{self.sendmail} -t"
        auth = f"{self.user}@" if self.user else ""
        return f"{self.kind}://{auth}{self.host}:{self.port}" + ("?starttls=1" if self.starttls else "")


def parse_transport(url: str) -> Transport:
    """``smtp://user:pass@host:port`` (``?starttls=1``), ``smtps://...``, or ``sendmail:`` /
    ``sendmail:///path/to/sendmail``."""
    parts = urlsplit(url.strip())
    if parts.scheme == "sendmail":
        return Transport("sendmail", sendmail=unquote(parts.path) or "/usr/sbin/sendmail")
    if parts.scheme not in ("smtp", "smtps"):
        raise AlertError(f"mail URL {redact(url)!r}: smtp://, smtps:// or sendmail:")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise AlertError(f"mail URL {redact(url)!r}: {exc}") from None
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "yes", "true")
    return Transport(
        parts.scheme,
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        starttls=starttls and parts.scheme == "smtp",
    )


def redact(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)


# --- the message -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """One outbox row: what happened to which request, as it was when it happened (naive UTC times)."""

    id: int
    request_id: int
    kind: str
    queue: str
    number: str
    recipients: tuple[str, ...]
    timezone: str
    requested_at: datetime
    event_at: datetime
    attempts: int = 0
    last_outcome: str | None = None
    tries: int = 0


def local_time(at: datetime, timezone: str) -> str:
    """A naive UTC time shown in the queue's time zone (UTC when the zone is unknown)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo("UTC"), "UTC"
    local = at.replace(tzinfo=UTC).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or timezone}"


SUBJECTS = {
    "new": "Callback requested: {number} (queue {queue})",
    "failed": "Callback failed: {number} (queue {queue})",
    "expired": "Callback expired: {number} (queue {queue})",
}
WHAT = {
    "new": "A caller asked to be called back.",
    "failed": "The callback failed: the customer was not reached and no attempt is left.",
    "expired": "The callback expired: the customer was not dialled within the queue's window.",
}


def body(alert: Alert) -> str:
    lines = [
        WHAT[alert.kind],
        "",
        f"Number:     {alert.number}",
        f"Queue:      {alert.queue}",
        f"Requested:  {local_time(alert.requested_at, alert.timezone)}",
    ]
    if alert.kind != "new":
        lines += [
            f"{alert.kind.capitalize() + ':':<12}{local_time(alert.event_at, alert.timezone)}",
            f"Attempts:   {alert.attempts}",
            f"Last outcome: {alert.last_outcome or 'none'}",
        ]
    lines += ["", f"Request {alert.request_id} (freepbx-callback request show {alert.request_id})"]
    return "\n".join(lines) + "\n"


def message(alert: Alert, sender: str, message_id: str, date: datetime) -> EmailMessage:
    """The plain-text mail of one alert. ``date``: aware or naive UTC; ``message_id``: ``<...@...>``."""
    msg = EmailMessage()
    msg["Subject"] = SUBJECTS[alert.kind].format(number=alert.number, queue=alert.queue)
    msg["From"] = sender
    msg["To"] = ", ".join(alert.recipients)
    msg["Date"] = format_datetime(date if date.tzinfo else date.replace(tzinfo=UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Callback-Request"] = str(alert.request_id)
    msg.set_content(body(alert))
    return msg


def sender_domain(sender: str) -> str:
    """The domain of a From address (for the Message-ID)."""
    _, at, domain = parseaddr(sender)[1].rpartition("@")
    return domain if at and domain else "localhost"


def next_try(now: datetime, tries: int, first: int = FIRST_BACKOFF) -> datetime:
    return now + timedelta(seconds=backoff(tries, first))
