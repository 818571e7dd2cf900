"""The service's dialer side: claims, attempt outcomes, recovery, expiry and the journal replay.

Mixed into :class:`freepbx_callback.service.CallbackService` (one service layer, two files); every
status change and its event are one transaction, and a lost race is a normal result, not an error.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import policy
from .journal import Journal, LegEntry
from .models import Attempt, Outcome, QueueSettings, Request, Status
from .store import LostRace, Store

if TYPE_CHECKING:
    from .service import RequestResult


class NotFound(LookupError):
    pass


CANCEL_SWEEP = 600  # seconds after a cancel during which the dialer still hangs up its call


class DialingService:
    store: Store
    clock: Callable[[], datetime]

    if TYPE_CHECKING:

        def get(self, request_id: int) -> Request: ...

        def settings(self, queue: str) -> QueueSettings: ...

        def queue(self, queue: str) -> QueueSettings: ...

        def request(self, queue: str, raw_number: str | None, **details: Any) -> RequestResult: ...

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
                if decision.expires_at is not None:
                    changes["expires_at"] = decision.expires_at
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

    def expire_due(self, queue: str | QueueSettings) -> list[int]:
        """Close pending requests of ``queue`` whose deadline passed (enabled or not: see policy)."""
        settings = queue if isinstance(queue, QueueSettings) else self.queue(queue)
        queue = settings.queue
        now = self.clock()
        expired = []
        for request_id in self.store.pending_past(queue, now):
            with self.store.transaction():
                request = self.store.get_request(request_id, lock=True)
                if request is None or not policy.is_expired(request, settings, now):
                    continue
                self.store.update_request(
                    request_id,
                    Status.PENDING,
                    status=Status.EXPIRED,
                    closed_at=now,
                    last_outcome="not dialled within the window",
                )
                end = policy.deadline(request, settings).isoformat(sep=" ", timespec="seconds")
                self.store.add_event(request_id, now, "expired", f"window ended {end}")
                expired.append(request_id)
        return expired

    # --- cancel: the call under way -----------------------------------------------------------------

    def open_attempt(self, request_id: int) -> Attempt | None:
        """The request's last attempt while it is not closed (its call may be up)."""
        request = self.get(request_id)
        return next(
            (
                a
                for a in self.store.attempts(request_id)
                if a.attempt_no == request.tries and a.ended_at is None
            ),
            None,
        )

    def cancelled_calls(self, within: int = CANCEL_SWEEP) -> list[Attempt]:
        """Open attempts of requests cancelled in the last ``within`` seconds: calls the dialer hangs up
        when the cancel could not (no AMI where it ran)."""
        return self.store.cancelled_open_attempts(self.clock() - timedelta(seconds=within))

    def may_dial_customer(self, request_id: int, attempt_no: int) -> bool:
        """Asked by the callback just before it dials the customer: is ``attempt_no`` still the live
        attempt of a request being dialled? When not (cancelled meanwhile, or given back), the attempt is
        closed as cancelled, not counted, and the customer is not dialled."""
        request = self.store.get_request(request_id)
        if request is not None and request.status is Status.DIALING and request.tries == attempt_no:
            return True
        if request is not None:
            self.record_outcome(request_id, attempt_no, Outcome.CANCELLED)
        return False
