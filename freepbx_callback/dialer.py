"""The callback dialer: one tick (cron; the long-running loop of ``serve`` is in :mod:`loop`).

A tick: replay the journal; give back claims of dialers that died; expire what waited past its window;
then per enabled queue release at most (free agents - callbacks already in flight) due requests, oldest
first, each claimed in the database before anything is dialled. Nothing here decides policy; the
numbers come from AMI and the decisions from :mod:`policy` through the service.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import __version__, policy
from .ami import Ami, AmiError, AmiUnavailable, Message, OriginateRefused
from .dialing import SETTLE_SECONDS
from .journal import Journal
from .models import CONNECTED_AT, Attempt, Heartbeat, Mode, Outcome, QueueSettings, Request
from .service import CallbackService
from .store import StoreError

log = logging.getLogger(__name__)
OUR_CHANNELS = "@qcb-callback-"
AGENT_FIRST = "@qcb-callback-agent-first"
CRON_INTERVAL = 60.0  # the `dial` cron line runs once a minute
_DIAL_TEMPLATE = re.compile(r"[A-Za-z0-9_/@.:{}+-]+")


@dataclass(frozen=True)
class DialerConfig:
    node: str = field(default_factory=socket.gethostname)
    # How the customer is reached: FreePBX's outbound routes; plain Asterisk e.g. PJSIP/{number}@trunk
    dial_template: str = "Local/{number}@from-internal"
    agent_timeout: int = 60  # how long a callback waits in the queue for an agent
    ring_timeout: int = 30  # how long the customer's phone rings
    lease: int = 120
    priority: int = 10
    caller_name: str = "Callback"
    queue_log: bool = True  # write callback events to Asterisk's queue_log (see queue_log.py)

    def settle(self, mode: Mode) -> int:
        """How long a fresh claim counts as in flight without being seen in the queue: agent-first
        callbacks enter it at once; customer-first ones only after the customer answered and pressed 1."""
        if mode is Mode.AGENT_FIRST:
            return SETTLE_SECONDS
        return self.ring_timeout + 2 * SETTLE_SECONDS

    def dial_string(self, number: str) -> str:
        if "{number}" not in self.dial_template or not _DIAL_TEMPLATE.fullmatch(self.dial_template):
            raise policy.PolicyError(f"dial template {self.dial_template!r}: e.g. PJSIP/{{number}}@trunk")
        return self.dial_template.replace("{number}", number)


@dataclass
class TickReport:
    replayed: dict[str, int] = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)
    expired: list[int] = field(default_factory=list)
    dialled: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # claimed, but Originate failed: given back, not counted
    unknown: list[int] = field(default_factory=list)  # Originate sent, no answer: left to recovery
    hung_up: list[int] = field(default_factory=list)  # cancelled requests whose call this tick ended
    logged: int = 0  # queue_log lines written
    ami_down: str = ""

    def summary(self) -> str:
        parts = [f"dialled {len(self.dialled)}", f"expired {len(self.expired)}"]
        if self.lost:
            parts.append(f"originate failed {len(self.lost)}")
        if self.unknown:
            parts.append(f"originate unanswered {len(self.unknown)}")
        if self.hung_up:
            parts.append(f"cancelled calls hung up {len(self.hung_up)}")
        if any(self.replayed.values()):
            parts.append(f"journal {self.replayed}")
        if any(self.recovered.values()):
            parts.append(f"recovered {self.recovered}")
        if self.logged:
            parts.append(f"queue_log lines {self.logged}")
        if self.ami_down:
            parts.append(f"AMI down: {self.ami_down}")
        return ", ".join(parts)


def cdr_mark(request_id: int) -> str:
    """The accountcode of every leg of a callback (Originate's Account; the agent's and the customer's
    channels inherit it), so CDR reports can tell callbacks apart: ``qcb:<request id>``."""
    return f"qcb:{request_id}"


def waiting_ids(callers: list[Message]) -> list[str]:
    """Channel ids (as claimed) of our callbacks waiting in the queue: the queue holds the ``;2`` half
    of the Local channel, whose id is the attempt's channel id with ``;2``."""
    return [
        entry["Uniqueid"].removesuffix(";2")
        for entry in callers
        if OUR_CHANNELS in entry.get("Channel", "") and entry.get("Uniqueid")
    ]


def originate_failures(ami: Ami) -> list[str]:
    """Channel ids of our agent-first Originates that Asterisk reported failed (OriginateResponse
    Failure: the Local channel was never answered, so no agent took it and the customer, who is rung
    only after an agent answers, was never dialled). Consumes our OriginateResponse events from the
    events the client kept. A customer-first Failure is a customer who did not answer: no such proof."""
    events = getattr(ami, "events", None)
    if not isinstance(events, list):
        return []
    failed, keep = [], []
    for event in events:
        channel = event.get("Channel", "")
        if event.get("Event") == "OriginateResponse" and OUR_CHANNELS in channel:
            ours = event.get("Uniqueid", "").startswith("qcb-")
            if ours and AGENT_FIRST in channel and event.get("Response") == "Failure":
                failed.append(event["Uniqueid"])
            continue
        keep.append(event)
    events[:] = keep
    return failed


def end_cancelled_call(ami: Ami, channel_id: str) -> str:
    """Stop the call of a cancelled request (its Originate's ChannelId): "hung up"; "gone" when there is
    no such channel; "connected" when the customer already talks to an agent (that call is left up)."""
    if ami.getvar(channel_id, CONNECTED_AT):
        return "connected"
    return "hung up" if ami.hangup(channel_id) else "gone"


def joined_times(callers: list[Message], now: datetime) -> tuple[int, list[datetime]]:
    """(our callbacks waiting in the queue, when each live caller joined) from QueueStatus entries."""
    ours, live = 0, []
    for entry in callers:
        if OUR_CHANNELS in entry.get("Channel", ""):
            ours += 1
        else:
            wait = int(entry.get("Wait", "0") or 0)
            live.append(now - timedelta(seconds=wait))
    return ours, live


class Dialer:
    def __init__(
        self,
        service: Callable[[], CallbackService],
        ami: Callable[[], Ami],
        journal: Journal,
        config: DialerConfig | None = None,
    ) -> None:
        self.service_factory, self.ami_factory, self.journal = service, ami, journal
        self.config = config or DialerConfig()
        self._service: CallbackService | None = None

    @property
    def service(self) -> CallbackService:
        if self._service is None:
            self._service = self.service_factory()
        return self._service

    def drop_service(self) -> None:
        """Forget the database connection (it failed); the next use makes a new one."""
        if self._service is not None:
            self._service.store.close()
            self._service = None

    def tick(self, ami: Ami | None = None) -> TickReport:
        report = TickReport()
        report.replayed = self.service.replay(self.journal)
        own = ami is None
        if own:
            try:
                ami = self.ami_factory()
            except AmiError as exc:
                report.ami_down = str(exc)
        try:
            if ami is not None:
                report.recovered = self._recover(ami)
                report.hung_up = self._end_cancelled(ami)
            for settings in self.service.queues():
                # A disabled queue's requests expire too (they would hold their numbers forever).
                report.expired += self.service.expire_due(settings)
                if not settings.enabled:
                    continue
                if ami is not None:
                    self._release(ami, settings, report)
            if ami is not None and self.config.queue_log:
                report.logged = self._queue_log(ami)  # after the calls: it never holds one up
        except AmiUnavailable as exc:
            report.ami_down = str(exc)
        finally:
            if own and ami is not None:
                ami.close()
        return report

    def _recover(self, ami: Ami) -> dict[str, int]:
        """Claims past their lease, on evidence from this node's Asterisk; an AMI error reply is no
        evidence (the claims wait for the next tick)."""
        try:
            for channel_id in originate_failures(ami):
                self.service.originate_failed(channel_id)
            return self.service.recover(ami.channel_exists, self.config.lease, self.config.node)
        except AmiUnavailable:
            raise
        except AmiError as exc:
            log.warning("recovery postponed: %s", exc)
            return {}

    def _queue_log(self, ami: Ami) -> int:
        """Write the waiting events to Asterisk's queue_log; a failure costs lines, never the tick."""
        from .queue_log import write_queue_log

        try:
            return write_queue_log(self.service, ami)
        except AmiUnavailable:
            raise
        except (AmiError, StoreError) as exc:
            log.warning("queue_log not written: %s", exc)
            return 0

    def _end_cancelled(self, ami: Ami) -> list[int]:
        """The safety net of ``request cancel``: hang up calls of cancelled requests still under way."""
        ended = []
        for attempt in self.service.cancelled_calls():
            if not attempt.channel_id:
                continue
            try:
                if end_cancelled_call(ami, attempt.channel_id) == "hung up":
                    ended.append(attempt.request_id)
            except AmiUnavailable:
                raise
            except AmiError as exc:
                log.warning("request %s: cancelled call not hung up: %s", attempt.request_id, exc)
        return ended

    def _release(self, ami: Ami, settings: QueueSettings, report: TickReport) -> None:
        try:
            summary = ami.queue_summary(settings.queue)
            callers = ami.queue_callers(settings.queue)
        except AmiUnavailable:
            raise
        except AmiError as exc:
            log.warning("queue %s: %s", settings.queue, exc)
            return
        now = self.service.clock()
        ours, live = joined_times(callers, now)
        free = int(summary.get("Available", "0") or 0)
        placed_before = min(live) if settings.keep_place and live else None
        # The limit (free agents - callbacks in flight) is decided inside the claim's transaction.
        claimed = self.service.claim(
            settings.queue,
            free,
            self.config.node,
            self.config.lease,
            placed_before=placed_before,
            free=free,
            waiting=waiting_ids(callers),
            waiting_here=ours,
            settle=self.config.settle(settings.mode),
        )
        for index, (request, attempt) in enumerate(claimed):
            self.service.originate_sent(attempt)
            try:
                self.originate(ami, settings, request, attempt)
                report.dialled.append(request.id)
            except OriginateRefused as exc:
                log.warning("request %s: %s", request.id, exc)
                self.service.originate_refused(attempt)
                report.lost.append(request.id)
            except AmiUnavailable as exc:
                # Written, but no answer (a timeout, the connection dropped): Asterisk may be dialling.
                # The attempt stays open under its lease; recovery decides on evidence, never blindly.
                log.warning("request %s: originate sent, no answer: %s", request.id, exc)
                report.unknown.append(request.id)
                for later, later_attempt in claimed[index + 1 :]:  # never sent: given back now
                    self.service.record_outcome(later.id, later_attempt.attempt_no, Outcome.LOST)
                    report.lost.append(later.id)
                raise
            except (AmiError, policy.PolicyError) as exc:  # refused before anything was sent
                log.warning("request %s: originate not sent: %s", request.id, exc)
                self.service.originate_refused(attempt)
                report.lost.append(request.id)

    def originate(self, ami: Ami, settings: QueueSettings, request: Request, attempt: Attempt) -> None:
        number = request.number
        variables = {
            "QCB_REQUEST": request.id,
            "QCB_TRY": attempt.attempt_no,
            "QCB_QUEUE": request.queue,
            "QCB_NUMBER": number,
            "QCB_DID": request.did or settings.did or "",
            "QCB_LANG": request.language,
            "QCB_NOTIFY": "1" if settings.notify_agents else "0",
            "QCB_DIAL": self.config.dial_string(number),
            "QCB_PRIO": self.config.priority,
            "QCB_AGENT_TIMEOUT": self.config.agent_timeout,
            "QCB_RING_TIMEOUT": self.config.ring_timeout,
            "QCB_CALLER_NAME": self.config.caller_name,
            "QCB_PROMPT_CALLBACK_FOR": settings.prompt("callback-for"),
            "QCB_PROMPT_INTRO": settings.prompt("customer-intro"),
            "QCB_PROMPT_PRESS1": settings.prompt("press-1-to-connect"),
            "QCB_PROMPT_GOODBYE": settings.prompt("goodbye"),
        }
        if settings.mode is Mode.AGENT_FIRST and self.service.agent_accept(settings.queue):
            variables["QCB_ACCEPT"] = "1"  # the agent presses 1 before the customer is dialled (accept.py)
        # Inherited (__) so that the agent's channel (whisper) sees them too.
        variables = {f"__{k}": v for k, v in variables.items()}
        if settings.mode is Mode.AGENT_FIRST:
            channel, context = f"Local/s{AGENT_FIRST}/n", "qcb-callback-customer"
            timeout = (self.config.agent_timeout + 5) * 1000
        else:
            channel, context = "Local/s@qcb-callback-customer-first/n", "qcb-callback-greet"
            timeout = (self.config.ring_timeout + 5) * 1000
        ami.originate(
            channel,
            context,
            "s",
            1,
            variables=variables,
            channel_id=attempt.channel_id or "",
            timeout_ms=timeout,
            caller_id=f'"{self.config.caller_name}" <{number}>',
            account=cdr_mark(request.id),
        )

    # --- heartbeats (doctor: is a dialer running, can it log in to AMI) -----------------------------

    def beat(self, kind: str, interval: float, started_at: datetime, report: TickReport) -> None:
        self.service.heartbeat(
            Heartbeat(
                node=self.config.node,
                kind=kind,
                pid=os.getpid(),
                version=__version__,
                started_at=started_at,
                tick_seconds=interval,
                ami_ok=not report.ami_down,
                ami_error=report.ami_down or None,
            )
        )

    def stopped(self, kind: str) -> None:
        """Record a clean stop, so doctor tells a stopped dialer from a crashed one."""
        try:
            self.service.node_stopped(self.config.node, kind, os.getpid())
        except StoreError as exc:
            log.warning("could not record the stop: %s", exc)
