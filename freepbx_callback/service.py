"""The one service layer: every entry point (AGI, FastAGI, CLI, the FreePBX page) goes through here.

It combines pure policy with the store. Each status change and its event row are written in one
transaction, and the caller hears nothing until that commit has returned.
"""

from __future__ import annotations

import secrets
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import numbers, policy
from .journal import Journal, LegEntry
from .models import Attempt, Mode, Outcome, QueueSettings, Request, Stats, Status
from .store import DuplicateCall, DuplicateOpenRequest, LostRace, Store


def utcnow() -> datetime:
    """Naive UTC with millisecond precision (what DATETIME(3) keeps)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
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


QUEUE_FIELDS = {f for f in QueueSettings.__dataclass_fields__ if f != "queue"}


class CallbackService:
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

    def queues(self) -> list[QueueSettings]:
        return self.store.list_queues()

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
            settings = policy.validate_settings((current or QueueSettings(queue=queue)).replace(**changes))
            self.store.save_queue(settings, self.clock())
        return settings

    def delete_queue(self, queue: str) -> int:
        """Forget a queue's settings (the queue was deleted); its open requests are cancelled."""
        policy.validate_queue_name(queue)
        cancelled = self.store.open_ids(queue)
        for request_id in cancelled:
            self.cancel(request_id)
        if not self.store.delete_queue(queue) and not cancelled:
            raise NotFound(f"queue {queue} has no callback settings")
        return len(cancelled)

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
    ) -> RequestResult:
        """Store a callback request, or say why not. Durable before it returns."""
        policy.validate_queue_name(queue)
        if did is not None:
            try:
                did = numbers.clean(did)
            except numbers.InvalidNumber as exc:
                return RequestResult("invalid", f"DID: {exc}", reason=exc.reason.value)
        try:
            return self._request(
                queue, raw_number, did, language, uniqueid, position, waited, source, requested_at
            )
        except DuplicateOpenRequest:
            # Lost the insert race to a concurrent caller: the unique key kept the second row out.
            existing = self.store.find_open(queue, numbers.clean(raw_number))
            if existing is None:
                raise
            return self._duplicate(existing)
        except DuplicateCall:
            # This very call was stored before (a journal replay that was interrupted after the insert).
            stored = self.store.find_by_call(uniqueid or "")
            if stored is None:
                raise
            return RequestResult(
                "duplicate", f"request {stored.id} already holds call {uniqueid}", stored, reason="same_call"
            )

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
    ) -> RequestResult:
        with self.store.transaction():
            settings = self.store.get_queue(queue, lock=True)  # serialises max_pending per queue
            if settings is None:
                settings = QueueSettings(queue=queue)
            try:
                number = numbers.parse(raw_number, settings.region)
            except numbers.InvalidNumber as exc:
                return RequestResult("invalid", str(exc), reason=exc.reason.value)
            existing = self.store.find_open(queue, number.dial)
            if existing is not None:
                return self._duplicate(existing)
            refusal = policy.refusal(settings, number, self.store.count_open(queue))
            if refusal is not None:
                return RequestResult(refusal.code, refusal.message, reason=refusal.code)
            now = requested_at or self.clock()
            fields = {
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
                "requested_at": now,
                "next_attempt_at": now,
            }
            request_id = self.store.insert_request(fields)
            self.store.add_event(request_id, now, "requested", f"{source} {number.dial}")
            created = self.store.get_request(request_id)
        assert created is not None
        return RequestResult(
            "created", f"request {request_id}: callback to {number.dial} in queue {queue}", created
        )

    def replay(self, journal: Journal) -> dict[str, int]:
        """Store what was journaled while the database was down; each file is stored exactly once."""
        counts = {"stored": 0, "duplicate": 0, "rejected": 0}
        for path, entry in journal.pending():
            if isinstance(entry, LegEntry):
                try:
                    self.apply_leg(
                        entry.request_id,
                        entry.attempt_no,
                        Outcome(entry.outcome) if entry.outcome else None,
                        entry.talk_seconds,
                        entry.agent,
                    )
                except (NotFound, ValueError) as exc:
                    journal.set_aside(path, str(exc))
                    counts["rejected"] += 1
                    continue
                journal.remove(path)
                counts["stored"] += 1
                continue
            try:
                result = self.request(
                    entry.queue,
                    entry.number,
                    did=entry.did,
                    language=entry.language,
                    uniqueid=entry.uniqueid,
                    position=entry.position,
                    waited=entry.waited,
                    source="journal",
                    requested_at=datetime.fromisoformat(entry.requested_at),
                )
            except (ValueError, policy.PolicyError) as exc:
                journal.set_aside(path, str(exc))
                counts["rejected"] += 1
                continue
            if result.accepted:
                journal.remove(path)
                counts["stored" if result.kind == "created" else "duplicate"] += 1
            else:
                journal.set_aside(path, f"{result.kind}: {result.message}")
                counts["rejected"] += 1
        return counts

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
        if request.status is Status.PENDING:
            with self.store.transaction():
                self.store.update_request(request_id, Status.PENDING, next_attempt_at=self.clock())
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
                next_attempt_at=self.clock(),
                claimed_by=None,
                lease_until=None,
            )
        except DuplicateOpenRequest as exc:
            raise policy.PolicyError(f"cannot reopen request {request_id}: {exc}") from None

    def purge(self, older_than: int) -> int:
        return self.store.purge_closed(self.clock() - timedelta(seconds=older_than))

    def stats(self, since: int | None = None) -> Stats:
        start = self.clock() - timedelta(seconds=since) if since else None
        counts = self.store.status_counts(start)
        waits = self.store.seconds_to_callback(start)
        median = round(statistics.median(waits), 1) if waits else None
        return Stats(
            since=start, by_status=counts, requested=sum(counts.values()), median_seconds_to_callback=median
        )

    # --- dialer side --------------------------------------------------------------------------------

    def claim(
        self, queue: str, limit: int, node: str, lease: int = 120, placed_before: datetime | None = None
    ) -> list[tuple[Request, Attempt]]:
        """Atomically move up to ``limit`` due requests to dialing and open their attempt rows.

        Losing a race (another dialer, a Galera certification failure) returns fewer or none, never
        raises: whoever's conditional UPDATE changed the row owns the attempt.
        """
        if limit <= 0:
            return []
        now = self.clock()
        claimed: list[Attempt] = []
        try:
            with self.store.transaction():
                for request_id in self.store.pick_due(queue, now, limit, placed_before):
                    request = self.store.get_request(request_id)
                    if request is None or not policy.is_due(request, now):
                        continue
                    attempt = Attempt(
                        request_id,
                        request.tries + 1,
                        now,
                        node,
                        channel_id=f"qcb-{request_id}-{request.tries + 1}-{secrets.token_hex(3)}",
                    )
                    won = self.store.update_request(
                        request_id,
                        Status.PENDING,
                        status=Status.DIALING,
                        tries=attempt.attempt_no,
                        claimed_by=node,
                        lease_until=now + timedelta(seconds=lease),
                    )
                    if won:
                        self.store.insert_attempt(attempt)
                        self.store.add_event(
                            request_id, now, "claimed", f"try {attempt.attempt_no} by {node}"
                        )
                        claimed.append(attempt)
        except LostRace:
            return []
        return [(self.get(a.request_id), a) for a in claimed]

    def record_outcome(
        self,
        request_id: int,
        attempt_no: int,
        outcome: Outcome,
        talk_seconds: int = 0,
        agent: str | None = None,
    ) -> Request:
        """Close attempt ``attempt_no`` and move the request on as the policy says (idempotent)."""
        now = self.clock()
        with self.store.transaction():
            request = self.store.get_request(request_id, lock=True)
            if request is None:
                raise NotFound(f"no request {request_id}")
            finished = self.store.finish_attempt(
                Attempt(
                    request_id,
                    attempt_no,
                    now,
                    ended_at=now,
                    outcome=outcome.value,
                    agent=agent or None,
                    talk_seconds=talk_seconds,
                    counted=outcome.counted,
                )
            )
            if not finished or request.status is not Status.DIALING or request.tries != attempt_no:
                return request  # already recorded, or a stale report of an older attempt
            settings = self.settings(request.queue)
            counted = request.attempts + (1 if outcome.counted else 0)
            decision = policy.after_outcome(settings, counted, outcome, talk_seconds, now)
            changes: dict[str, Any] = {
                "status": decision.status,
                "attempts": counted,
                "last_outcome": decision.reason,
                "claimed_by": None,
                "lease_until": None,
            }
            if decision.status is Status.PENDING:
                changes["next_attempt_at"] = decision.next_attempt_at
            else:
                changes["closed_at"] = now
            self.store.update_request(request_id, Status.DIALING, **changes)
            detail = f"try {attempt_no}: {decision.reason}" + (f" (agent {agent})" if agent else "")
            self.store.add_event(request_id, now, decision.status.value, detail)
        return self.get(request_id)

    def apply_leg(
        self,
        request_id: int,
        attempt_no: int,
        outcome: Outcome | None,
        talk_seconds: int = 0,
        agent: str | None = None,
    ) -> Request:
        """One leg of a callback ended: an outcome closes the attempt; without one, only note the agent."""
        if outcome is not None:
            return self.record_outcome(request_id, attempt_no, outcome, talk_seconds, agent)
        if agent:
            self.store.set_attempt_agent(request_id, attempt_no, agent)
        return self.get(request_id)

    def recover(self, channel_alive: Callable[[str], bool], lease: int = 120) -> dict[str, int]:
        """Requests left in dialing past their lease (a dialer that died): keep the ones whose call is
        still up, give the others back to the queue without using up an attempt."""
        now = self.clock()
        counts = {"extended": 0, "released": 0}
        for request in self.store.dialing():
            if request.lease_until is None or request.lease_until > now:
                continue
            attempt = next(
                (a for a in self.store.attempts(request.id) if a.attempt_no == request.tries), None
            )
            if attempt is not None and attempt.channel_id and channel_alive(attempt.channel_id):
                self.store.update_request(
                    request.id, Status.DIALING, lease_until=now + timedelta(seconds=lease)
                )
                counts["extended"] += 1
            else:
                self.record_outcome(request.id, request.tries, Outcome.LOST)
                counts["released"] += 1
        return counts

    def recently_claimed(self, queue: str, seconds: int = 15) -> int:
        """Callbacks of ``queue`` dialled in the last ``seconds`` (maybe not yet visible in the queue)."""
        return self.store.recent_claims(queue, self.clock() - timedelta(seconds=seconds))

    def expire_due(self, queue: str) -> list[int]:
        """Close pending requests of ``queue`` whose window passed with no free agent."""
        settings = self.queue(queue)
        now = self.clock()
        expired = []
        for request_id in self.store.pending_past(queue, now - timedelta(seconds=settings.window)):
            with self.store.transaction():
                request = self.store.get_request(request_id, lock=True)
                if request is None or not policy.is_expired(request, settings, now):
                    continue
                self.store.update_request(
                    request_id,
                    Status.PENDING,
                    status=Status.EXPIRED,
                    closed_at=now,
                    last_outcome="no free agent within the window",
                )
                self.store.add_event(request_id, now, "expired", f"window {settings.window}s passed")
                expired.append(request_id)
        return expired
