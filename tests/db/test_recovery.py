"""Recovery of claims past their lease acts on evidence only, and only on its own node's claims.

The channel check is a plain callable here (the rule is the database's and the service's); the real
Asterisk versions are in tests/e2e/test_exactly_once.py.
"""

from __future__ import annotations

import pytest

from freepbx_callback.ami import AmiError
from freepbx_callback.models import Outcome, Status
from freepbx_callback.policy import UNKNOWN_REASON
from freepbx_callback.service import CallbackService
from tests.conftest import Clock
from tests.db.test_heartbeat import age, beat

LEASE = 60


def dead(channel_id: str) -> bool:
    return False


def claimed_and_sent(service: CallbackService, node: str, number: str = "2015551234") -> int:
    """A request claimed by ``node`` whose Originate was written to AMI."""
    service.set_queue("400", enabled=True, attempts=3)
    rid = service.request("400", number).request.id  # type: ignore[union-attr]
    [(_, attempt)] = service.claim("400", 1, node, lease=LEASE)
    service.originate_sent(attempt)
    return rid


def test_a_live_nodes_claim_is_left_to_it(service: CallbackService, clock: Clock) -> None:
    service.heartbeat(beat("node-b"))
    rid = claimed_and_sent(service, "node-b")
    clock.advance(LEASE + 1)
    assert service.recover(dead, LEASE, "node-a")["skipped"] == 1
    request = service.get(rid)
    assert (request.status, request.claimed_by, request.tries) == (Status.DIALING, "node-b", 1)
    assert service.claim("400", 5, "node-a") == []


def test_a_dead_nodes_claim_without_evidence_closes_and_is_never_redialled(
    service: CallbackService, clock: Clock
) -> None:
    service.heartbeat(beat("node-b"))
    rid = claimed_and_sent(service, "node-b")
    clock.advance(LEASE + 1)
    age(service.store, "node-b", 2 * LEASE + 1)  # stale far beyond its tick and two leases: dead
    assert service.recover(dead, LEASE, "node-a")["unknown"] == 1
    request = service.get(rid)
    assert (request.status, request.last_outcome, request.attempts) == (Status.FAILED, UNKNOWN_REASON, 1)
    [attempt] = service.history(rid)[0]
    assert (attempt.outcome, attempt.counted) == ("unknown", True)
    clock.advance(3600)
    assert service.claim("400", 5, "node-a") == []
    assert service.retry(rid).status is Status.PENDING  # the operator may reopen it


def test_a_stopped_nodes_claim_is_recovered(service: CallbackService, clock: Clock) -> None:
    service.heartbeat(beat("node-b", pid=7))
    rid = claimed_and_sent(service, "node-b")
    service.node_stopped("node-b", "serve", 7)
    clock.advance(LEASE + 1)
    alive = {a.channel_id for a in service.history(rid)[0]}
    assert service.recover(lambda cid: cid in alive, LEASE, "node-a")["extended"] == 1  # one shared Asterisk
    assert service.get(rid).status is Status.DIALING


def test_own_claim_without_evidence_is_unknown_not_lost(service: CallbackService, clock: Clock) -> None:
    rid = claimed_and_sent(service, "node-a")
    clock.advance(LEASE + 1)
    assert service.recover(dead, LEASE, "node-a")["unknown"] == 1
    assert service.get(rid).status is Status.FAILED
    assert service.claim("400", 5, "node-a") == []


def test_a_claim_never_sent_is_given_back_uncounted(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True)
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    service.claim("400", 1, "node-a", lease=LEASE)  # the dialer died before writing the Originate
    clock.advance(LEASE + 1)
    assert service.recover(dead, LEASE, "node-a")["released"] == 1
    request = service.get(rid)
    assert (request.status, request.attempts, request.tries) == (Status.PENDING, 0, 1)


def test_an_ami_error_reply_is_no_evidence(service: CallbackService, clock: Clock) -> None:
    rid = claimed_and_sent(service, "node-a")
    clock.advance(LEASE + 1)

    def error_reply(channel_id: str) -> bool:
        raise AmiError("CoreShowChannels failed: Permission denied")

    with pytest.raises(AmiError):
        service.recover(error_reply, LEASE, "node-a")
    request = service.get(rid)
    assert (request.status, request.attempts) == (Status.DIALING, 0)


def test_a_late_answered_outcome_after_unknown_makes_it_done(service: CallbackService, clock: Clock) -> None:
    rid = claimed_and_sent(service, "node-a")
    clock.advance(LEASE + 1)
    service.recover(dead, LEASE, "node-a")
    assert service.get(rid).status is Status.FAILED
    late = service.record_outcome(rid, 1, Outcome.ANSWERED, talk_seconds=40, agent="PJSIP/201")
    assert (late.status, late.last_outcome, late.attempts) == (Status.DONE, "answered", 1)
    [attempt] = service.history(rid)[0]
    assert (attempt.outcome, attempt.talk_seconds, attempt.agent) == ("answered", 40, "PJSIP/201")
    again = service.record_outcome(rid, 1, Outcome.NO_ANSWER)  # a repeat changes nothing
    assert again.status is Status.DONE


def test_tries_open_at_the_upgrade_count_as_sent(service: CallbackService, clock: Clock) -> None:
    """Migration 7 on a database whose dialer was placing calls: those tries are never taken for unsent."""
    service.set_queue("400", enabled=True)
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    [(_, attempt)] = service.claim("400", 1, "node-a", lease=LEASE)  # as the previous version left it
    service.store._run("DELETE FROM qcb_schema WHERE version = 7")
    assert service.store.migrate(clock.now) == [7]
    clock.advance(LEASE + 1)
    alive = {attempt.channel_id}
    assert service.recover(lambda cid: cid in alive, LEASE, "node-a")["extended"] == 1  # still talking
    clock.advance(LEASE + 1)
    assert service.recover(dead, LEASE, "node-a")["unknown"] == 1  # not given back: maybe dialled
    assert service.get(rid).status is Status.FAILED


def test_an_agent_first_originate_reported_failed_is_given_back(
    service: CallbackService, clock: Clock
) -> None:
    rid = claimed_and_sent(service, "node-a")
    [attempt] = service.history(rid)[0]
    service.originate_failed(attempt.channel_id or "")  # OriginateResponse Failure: no agent answered
    clock.advance(LEASE + 1)
    assert service.recover(dead, LEASE, "node-a")["released"] == 1
    request = service.get(rid)
    assert (request.status, request.attempts, request.tries) == (Status.PENDING, 0, 1)
