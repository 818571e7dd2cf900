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


# The manager's event class of each event a client may subscribe to (Login/Events ``EventMask``).
EVENT_CLASSES = {
    "QueueMemberStatus": "agent",
    "QueueMemberPause": "agent",
    "QueueMemberAdded": "agent",
    "QueueMemberRemoved": "agent",
    "QueueCallerJoin": "agent",
    "QueueCallerLeave": "agent",
    "QueueCallerAbandon": "agent",
    "AgentCalled": "agent",
    "AgentConnect": "agent",
    "AgentComplete": "agent",
    "AgentRingNoAnswer": "agent",
    "AgentDump": "agent",
    "OriginateResponse": "call",
    "Hangup": "call",
    "Newchannel": "call",
    "UserEvent": "user",
    "FullyBooted": "system",
    "Shutdown": "system",
    "Reload": "system",
}
MAX_EVENTS = 1000


class Ami:
    """One manager connection. It logs in with ``Events: off``: no event reaches it unless asked for,
    with :meth:`subscribe` (only the named events are kept) or ``events="on"`` (a test's view of
    everything). Kept events are bounded (``max_events``, oldest dropped). Every action has ONE deadline
    for the whole exchange, however many unrelated events arrive meanwhile."""

    def __init__(
        self, config: AmiConfig, timeout: float = 5.0, events: str = "off", max_events: int = MAX_EVENTS
    ) -> None:
        self.config, self.timeout = config, timeout
        self.events: list[Message] = []
        self.max_events = max_events
        self.wanted: frozenset[str] | None = None if events == "on" else frozenset()
        self.sent = 0  # actions written on this connection (the dialer's AMI cost)
        self._buffer = b""
        try:
            self._sock = socket.create_connection((config.host, config.port), timeout=timeout)
            self._read_line(time.monotonic() + timeout)  # banner
        except OSError as exc:
            raise AmiUnavailable(f"cannot reach AMI at {config.host}:{config.port}: {exc}") from None
        except AmiUnavailable:
            self._sock.close()
            raise
        reply = self.action(
            [("Action", "Login"), ("Username", config.user), ("Secret", config.secret), ("Events", events)]
        )
        if reply[0].get("Response") != "Success":
            self.close()
            raise AmiUnavailable(f"AMI login as {config.user} refused: {reply[0].get('Message', '')}")

    def subscribe(self, names: Iterable[str]) -> bool:
        """Receive and keep only the events ``names``: the manager sends their classes (``Events``
        action), narrowed to these names by a ``Filter`` where the manager user may set one (write
        ``system``); the client keeps only these names either way. True when the filter was set."""
        wanted = frozenset(names)
        classes = sorted({EVENT_CLASSES.get(name, "all") for name in wanted}) or ["off"]
        self.wanted = wanted
        self.events = [e for e in self.events if e.get("Event") in wanted]
        reply = self.action([("Action", "Events"), ("EventMask", ",".join(classes))])[0]
        if reply.get("Response") not in ("Success", "Events On", "Events Off"):
            raise AmiError(f"AMI Events refused: {reply.get('Message', reply)}")
        filtered = True
        for name in sorted(wanted):
            answer = self.action([("Action", "Filter"), ("Operation", "Add"), ("Filter", f"Event: {name}")])
            filtered = filtered and answer[0].get("Response") == "Success"
        return filtered

    # --- wire -----------------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._sock.fileno()

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        try:
            self._sock.settimeout(left)
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise  # the caller decides: no answer in time is not a lost connection
        except OSError as exc:
            raise AmiUnavailable(f"AMI connection lost: {exc}") from None
        if not chunk:
            raise AmiUnavailable("AMI connection closed")
        self._buffer += chunk

    def _read_line(self, deadline: float) -> str:
        while b"\r\n" not in self._buffer:
            self._fill(deadline)
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_message(self, deadline: float | None = None) -> Message:
        """The next message; TimeoutError at ``deadline`` (default: ``timeout`` from now)."""
        deadline = time.monotonic() + self.timeout if deadline is None else deadline
        while b"\r\n\r\n" not in self._buffer:
            self._fill(deadline)
        raw, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        message: Message = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                message[key.strip()] = value.strip()
        return message

    def _keep(self, message: Message) -> None:
        """Keep an event that was asked for; drop the rest. At most ``max_events`` (oldest go first)."""
        if "Event" not in message or (self.wanted is not None and message["Event"] not in self.wanted):
            return
        self.events.append(message)
        if len(self.events) > self.max_events:
            del self.events[: len(self.events) - self.max_events]

    def action(
        self, fields: Iterable[tuple[str, object]] | Mapping[str, object], timeout: float | None = None
    ) -> list[Message]:
        """Send one action; return its response and, for list actions, the events up to Complete.
        The whole exchange ends by ``timeout`` (default: the connection's) or raises AmiUnavailable."""
        pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        action_id = f"qcb-{os.getpid()}-{next(_ids)}"
        lines = [f"{_clean(k)}: {_clean(v)}" for k, v in pairs if k.lower() != "actionid"]
        lines.append(f"ActionID: {action_id}")
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        try:
            self._sock.settimeout(limit)
            self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except OSError as exc:
            raise AmiUnavailable(f"AMI send failed: {exc}") from None
        self.sent += 1
        out: list[Message] = []
        listing = False
        while True:
            try:
                message = self.read_message(deadline)
            except TimeoutError:
                raise AmiUnavailable(f"no AMI answer to {pairs[0][1]} within {limit} s") from None
            if message.get("ActionID") != action_id:
                self._keep(message)
                continue
            out.append(message)
            if "Response" in message:
                if message.get("EventList", "").lower() != "start":
                    return out
                listing = True
            elif listing and message.get("EventList", "").lower() == "complete":
                return out

    def take_events(self) -> list[Message]:
        """The kept events, oldest first; they are no longer kept."""
        taken, self.events = self.events, []
        return taken

    def pending(self) -> bool:
        """Whether a whole message already waits in the client's buffer (read without the socket)."""
        return b"\r\n\r\n" in self._buffer

    def read_events(self, timeout: float) -> list[Message]:
        """Read what arrives within ``timeout`` (at least one message when one comes), keep what was
        asked for, and return every kept event (taken out of :attr:`events`)."""
        deadline = time.monotonic() + timeout
        try:
            self._keep(self.read_message(deadline))
            while self.pending():
                self._keep(self.read_message(deadline))
        except TimeoutError:
            pass
        return self.take_events()

    def wait_event(self, match: Callable[[Message], bool], timeout: float) -> Message | None:
        """The first kept or new event that matches (removed from the kept list), or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if match(event):
                    return self.events.pop(index)
            try:
                message = self.read_message(deadline)
            except TimeoutError:
                return None
            except AmiUnavailable:
                if time.monotonic() >= deadline:
                    return None
                raise
            self._keep(message)

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

    def queue_log(self, queue: str, event: str, uniqueid: str, interface: str, message: str) -> None:
        """Have Asterisk write one line to its queue_log (``QueueLog``; write permission ``agent``)."""
        reply = self.action(
            [
                ("Action", "QueueLog"),
                ("Queue", queue),
                ("Event", event),
                ("Uniqueid", uniqueid),
                ("Interface", interface),
                ("Message", message),
            ]
        )[0]
        if reply.get("Response") != "Success":
            raise AmiError(f"QueueLog {event} refused: {reply.get('Message', reply)}")

    def _queue_action(self, name: str, queue: str) -> list[Message]:
        """A queue listing; AmiUnavailable when Asterisk cannot list queues at all (app_queue not loaded:
        Asterisk starting, reloading modules or shutting down), which is not an unknown queue."""
        messages = self.action([("Action", name), ("Queue", queue)])
        reply = messages[0]
        if reply.get("Response") == "Error":
            text = reply.get("Message", "")
            if "invalid/unknown command" in text.lower():
                raise AmiUnavailable(
                    f"Asterisk has no queue module loaded ({name}: {text.split('.')[0]}): "
                    "is it starting, reloading or shutting down?"
                )
            raise AmiError(f"{name} for queue {queue} refused: {text}")
        return messages

    def queue_summary(self, queue: str) -> Message:
        """Members logged in and available, callers waiting and the longest hold time of ``queue``."""
        for message in self._queue_action("QueueSummary", queue):
            if message.get("Event") == "QueueSummary" and message.get("Queue") == queue:
                return message
        raise AmiError(f"queue {queue} is not known to Asterisk")

    def queue_callers(self, queue: str) -> list[Message]:
        """The callers waiting in ``queue`` (QueueEntry events: Position, Wait in seconds, ...)."""
        return [
            m
            for m in self._queue_action("QueueStatus", queue)
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
