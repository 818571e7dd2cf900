"""The long-running dialer loop of ``serve``: ticks the :class:`~dialer.Dialer` until stopped."""

from __future__ import annotations

import logging
import threading
import time

from .ami import Ami, AmiError
from .dialer import Dialer, TickReport
from .service import utcnow
from .store import StoreError

log = logging.getLogger(__name__)
# Queue events after which an agent may be free for a callback (or a callback left the queue): each one
# makes the loop tick; nothing else is subscribed.
WAKE_EVENTS = (
    "QueueMemberStatus",  # device state of a member: free again after a call, logged in or out
    "QueueMemberPause",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "AgentComplete",  # a queue call with an agent ended
    "AgentRingNoAnswer",  # the agent did not take it: free for the next
    "QueueCallerLeave",  # a caller (or our callback) left the queue
    "QueueCallerAbandon",
)


class DialerLoop:
    def __init__(self, dialer: Dialer, poll: float = 2.0) -> None:
        self.dialer, self.poll = dialer, poll

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Tick until ``stop``: at once when ``wake`` is set (a new request), else every ``poll`` seconds
        or at the next due time, with a heartbeat after each tick (at most two per ``poll``). AMI is kept
        connected and re-made with backoff when it drops; meanwhile the loop keeps beating (AMI down)."""
        dialer, poll = self.dialer, self.poll
        ami: Ami | None = None
        backoff, retry_at, ami_error = 1.0, 0.0, ""
        started, last_beat, last_ami_ok = utcnow(), 0.0, None
        while not stop.is_set():
            if ami is None and time.monotonic() >= retry_at:
                try:
                    ami = dialer.ami_factory()
                    backoff, ami_error = 1.0, ""
                except AmiError as exc:
                    ami_error = str(exc) or type(exc).__name__
                    log.warning("AMI unavailable (retry in %.0f s): %s", backoff, exc)
                    retry_at = time.monotonic() + backoff
                    backoff = min(backoff * 2, 60.0)
            try:
                report = (
                    dialer.tick(ami) if ami is not None else TickReport(ami_down=ami_error or "not connected")
                )
                if report.dialled or report.expired or report.lost:
                    log.info("tick: %s", report.summary())
                if report.ami_down and ami is not None:
                    ami.close()
                    ami = None
                    ami_error = report.ami_down
                now = time.monotonic()
                if now - last_beat >= poll / 2 or last_ami_ok != (not report.ami_down):
                    dialer.beat("serve", poll, started, report)
                    last_beat, last_ami_ok = now, not report.ami_down
            except StoreError as exc:
                log.warning("database unavailable: %s", exc)
                dialer.drop_service()
            wake.wait(self._sleep(poll) if ami is not None else poll)
            wake.clear()
        if ami is not None:
            ami.close()
        dialer.stopped("serve")
        dialer.drop_service()

    def _sleep(self, poll: float) -> float:
        dialer = self.dialer
        try:
            due = dialer.service.store.next_due()
        except StoreError:
            dialer.drop_service()
            return poll
        if due is None:
            return poll
        return max(0.05, min(poll, (due - dialer.service.clock()).total_seconds()))
