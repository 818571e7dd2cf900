"""Expiry on a real MariaDB with a settable clock: the window counts from the key press, a try in which
no agent took the callback never moves it, a retry after a counted attempt has its own window, and no
request stays open past its window and last attempt (also in a disabled queue, and after a journal
replay, whose window starts when the request reached the database)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from freepbx_callback.ami import AmiError
from freepbx_callback.dialer import Dialer
from freepbx_callback.journal import Entry, Journal
from freepbx_callback.models import Outcome, Status
from freepbx_callback.schema import MIGRATIONS
from freepbx_callback.service import CallbackService
from tests.conftest import Clock


def _no_ami() -> object:
    raise AmiError("no AMI in this test")


def dialer(service: CallbackService, spool: Path) -> Dialer:
    return Dialer(lambda: service, _no_ami, Journal(spool))  # type: ignore[arg-type]


def test_no_agent_tries_never_move_the_window(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600)
    pressed = clock.now
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    tries = 0
    for _ in range(200):  # 200 tries of 35 s: over an hour and a half
        claimed = service.claim("400", 1, "n")
        if not claimed:
            break
        [(_, attempt)] = claimed
        tries += 1
        clock.advance(15)  # the callback waits in the queue, no agent takes it
        service.apply_leg(rid, attempt.attempt_no, Outcome.NO_AGENT)
        assert service.get(rid).attempts == 0
        service.expire_due("400")
        if service.get(rid).status is not Status.PENDING:
            break
        clock.advance(20)  # the backoff
    request = service.get(rid)
    assert request.status is Status.EXPIRED, (request, clock.now - pressed)
    expired_at = request.closed_at
    assert expired_at is not None and expired_at - pressed <= timedelta(seconds=600 + 35)
    assert tries <= 600 // 35 + 1


def test_expires_exactly_window_after_the_press(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600)
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    clock.advance(590)
    [(_, attempt)] = service.claim("400", 1, "n")
    clock.advance(5)
    service.apply_leg(rid, attempt.attempt_no, Outcome.NO_AGENT)  # due again at press + 615
    clock.advance(5)  # press + 600
    assert service.expire_due("400") == []
    clock.advance(1)
    assert service.expire_due("400") == [rid]
    assert service.claim("400", 1, "n") == []


def test_past_the_window_a_request_is_not_claimed(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600)
    service.request("400", "2015551234")
    clock.advance(601)
    assert service.claim("400", 1, "n") == []  # expired, even before the expiry pass ran


def test_a_retry_has_its_own_window_from_when_it_is_due(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600, retry_interval=300, attempts=2)
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    clock.advance(500)
    service.claim("400", 1, "n")
    clock.advance(30)
    service.record_outcome(rid, 1, Outcome.NO_ANSWER)  # counted: due again at +300
    retry_due = clock.now + timedelta(seconds=300)
    assert service.get(rid).next_attempt_at == retry_due
    clock.advance(300 + 600)
    assert service.expire_due("400") == []  # the retry's window: due + 600
    [(_, attempt)] = service.claim("400", 1, "n")
    clock.advance(10)
    service.apply_leg(rid, attempt.attempt_no, Outcome.NO_AGENT)
    clock.advance(20)
    assert service.expire_due("400") == [rid]
    assert service.get(rid).attempts == 1


def test_operator_retry_opens_a_fresh_window(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600)
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    clock.advance(601)
    assert service.expire_due("400") == [rid]
    clock.advance(3600)
    assert service.retry(rid).status is Status.PENDING
    clock.advance(600)
    assert service.expire_due("400") == []
    clock.advance(1)
    assert service.expire_due("400") == [rid]


def test_a_disabled_queue_expires_its_requests_and_frees_the_number(
    service: CallbackService, clock: Clock, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, window=600)
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    service.set_queue("400", enabled=False)
    clock.advance(601)
    report = dialer(service, tmp_path / "spool").tick()
    assert report.expired == [rid]
    assert service.get(rid).status is Status.EXPIRED
    service.set_queue("400", enabled=True)
    assert service.request("400", "2015551234").kind == "created"


def test_a_replayed_request_gets_its_window_from_when_it_was_stored(
    service: CallbackService, clock: Clock, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, window=600)
    pressed = clock.now - timedelta(minutes=30)  # journaled 30 minutes ago, during the outage
    journal = Journal(tmp_path / "spool")
    journal.append(Entry("400", "2015551234", pressed.isoformat(), uniqueid="1700000000.1"))
    report = dialer(service, journal.folder).tick()  # replays first, then expires
    assert report.replayed["stored"] == 1
    assert report.expired == []
    [request] = service.list()
    assert request.status is Status.PENDING
    assert request.requested_at == pressed  # the truth is kept
    assert request.next_attempt_at == clock.now
    clock.advance(600)
    assert dialer(service, journal.folder).tick().expired == []
    clock.advance(1)
    assert dialer(service, journal.folder).tick().expired == [request.id]


def test_migration_8_backfills_the_deadline_of_existing_rows(service: CallbackService, clock: Clock) -> None:
    service.set_queue("400", enabled=True, window=600, retry_interval=300)
    fresh = service.request("400", "2015551111").request.id  # type: ignore[union-attr]
    retried = service.request("400", "2015552222").request.id  # type: ignore[union-attr]
    service.claim("400", 2, "n")
    service.record_outcome(fresh, 1, Outcome.NO_AGENT)
    clock.advance(40)
    service.record_outcome(retried, 1, Outcome.NO_ANSWER)
    ended = clock.now
    service.store._run("UPDATE qcb_requests SET expires_at = NULL")
    [(_, _, statements)] = [m for m in MIGRATIONS if m[0] == 8]
    for statement in statements + statements:  # idempotent
        service.store._run(statement)
    first, second = service.get(fresh), service.get(retried)
    assert first.expires_at == first.requested_at + timedelta(seconds=600)
    assert second.expires_at == ended + timedelta(seconds=300 + 600)
