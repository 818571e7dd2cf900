"""The service's dialer side: claims, attempt outcomes, recovery, expiry and the journal replay.

Mixed into :class:`freepbx_callback.service.CallbackService` (one service layer, two files); every
status change and its event are one transaction, and a lost race is a normal result, not an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from . import hours, numbers, policy
from .journal import Journal, LegEntry
from .models import Attempt, Outcome, QueueSettings, Request, Status
from .store import LostRace, Store

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from typing import Any

    from .service import RequestResult


class NotFound(LookupError):
    pass


SETTLE_SECONDS = 15  # a claim younger than this may not be waiting in the queue yet
CANCEL_SWEEP = 600  # seconds after a cancel during which the dialer still hangs up its call


def _readable(line: str) -> bool:
    try:
        hours.parse_rule(line)
    except hours.HoursError:
        return False
    return True


class DialingService:
    store: Store
    clock: Callable[[], datetime]

    if TYPE_CHECKING:

        def get(self, request_id: int) -> Request: ...

        def settings(self, queue: str) -> QueueSettings: ...

        def queue(self, queue: str) -> QueueSettings: ...

        def request(self, queue: str, raw_number: str | None, **details: Any) -> RequestResult: ...

        def _alert(self, request_id: int, kind: str, at: datetime, queue: str | None = None) -> None: ...

    def schedule(self, settings: QueueSettings) -> hours.Schedule:
        """The queue's callback hours: its FreePBX Time Group when it names one (read now, so a change in
        FreePBX applies at once; a group deleted there leaves the queue closed), else its own rules."""
        if settings.timegroup is None:
            return hours.schedule(settings.hours, settings.timezone)
        lines = self.store.time_group(settings.timegroup)
        if lines is None:
            return hours.schedule(["00:00-00:00|*|30|feb"], settings.timezone)  # never opens
        try:
            return hours.schedule(lines, settings.timezone)
        except hours.HoursError:
            return hours.schedule([line for line in lines if _readable(line)], settings.timezone)

    def when_due(self, request: Request) -> datetime:
        """When the request's next attempt may start: its due time, or its queue's next opening."""
        return policy.first_due(self.schedule(self.settings(request.queue)), request.next_attempt_at)

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
        self,
        queue: str,
        limit: int,
        node: str,
        lease: int = 120,
        placed_before: datetime | None = None,
        *,
        free: int | None = None,
        waiting: Collection[str] = (),
        waiting_here: int = 0,
        settle: int = SETTLE_SECONDS,
    ) -> list[tuple[Request, Attempt]]:
        """Atomically move up to ``limit`` due requests to dialing and open their attempt rows.

        With ``free`` (agents Asterisk reports available) the release limit is decided here, in the
        same transaction, so it is one limit for every dialer and node: the transaction first writes the
        queue's row, then counts the callbacks in flight (see :meth:`in_flight`) and claims at most
        ``free`` minus those. ``waiting`` holds the channel ids of our callbacks seen waiting in the
        queue, ``waiting_here`` how many of our callbacks were seen there (ids or not), ``settle`` how
        long a fresh claim counts although it was not seen there (it may still be on its way: in
        customer-first, the customer's phone rings and hears the greeting first).

        Losing a race (another dialer, a Galera certification failure) returns fewer or none, never
        raises: whoever's conditional UPDATE changed the row owns the attempt.
        """
        if limit <= 0 or (free is not None and free <= 0):
            return []
        now = self.clock()
        if not hours.open_at(self.schedule(self.settings(queue)), now):
            return []  # outside the queue's callback hours
        if free is not None and not self.store.has_due(queue, now):
            return []  # nothing to claim: no write (an idle tick writes nothing, also on Galera)
        claimed: list[Attempt] = []
        try:
            with self.store.transaction():
                if free is not None:
                    self.store.bump_claim_seq(queue)
                    busy = max(waiting_here, self.in_flight(queue, waiting, settle))
                    limit = policy.release_count(free, busy, limit)
                    if limit <= 0:
                        return []
                settings = self.settings(queue)
                for request_id in self.store.pick_due(queue, now, limit, placed_before):
                    request = self.store.get_request(request_id)
                    if request is None or not policy.is_due(request, now):
                        continue
                    if self._refused_at_dial_time(request, settings, now):
                        continue
                    attempt = Attempt(
                        request_id,
                        request.tries + 1,
                        now,
                        node,
                        channel_id=f"qcb-{request_id}-{request.tries + 1}-{os.urandom(3).hex()}",
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

    def _refused_at_dial_time(self, request: Request, settings: QueueSettings, now: datetime) -> bool:
        """The number rules again, last thing before a number is dialled: a request stored before they
        were stricter (an upgrade), or before the queue's allowances changed, is cancelled, not dialled."""
        try:
            refused = policy.number_refusal(settings, numbers.parse(request.number, settings.region))
        except numbers.InvalidNumber as exc:
            refused = policy.Refusal("invalid", str(exc), exc.reason.value)
        if refused is None:
            return False
        self.store.update_request(
            request.id,
            Status.PENDING,
            status=Status.CANCELLED,
            closed_at=now,
            last_outcome=f"not dialled: {refused.reason or refused.code}"[:64],
        )
        self.store.add_event(request.id, now, "cancelled", f"not dialled: {refused.message}")
        return True

    def in_flight(self, queue: str, waiting: Collection[str] = (), settle: int = SETTLE_SECONDS) -> int:
        """Callbacks of ``queue`` that are claimed, not ended and not yet taken by an agent, as far as the
        database and this node's Asterisk know: those seen waiting in the queue (``waiting``) plus every
        claim younger than ``settle`` seconds on any node (it may not have reached a queue yet).
        A callback an agent took makes that agent busy, so Asterisk no longer reports it free."""
        return self.store.in_flight(queue, waiting, self.clock() - timedelta(seconds=settle))

    def originate_sent(self, attempt: Attempt) -> None:
        """Note, before a byte goes to Asterisk, that this attempt's Originate is being sent: from now on
        only evidence (an explicit refusal, the channel, its outcome) says whether it was dialled."""
        self.store.set_originate(attempt.request_id, attempt.attempt_no, "sent")

    def originate_failed(self, channel_id: str) -> None:
        """Asterisk reported the agent-first Originate of ``channel_id`` failed (no agent answered):
        evidence the customer was never dialled, used by recovery if no outcome arrives."""
        parts = channel_id.split("-")  # qcb-<request id>-<try>-<random>, as claim() made it
        if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
            self.store.originate_failed(int(parts[1]), int(parts[2]), channel_id)

    def originate_refused(self, attempt: Attempt) -> Request:
        """Asterisk refused the Originate (Response: Error): never dialled, given back uncounted."""
        self.store.set_originate(attempt.request_id, attempt.attempt_no, "refused")
        return self.record_outcome(attempt.request_id, attempt.attempt_no, Outcome.LOST)

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
            late = not finished and self.store.replace_unknown(
                request_id, attempt_no, outcome.value, outcome.counted
            )
            if late:
                return self._late_outcome(request, attempt_no, outcome, talk_seconds, agent, now)
            if not finished or request.status is not Status.DIALING or request.tries != attempt_no:
                return request  # already recorded, or a stale report of an older attempt
            settings = self.settings(request.queue)
            counted = request.attempts + (1 if outcome.counted else 0)
            decision = policy.after_outcome(
                settings, counted, outcome, talk_seconds, now, self.schedule(settings)
            )
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
            # An agent on a no-agent try is one who did not press 1 (agent acceptance, accept.py).
            who = f"not accepted by {agent}" if outcome is Outcome.NO_AGENT else f"agent {agent}"
            detail = f"try {attempt_no}: {decision.reason}" + (f" ({who})" if agent else "")
            self.store.add_event(request_id, now, decision.status.value, detail)
            if decision.status is Status.FAILED:
                self._alert(request_id, "failed", now)
        return self.get(request_id)

    def _late_outcome(
        self,
        request: Request,
        attempt_no: int,
        outcome: Outcome,
        talk_seconds: int,
        agent: str | None,
        now: datetime,
    ) -> Request:
        """The real outcome of an attempt recovery had closed as ``unknown`` arrived after all (a journal
        replay, a node that was thought dead): the attempt row now says what happened, and a request
        closed only for that unknown outcome becomes done if the customer was answered. Nothing else
        reopens it (an operator's ``request retry`` does)."""
        self.store.finish_attempt_late(request.id, attempt_no, talk_seconds, agent)
        detail = f"try {attempt_no}: late outcome {outcome.value}" + (f" (agent {agent})" if agent else "")
        closed_unknown = request.status is Status.FAILED and request.last_outcome == policy.UNKNOWN_REASON
        if closed_unknown and request.tries == attempt_no and outcome.counted:
            settings = self.settings(request.queue)
            decision = policy.after_outcome(settings, max(1, request.attempts), outcome, talk_seconds, now)
            if decision.status is Status.DONE:
                self.store.update_request(
                    request.id, Status.FAILED, status=Status.DONE, last_outcome="answered"
                )
                self.store.add_event(request.id, now, "done", detail)
                return self.get(request.id)
        self.store.add_event(request.id, now, "note", detail)
        return self.get(request.id)

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

    def recover(
        self, channel_alive: Callable[[str], bool], lease: int = 120, node: str | None = None
    ) -> dict[str, int]:
        """Claims left in dialing past their lease, decided on evidence only.

        Only the claim's own node recovers it (it asks its own Asterisk), another node only once the
        owner is dead (no heartbeat within ten of its ticks, or stopped). Then: the call's channel is up →
        the lease is extended; an Originate never sent (the dialer died first), refused, or reported
        failed for an agent-first call (no agent answered) → given back, not counted; otherwise nothing
        says whether the customer was reached → recorded ``unknown`` (counted) and the request closed as
        failed, never dialled again (``request retry`` reopens it). An error from ``channel_alive`` (an
        AMI error reply) is raised, never read as a dead channel.
        ``node=None`` recovers every claim (one node only)."""
        now = self.clock()
        counts = {"extended": 0, "released": 0, "unknown": 0, "skipped": 0}
        owners: dict[str, bool] = {}
        for request in self.store.dialing():
            if request.lease_until is None or request.lease_until > now:
                continue
            owner = request.claimed_by or ""
            if node is not None and owner != node:
                if owner not in owners:
                    owners[owner] = self.store.node_alive(owner, lease)
                if owners[owner]:
                    counts["skipped"] += 1  # the owner is alive: its claim, its evidence
                    continue
            attempt = next(
                (a for a in self.store.attempts(request.id) if a.attempt_no == request.tries), None
            )
            state = self.store.originate_state(request.id, request.tries) if attempt else None
            if attempt is None or state == "refused":
                self.record_outcome(request.id, request.tries, Outcome.LOST)
                counts["released"] += 1
            elif attempt.channel_id and channel_alive(attempt.channel_id):
                self.store.update_request(
                    request.id, Status.DIALING, lease_until=now + timedelta(seconds=lease)
                )
                counts["extended"] += 1
            elif state in (None, "failed"):  # never sent (the dialer died first), or no agent took it
                self.record_outcome(request.id, request.tries, Outcome.LOST)
                counts["released"] += 1
            else:
                self.record_outcome(request.id, request.tries, Outcome.UNKNOWN)
                counts["unknown"] += 1
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
                self._alert(request_id, "expired", now)
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
