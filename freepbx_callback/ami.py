"""A small Asterisk Manager Interface client: login, actions with their event lists, Originate, queues.

Every value sent is checked for CR/LF first, so no data (a number, a variable) can add an AMI header or
action. One connection per instance; the daemon makes a new one (with backoff) when it drops.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

Message = dict[str, str]
_ids = itertools.count(1)


class AmiError(Exception):
    pass


class AmiUnavailable(AmiError):
    """Asterisk's manager cannot be reached or refused the login."""


class OriginateRefused(AmiError):
    """Asterisk answered an Originate with Response: Error: nothing was dialled."""


@dataclass(frozen=True)
class AmiConfig:
    user: str
    secret: str
    host: str = "127.0.0.1"
    port: int = 5038

    @classmethod
    def parse(cls, text: str) -> AmiConfig:
        parts = urlsplit(text)
        if parts.scheme != "ami" or not parts.username:
            raise AmiError(f"AMI {text.split('@')[-1]!r}: expected ami://user:secret@host:port")
        try:
            port = parts.port or 5038
        except ValueError as exc:
            raise AmiError(f"AMI: {exc}") from None
        return cls(
            unquote(parts.username), unquote(parts.password or ""), parts.hostname or "127.0.0.1", port
        )

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    @classmethod
    def resolve(
        cls, flag: str | None, fallback: AmiConfig | None, environ: Mapping[str, str] | None = None
    ) -> AmiConfig:
        """``--ami``, else ``QCB_AMI``, else FreePBX's manager settings."""
        env = os.environ if environ is None else environ
        text = flag or env.get("QCB_AMI")
        if text:
            return cls.parse(text)
        if fallback is not None:
            return fallback
        raise AmiError("no AMI configured: tried --ami, $QCB_AMI and FreePBX's freepbx_settings (AMPMGRUSER)")


def _clean(value: object) -> str:
    text = str(value)
    if "\r" in text or "\n" in text:
        raise AmiError(f"refusing an AMI value with a line break: {text!r}")
    return text


class Ami:
    def __init__(self, config: AmiConfig, timeout: float = 5.0) -> None:
        self.config, self.timeout = config, timeout
        self.events: list[Message] = []
        self._buffer = b""
        try:
            self._sock = socket.create_connection((config.host, config.port), timeout=timeout)
            self._read_line()  # banner
        except OSError as exc:
            raise AmiUnavailable(f"cannot reach AMI at {config.host}:{config.port}: {exc}") from None
        reply = self.action(
            [("Action", "Login"), ("Username", config.user), ("Secret", config.secret), ("Events", "on")]
        )
        if reply[0].get("Response") != "Success":
            self.close()
            raise AmiUnavailable(f"AMI login as {config.user} refused: {reply[0].get('Message', '')}")

    # --- wire -----------------------------------------------------------------------------------

    def _fill(self) -> None:
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise  # the caller decides: no answer in time is not a lost connection
        except OSError as exc:
            raise AmiUnavailable(f"AMI connection lost: {exc}") from None
        if not chunk:
            raise AmiUnavailable("AMI connection closed")
        self._buffer += chunk

    def _read_line(self) -> str:
        while b"\r\n" not in self._buffer:
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_message(self) -> Message:
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        raw, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        message: Message = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                message[key.strip()] = value.strip()
        return message

    def action(
        self, fields: Iterable[tuple[str, object]] | Mapping[str, object], timeout: float | None = None
    ) -> list[Message]:
        """Send one action; return its response and, for list actions, the events up to Complete."""
        pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        action_id = f"qcb-{os.getpid()}-{next(_ids)}"
        lines = [f"{_clean(k)}: {_clean(v)}" for k, v in pairs if k.lower() != "actionid"]
        lines.append(f"ActionID: {action_id}")
        try:
            self._sock.settimeout(timeout or self.timeout)
            self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except OSError as exc:
            raise AmiUnavailable(f"AMI send failed: {exc}") from None
        out: list[Message] = []
        listing = False
        while True:
            try:
                message = self.read_message()
            except TimeoutError:
                raise AmiUnavailable(
                    f"no AMI answer to {pairs[0][1]} within {timeout or self.timeout} s"
                ) from None
            if message.get("ActionID") != action_id:
                if "Event" in message:
                    self.events.append(message)
                continue
            out.append(message)
            if "Response" in message:
                if message.get("EventList", "").lower() != "start":
                    return out
                listing = True
            elif listing and message.get("EventList", "").lower() == "complete":
                return out

    def wait_event(self, match: Callable[[Message], bool], timeout: float) -> Message | None:
        """The first kept or new event that matches (removed from the kept list), or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if match(event):
                    return self.events.pop(index)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._sock.settimeout(left)
            try:
                message = self.read_message()
            except (TimeoutError, AmiUnavailable):
                if time.monotonic() >= deadline:
                    return None
                raise
            if "Event" in message:
                self.events.append(message)
                del self.events[:-1000]

    def close(self) -> None:
        try:
            self._sock.settimeout(1)
            self._sock.sendall(b"Action: Logoff\r\n\r\n")
        except OSError:
            pass
        self._sock.close()

    # --- what the dialer asks ---------------------------------------------------------------------

    def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        caller_id: str = "",
        variables: Mapping[str, object] | None = None,
        channel_id: str = "",
        timeout_ms: int = 30000,
        account: str = "",
    ) -> Message:
        pairs: list[tuple[str, object]] = [
            ("Action", "Originate"),
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Priority", priority),
            ("Timeout", timeout_ms),
            ("Async", "true"),
        ]
        if caller_id:
            pairs.append(("CallerID", caller_id))
        if channel_id:
            pairs.append(("ChannelId", channel_id))
            pairs.append(("OtherChannelId", channel_id + ";2"))
        if account:
            pairs.append(("Account", account))
        for name, value in (variables or {}).items():
            pairs.append(("Variable", f"{_clean(name)}={_clean(value)}"))
        reply = self.action(pairs)[0]
        if reply.get("Response") != "Success":
            raise OriginateRefused(f"Originate refused: {reply.get('Message', reply)}")
        return reply

    def queue_summary(self, queue: str) -> Message:
        """Members logged in and available, callers waiting and the longest hold time of ``queue``."""
        for message in self.action([("Action", "QueueSummary"), ("Queue", queue)]):
            if message.get("Event") == "QueueSummary" and message.get("Queue") == queue:
                return message
        raise AmiError(f"queue {queue} is not known to Asterisk")

    def queue_callers(self, queue: str) -> list[Message]:
        """The callers waiting in ``queue`` (QueueEntry events: Position, Wait in seconds, ...)."""
        return [
            m
            for m in self.action([("Action", "QueueStatus"), ("Queue", queue)])
            if m.get("Event") == "QueueEntry" and m.get("Queue") == queue
        ]

    def hangup(self, channel: str) -> bool:
        """Hang up ``channel`` (a name or a uniqueid such as an Originate's ChannelId); False when there
        is no such channel."""
        reply = self.action([("Action", "Hangup"), ("Channel", channel)])[0]
        if reply.get("Response") == "Success":
            return True
        if "no such channel" in reply.get("Message", "").lower():
            return False
        raise AmiError(f"Hangup {channel}: {reply.get('Message', reply)}")

    def getvar(self, channel: str, name: str) -> str:
        """A variable or function (``SHARED(X)``) of ``channel``; "" when unset or the channel is gone."""
        reply = self.action([("Action", "Getvar"), ("Channel", channel), ("Variable", name)])[0]
        return reply.get("Value", "") if reply.get("Response") == "Success" else ""

    def channel_exists(self, channel_id: str) -> bool:
        """Whether a channel of the call ``channel_id`` is up; an error reply raises (it is no answer)."""
        listing = self.action([("Action", "CoreShowChannels")])
        if not listing or listing[0].get("Response") != "Success":
            reply = listing[0] if listing else {}
            raise AmiError(f"CoreShowChannels failed: {reply.get('Message', reply)}")
        return any(
            m.get("Uniqueid") in (channel_id, f"{channel_id};2") or m.get("Linkedid") == channel_id
            for m in listing[1:]
        )
