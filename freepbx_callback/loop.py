"""The long-running dialer loop of ``serve``: ticks the :class:`~dialer.Dialer` when something may have
changed, not on a timer.

A tick runs when a queue event says an agent may be free (:data:`WAKE_EVENTS`), when a request
arrives (FastAGI in-process, the CLI through the wake socket), when a retry falls due, and on a slow
safety poll. The safety poll is paced by what a tick costs: after a tick that sent N AMI actions the
next poll waits at least N / ``action_rate`` seconds, so a backlog with nothing happening costs at most
``action_rate`` actions a second. Bursts of events are folded into one tick per ``min_gap``.

Supervision: an unexpected error in a tick is logged and the loop goes on (the next try backs off);
heartbeats (doctor, the module page) and systemd's watchdog (``WATCHDOG=1``) stop while ticks keep
failing that way, so such a dialer shows as stale and is restarted (an unreachable database is not such
a failure: the loop is well and a restart would not help). An error outside the tick ends
:meth:`DialerLoop.run` with the exception; ``serve`` then exits non-zero.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

from .ami import Ami, AmiError, AmiUnavailable, Message
from .dialer import Dialer, TickReport
from .service import utcnow
from .store import StoreError
from .wake import Waker

log = logging.getLogger(__name__)
# Queue events after which an agent may be free for a callback (or a callback left the queue): nothing
# else is subscribed.
WAKE_EVENTS = (
    "QueueMemberStatus",  # device state of a member: free again after a call
    "QueueMemberPause",
    "QueueMemberAdded",
    "AgentComplete",  # a queue call with an agent ended
    "AgentRingNoAnswer",  # the agent did not take it: free for the next
    "QueueCallerLeave",  # a caller (or one of our callbacks) left the queue
    "QueueCallerAbandon",
)
# Kept for the tick, not a reason to tick: an agent-first Originate that failed is proof the customer was
# never dialled (dialer.originate_failures reads it from the client's kept events).
EVIDENCE_EVENTS = ("OriginateResponse",)


def frees_agent(event: Message) -> bool:
    """Whether ``event`` may let one more callback go: a member free and not paused, a call that ended,
    a caller who left. A member that starts ringing or talking frees nobody."""
    name = event.get("Event")
    if name == "QueueMemberStatus":
        return event.get("Status") == "1" and event.get("Paused") != "1"
    if name in ("QueueMemberPause", "QueueMemberAdded"):
        return event.get("Paused") != "1"
    return name in WAKE_EVENTS


def sd_notify(state: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``state`` (``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``) to systemd's $NOTIFY_SOCKET."""
    env = os.environ if environ is None else environ
    where = env.get("NOTIFY_SOCKET", "")
    if not where or where[0] not in "/@":
        return False
    address = "\0" + where[1:] if where[0] == "@" else where
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
        return True
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", where, exc)
        return False


def watchdog_interval(environ: dict[str, str] | None = None) -> float | None:
    """Half of systemd's WatchdogSec= (WATCHDOG_USEC) when it is meant for this process."""
    env = os.environ if environ is None else environ
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


class DialerLoop:
    # After a tick asked for by an event or a wake, tick again this many seconds later: what the event
    # announced may reach the database a moment after it (a leg's outcome, recorded by its hangup
    # handler, ends the "in flight" count that held a callback back).
    FOLLOW_UP = (1.0, 3.0, 7.0)

    def __init__(
        self,
        dialer: Dialer,
        poll: float = 30.0,
        *,
        action_rate: float = 1.0,
        min_gap: float = 0.25,
        beat: float = 5.0,
    ) -> None:
        self.dialer, self.poll = dialer, poll
        self.action_rate, self.min_gap = action_rate, min_gap
        self.beat_every = min(beat, poll)
        self.ticks = 0
        self.failures = 0  # unexpected errors in a row
        self.last_error = ""
        self.watchdog = watchdog_interval()
        self.healthy = threading.Event()  # set while ticks succeed
        # Observers (serve's GET /metrics): each tick's duration in seconds, each AMI error by kind.
        self.on_tick: Callable[[float], None] | None = None
        self.on_ami_error: Callable[[str], None] | None = None

    # --- the loop ------------------------------------------------------------------------------------

    def run(self, stop: threading.Event, wake: Waker) -> None:
        """Tick until ``stop``; ``wake`` asks for a tick now (``stop`` must be followed by ``wake.set()``)."""
        dialer = self.dialer
        ami: Ami | None = None
        backoff, retry_at, ami_error = 1.0, 0.0, ""
        started = utcnow()
        last_beat = last_dog = last_tick = 0.0
        next_poll = 0.0  # tick at once on start
        due_at: float | None = None
        asked = True
        chase: list[float] = []  # follow-up ticks after an event
        try:
            while not stop.is_set():
                now = time.monotonic()
                if ami is None and now >= retry_at:
                    try:
                        ami = self._connect()
                        backoff, ami_error, asked = 1.0, "", True  # catch up on what was missed
                    except AmiError as exc:
                        ami_error = str(exc) or type(exc).__name__
                        self._observe_ami_error("connect")
                        log.warning("AMI unavailable (retry in %.0f s): %s", backoff, exc)
                        retry_at = now + backoff
                        backoff = min(backoff * 2, 60.0)
                chased = bool(chase) and now >= chase[0]
                due = asked or chased or now >= next_poll or (due_at is not None and now >= due_at)
                if due and now - last_tick >= self.min_gap:
                    if asked:
                        chase = [now + after for after in self.FOLLOW_UP]
                    elif chased:
                        chase = [t for t in chase if t > now]
                    asked = False
                    before = ami.sent if ami is not None else 0
                    report = self._tick(ami)
                    last_tick = time.monotonic()
                    self.ticks += 1
                    if report is None:  # failed: try again after a growing pause
                        next_poll = last_tick + min(self.poll, 2.0**self.failures)
                        due_at = None
                    else:
                        spent = (ami.sent - before) if ami is not None else 0
                        next_poll = last_tick + max(self.poll, spent / self.action_rate)
                        due_at = self._next_due()
                        if report.ami_down:
                            self._observe_ami_error("tick")
                        if report.ami_down and ami is not None:
                            ami.close()
                            ami, ami_error = None, report.ami_down
                        if last_beat == 0.0 or last_tick - last_beat >= self.beat_every or report.ami_down:
                            self._beat(started, report)
                            last_beat = last_tick
                now = time.monotonic()
                if self.healthy.is_set():
                    if now - last_beat >= self.beat_every:
                        self._beat(started, TickReport(ami_down=ami_error))
                        last_beat = now
                    if self.watchdog and now - last_dog >= self.watchdog:
                        sd_notify("WATCHDOG=1")
                        last_dog = now
                # Sleep until the next reason to act (never a busy wait: a tick no sooner than min_gap).
                tick_at = [next_poll, *chase[:1], *([due_at] if due_at is not None else [])]
                if asked:
                    tick_at.append(now)
                wake_at = [max(min(tick_at), last_tick + self.min_gap)]
                if self.healthy.is_set():
                    wake_at.append(last_beat + self.beat_every)
                    if self.watchdog:
                        wake_at.append(last_dog + self.watchdog)
                if ami is None:
                    wake_at.append(max(retry_at, now + self.min_gap))
                events, woken = self._wait(ami, wake, max(0.0, min(wake_at) - time.monotonic()))
                if ami is not None and events:
                    ami.events.extend(e for e in events if e.get("Event") in EVIDENCE_EVENTS)
                    del ami.events[: -ami.max_events]
                if events is None:  # the connection dropped: make a new one, then tick
                    self._observe_ami_error("lost")
                    if ami is not None:
                        ami.close()
                    ami, ami_error, asked = None, "AMI connection lost", True
                elif woken or any(frees_agent(e) for e in events):
                    asked = True
        finally:
            if ami is not None:
                ami.close()
            self.healthy.clear()
        dialer.stopped("serve")
        dialer.drop_service()

    def _connect(self) -> Ami:
        ami = self.dialer.ami_factory()
        try:
            if not ami.subscribe(WAKE_EVENTS + EVIDENCE_EVENTS):
                log.info("AMI: the manager user may not set a Filter; queue events are filtered here")
        except AmiError:
            ami.close()
            raise
        return ami

    def _tick(self, ami: Ami | None) -> TickReport | None:
        """One tick; None when it failed. Database errors are expected (the database comes back);
        anything else is logged with its traceback and the loop goes on."""
        started = time.perf_counter()
        try:
            # Without AMI the tick still replays the journal and expires (it tries AMI once itself).
            report = self.dialer.tick(ami)
        except StoreError as exc:
            # The loop is fine; the database is not (requests go to the journal meanwhile). A restart
            # would not help and would cut FastAGI calls: the watchdog keeps hearing from the loop.
            log.warning("database unavailable: %s", exc)
            self.dialer.drop_service()
            return self._failed(str(exc), healthy=True)
        except Exception as exc:
            log.exception("dialer tick failed")
            self.dialer.drop_service()
            return self._failed(f"{type(exc).__name__}: {exc}", healthy=False)
        finally:
            if self.on_tick is not None:
                self.on_tick(time.perf_counter() - started)
        if report.dialled or report.expired or report.lost or report.hung_up:
            log.info("tick: %s", report.summary())
        self.failures, self.last_error = 0, ""
        self.healthy.set()
        return report

    def _observe_ami_error(self, kind: str) -> None:
        if self.on_ami_error is not None:
            self.on_ami_error(kind)

    def _failed(self, error: str, healthy: bool) -> None:
        self.failures += 1
        self.last_error = error
        if healthy:
            self.healthy.set()
        else:
            self.healthy.clear()

    def _beat(self, started: datetime, report: TickReport) -> None:
        try:
            self.dialer.beat("serve", self.beat_every, started, report)
        except StoreError as exc:
            log.warning("heartbeat not stored: %s", exc)
            self.dialer.drop_service()

    def _next_due(self) -> float | None:
        """When the next request falls due, on the monotonic clock; None when none is in the future
        (one that is due already waits for an agent: the queue's events say when)."""
        try:
            due = self.dialer.service.store.next_due()
        except StoreError:
            self.dialer.drop_service()
            return None
        if due is None:
            return None
        left = (due - self.dialer.service.clock()).total_seconds()
        return time.monotonic() + left if left > 0 else None

    @staticmethod
    def _wait(ami: Ami | None, wake: Waker, timeout: float) -> tuple[list[Message] | None, bool]:
        """Wait up to ``timeout`` for queue events or a wake; (events, woken). Events None: AMI dropped."""
        if wake.is_set():
            wake.clear()
            wake.drain()
            return ([] if ami is None else ami.take_events()), True
        if ami is not None and ami.pending():
            return _read(ami, 0.05)
        fds = wake.filenos() + ([ami.fileno()] if ami is not None else [])
        ready = select.select(fds, [], [], timeout)[0]
        woken = wake.drain() or wake.is_set()
        wake.clear()
        if ami is not None and ami.fileno() in ready:
            events, _ = _read(ami, 0.05)
            return events, woken
        return ([] if ami is None else ami.take_events()), woken


def _read(ami: Ami | None, timeout: float) -> tuple[list[Message] | None, bool]:
    if ami is None:
        return [], False
    try:
        return ami.read_events(timeout), False
    except AmiUnavailable as exc:
        log.warning("AMI: %s", exc)
        return None, False
