"""The one service layer: every entry point (AGI, FastAGI, CLI, the FreePBX page) goes through here.

It combines pure policy with the store. Each status change and its event row are written in one
transaction, and the caller hears nothing until that commit has returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from . import numbers, policy
from .accept import AcceptService
from .dialing import DialingService, NotFound
from .models import Attempt, Heartbeat, Mode, NodeStatus, QueueSettings, Request, Stats, Status
from .records import fields, record
from .service_alerts import AlertsService
from .service_backup import BackupService, RestoreReport
from .service_reports import ReportsService
from .store import DuplicateCall, DuplicateOpenRequest, LostRace, Store

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from typing import Any


# Imported where used, not here: the agi-bin request handler starts a process per call and loads this
# module; the dialplan renderer (jinja2), backups, statistics and random are not on its path.

__all__ = ["CallbackService", "NotFound", "RequestResult", "RestoreReport", "utcnow"]


def utcnow() -> datetime:
    """Naive UTC with millisecond precision (what DATETIME(3) keeps)."""
    return _ms(datetime.now(UTC).replace(tzinfo=None))


def _ms(moment: datetime) -> datetime:
    """``moment`` cut to the millisecond, as a DATETIME(3) column keeps it."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@record(frozen=True)
class RequestResult:
    """What happened to a callback request: created, duplicate, invalid, blocked, limit or disabled."""

    kind: str
    message: str
    request: Request | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        """The caller is covered: a new or an existing open request holds their number."""
        return self.kind in ("created", "duplicate")


LOST_RACE_TRIES = 8  # a request that keeps losing races to concurrent writers gives up after this many
QUEUE_FIELDS = {f for f in fields(QueueSettings) if f != "queue"}


def _rendered(settings: QueueSettings | None) -> str | None:
    """What the dialplan and queues.conf hold for one queue (None: stored settings that cannot render)."""
    from .dialplan.render import RenderError, render

    try:
        out = render([settings] if settings is not None else [], "freepbx")
    except (RenderError, policy.PolicyError):
        return None
    return out.extensions + out.queues_conf


class CallbackService(DialingService, ReportsService, AlertsService, AcceptService, BackupService):
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.clock = store, clock

    # --- queues -------------------------------------------------------------------------------------

    def queue(self, queue: str) -> QueueSettings:
        settings = self.store.get_queue(policy.validate_queue_name(queue))
        if settings is None:
            raise NotFound(f"queue {queue} has no callback settings (set them with: queue set {queue} ...)")
        return settings

    def settings(self, queue: str) -> QueueSettings:
        """The queue's settings, or the defaults (callback off) for a queue never configured."""
        return self.store.get_queue(queue) or QueueSettings(queue=queue)

    def queue_or_defaults(self, queue: str) -> tuple[QueueSettings, bool]:
        """The queue's settings and True, or the defaults (callback off) and False for one never set."""
        name = policy.validate_queue_name(queue)
        stored = self.store.get_queue(name)
        return (stored or QueueSettings(queue=name)), stored is not None

    def queues(self) -> list[QueueSettings]:
        return self.store.list_queues()

    def time_groups(self) -> list[tuple[int, str]]:
        """FreePBX's Time Groups a queue may take as its callback hours (none on plain Asterisk)."""
        return self.store.time_groups()

    def set_queue(self, queue: str, **changes: Any) -> QueueSettings:
        unknown = set(changes) - QUEUE_FIELDS
        if unknown:
            raise policy.PolicyError(f"unknown queue setting(s): {', '.join(sorted(unknown))}")
        if "mode" in changes and not isinstance(changes["mode"], Mode):
            try:
                changes["mode"] = Mode(changes["mode"])
            except ValueError:
                raise policy.PolicyError(f"mode {changes['mode']!r}: agent-first or customer-first") from None
        if "region" in changes:
            changes["region"] = str(changes["region"]).upper()
        with self.store.transaction():
            current = self.store.get_queue(policy.validate_queue_name(queue), lock=True)
            accepting = self.accepting()
            settings = policy.validate_settings((current or QueueSettings(queue=queue)).replace(**changes))
            self.store.save_queue(settings, self.clock())
            self._dialplan_changed(current, settings)
            if self.accepting() != accepting:  # agent acceptance lines come or go (accept.py)
                self.store.flag_freepbx_reload()
        return settings

    def delete_queue(self, queue: str) -> int:
        """Forget a queue's settings (the queue was deleted); its open requests are cancelled, in one
        transaction (a caller pressing 1 meanwhile waits for it and is then refused)."""
        policy.validate_queue_name(queue)
        with self.store.transaction():
            current = self.store.get_queue(queue, lock=True)
            cancelled = self.store.open_ids(queue)
            for request_id in cancelled:
                self.cancel(request_id)
            if not self.store.delete_queue(queue) and not cancelled:
                raise NotFound(f"queue {queue} has no callback settings")
            self._dialplan_changed(current, None)
        return len(cancelled)

    def _dialplan_changed(self, before: QueueSettings | None, after: QueueSettings | None) -> None:
        """On FreePBX, raise Apply Config when a queue change alters the rendered dialplan (settings read
        at call time, such as attempts or the DID, need no reload)."""
        if _rendered(before) != _rendered(after):
            self.store.flag_freepbx_reload()

    # --- dialer health -------------------------------------------------------------------------------

    def heartbeat(self, beat: Heartbeat) -> None:
        self.store.save_heartbeat(beat)

    def node_stopped(self, node: str, kind: str, pid: int) -> None:
        """A dialer stopped on purpose (not a crash); only the process that beat last can say so."""
        self.store.mark_stopped(node, kind, pid)

    def nodes(self) -> list[NodeStatus]:
        """Every dialer's last heartbeat, newest first."""
        out = []
        for row in self.store.nodes():
            row["pid"], row["tick_seconds"] = int(row["pid"]), float(row["tick_seconds"])
            row["age_s"] = max(0.0, float(row["age_s"]))
            row["ami_ok"] = None if row["ami_ok"] is None else bool(row["ami_ok"])
            up = policy.node_up(row["age_s"], row["tick_seconds"], row["stopped_at"] is not None)
            out.append(NodeStatus(**row, up=up))
        return out

    # --- requests -----------------------------------------------------------------------------------

    def request(
        self,
        queue: str,
        raw_number: str | None,
        *,
        did: str | None = None,
        language: str | None = None,
        uniqueid: str | None = None,
        position: int | None = None,
        waited: int | None = None,
        source: str = "cli",
        requested_at: datetime | None = None,
        when: str | datetime = "asap",
        settings: QueueSettings | None = None,
    ) -> RequestResult:
        """Store a callback request, or say why not. Durable before it returns. ``when``: the caller's
        choice of time (policy.WHEN_CHOICES), taken where the queue offers it; or a time (naive UTC) an
        API client chose, whatever the queue offers. ``settings``: the queue's, as the caller just read
        them (saves reading them again where the queue has no limit)."""
        policy.validate_queue_name(queue)
        if not isinstance(when, datetime) and when not in policy.WHEN_CHOICES:
            raise policy.PolicyError(f"when {when!r}: one of {', '.join(policy.WHEN_CHOICES)}")
        if did is not None:
            try:
                did = numbers.clean(did)
            except numbers.InvalidNumber as exc:
                return RequestResult("invalid", f"DID: {exc}", reason=exc.reason.value)
        try:
            return self._request_retrying(
                queue,
                raw_number,
                did,
                language,
                uniqueid,
                position,
                waited,
                source,
                requested_at,
                when,
                settings,
            )
        except DuplicateOpenRequest as exc:
            # An open request for the number: the unique key kept the second row out (also when a
            # concurrent caller's insert won the race).
            existing = self.store.find_open(queue, exc.number)
            if existing is None:
                raise
            return self._duplicate(existing)
        except DuplicateCall:
            # This very call was stored before (a journal replay that was interrupted after the insert).
            stored = self.store.find_by_call(uniqueid or "", queue, numbers.clean(raw_number))
            if stored is None:
                raise
            return RequestResult(
                "duplicate", f"request {stored.id} already holds call {uniqueid}", stored, reason="same_call"
            )

    def _request_retrying(self, *args: Any) -> RequestResult:
        """``_request``, again when it lost a race (a deadlock, or a Galera node whose concurrent request
        for the same queue or number was certified first): the next run sees the winner's row."""
        for attempt in range(LOST_RACE_TRIES - 1):
            try:
                return self._request(*args)
            except LostRace:
                import random

                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not a secret
        return self._request(*args)

    def _request(
        self,
        queue: str,
        raw_number: str | None,
        did: str | None,
        language: str | None,
        uniqueid: str | None,
        position: int | None,
        waited: int | None,
        source: str,
        requested_at: datetime | None,
        when: str | datetime = "asap",
        known: QueueSettings | None = None,
    ) -> RequestResult:
        with self.store.transaction():
            settings = known
            if settings is None or settings.max_pending is not None:
                # the row lock serialises the requests of a queue with a limit (max_pending)
                settings = self.store.get_queue(queue, lock=True) or QueueSettings(queue=queue)
            try:
                number = numbers.parse(raw_number, settings.region)
            except numbers.InvalidNumber as exc:
                return RequestResult("invalid", str(exc), reason=exc.reason.value)
            if settings.max_pending is not None:
                # A caller who already has an open request is told so, not refused by the limit it counts
                # towards. One number, however it was written: its E.164 form (or its digits, let in by a
                # pattern). Without a limit the insert below finds the open request (its unique key).
                existing = self.store.find_open(queue, number.e164 or number.dial)
                if existing is not None:
                    return self._duplicate(existing)
                # The row lock above is local to one Galera node; a write to the queue's row makes two
                # nodes' concurrent requests conflict, so the count below cannot be passed cluster-wide.
                self.store.bump_admissions(queue)
            # The open requests are counted only for a queue with a limit (without one, none is checked).
            open_now = self.store.count_open(queue) if settings.max_pending is not None else None
            refusal = policy.refusal(settings, number, open_now)
            if refusal is not None:
                return RequestResult(refusal.code, refusal.message, reason=refusal.reason)
            # The window starts when the request reaches the database: a journaled request keeps the
            # time of the key press but is not expired for the outage it waited through.
            stored_at = self.clock()
            now = requested_at or stored_at
            schedule = self.schedule(settings)
            # The caller's chosen time, where the queue offers a choice; the window counts from it.
            if isinstance(when, datetime):
                start = max(when, stored_at)
            else:
                start = policy.chosen_time(when, schedule, stored_at) if settings.offer_times else stored_at
            row = {
                "queue": queue,
                "number": number.dial,
                "e164": number.e164,
                "did": did or settings.did,
                "language": language if language in ("en", "ru") else settings.language,
                "caller_uniqueid": uniqueid,
                "position": position,
                "waited": waited,
                "source": source,
                "status": Status.PENDING.value,
                "attempts": 0,
                # times as the DATETIME(3) columns hold them, so the row below equals a read of it
                "requested_at": _ms(now),
                "next_attempt_at": _ms(policy.first_due(schedule, start)),  # out of hours: the opening
                "expires_at": _ms(policy.window_end(start, settings, schedule)),
            }
            request_id = self.store.insert_request(row)
            late = f", stored {stored_at.isoformat(sep=' ', timespec='seconds')}" if stored_at > now else ""
            chosen = f", {when}" if start > stored_at else ""
            self.store.add_event(request_id, now, "requested", f"{source} {number.dial}{late}{chosen}")
            self._alert(request_id, "new", stored_at, queue)
        # what the database now holds, without reading it back (the columns left out keep their defaults)
        created = Request(id=request_id, **(row | {"status": Status.PENDING}))
        return RequestResult(
            "created", f"request {request_id}: callback to {number.dial} in queue {queue}", created
        )

    def _duplicate(self, existing: Request) -> RequestResult:
        return RequestResult(
            "duplicate",
            f"request {existing.id} is already open for {existing.number} in queue {existing.queue}",
            existing,
            reason="duplicate",
        )

    def get(self, request_id: int) -> Request:
        request = self.store.get_request(request_id)
        if request is None:
            raise NotFound(f"no request {request_id}")
        return request

    def history(self, request_id: int) -> tuple[list[Attempt], list[tuple[datetime, str, str]]]:
        return self.store.attempts(request_id), self.store.events(request_id)

    def list(
        self, status: Status | None = None, queue: str | None = None, limit: int = 1000
    ) -> list[Request]:
        return self.store.list_requests(status, queue, limit)

    def _change(self, request_id: int, new: Status, event: str, **extra: Any) -> Request:
        now = self.clock()
        with self.store.transaction():
            request = self.store.get_request(request_id, lock=True)
            if request is None:
                raise NotFound(f"no request {request_id}")
            policy.check_transition(request.status, new)
            closing = not new.is_open
            self.store.update_request(
                request_id, request.status, status=new, closed_at=now if closing else None, **extra
            )
            self.store.add_event(request_id, now, event, f"{request.status.value} -> {new.value}")
        return self.get(request_id)

    def cancel(self, request_id: int) -> Request:
        return self._change(request_id, Status.CANCELLED, "cancelled", lease_until=None)

    def retry(self, request_id: int) -> Request:
        """Put a request back in line now: a closed one reopens with a fresh set of attempts."""
        request = self.get(request_id)
        settings = self.settings(request.queue)
        schedule = self.schedule(settings)
        now = policy.first_due(schedule, self.clock())  # out of hours: at the opening
        expires_at = policy.window_end(now, settings, schedule)  # a fresh window
        if request.status is Status.PENDING:
            with self.store.transaction():
                self.store.update_request(
                    request_id, Status.PENDING, next_attempt_at=now, expires_at=expires_at
                )
                self.store.add_event(request_id, self.clock(), "retry", "due now")
            return self.get(request_id)
        if request.status is Status.DIALING:
            raise policy.PolicyError(f"request {request_id} is being dialled now")
        try:
            return self._change(
                request_id,
                Status.PENDING,
                "retry",
                attempts=0,
                next_attempt_at=now,
                expires_at=expires_at,
                claimed_by=None,
                lease_until=None,
            )
        except DuplicateOpenRequest as exc:
            raise policy.PolicyError(f"cannot reopen request {request_id}: {exc}") from None

    def reschedule(self, request_id: int, at: datetime) -> Request:
        """Move a pending request to ``at`` (not before then; within the queue's hours); its window counts
        from then."""
        now = self.clock()
        if at < now - timedelta(seconds=1):
            raise policy.PolicyError(f"{at.isoformat(sep=' ', timespec='seconds')} is in the past")
        with self.store.transaction():
            request = self.store.get_request(request_id, lock=True)
            if request is None:
                raise NotFound(f"no request {request_id}")
            if request.status is not Status.PENDING:
                raise policy.PolicyError(
                    f"request {request_id} is {request.status.value}: only a pending one moves"
                )
            settings = self.settings(request.queue)
            schedule = self.schedule(settings)
            due = policy.first_due(schedule, at)
            self.store.update_request(
                request_id,
                Status.PENDING,
                next_attempt_at=due,
                expires_at=policy.window_end(at, settings, schedule),
            )
            self.store.add_event(
                request_id, now, "rescheduled", f"due {due.isoformat(sep=' ', timespec='seconds')}"
            )
        return self.get(request_id)

    def purge(self, older_than: int) -> int:
        before = self.clock() - timedelta(seconds=older_than)
        self.store.purge_alerts(before)  # sent or given up that long ago
        return self.store.purge_closed(before)

    def stats(self, since: int | None = None) -> Stats:
        start = self.clock() - timedelta(seconds=since) if since else None
        counts = self.store.status_counts(start)
        waits = self.store.seconds_to_callback(start)
        import statistics

        median = round(statistics.median(waits), 1) if waits else None
        return Stats(
            since=start, by_status=counts, requested=sum(counts.values()), median_seconds_to_callback=median
        )
