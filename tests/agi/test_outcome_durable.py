"""An outcome is never lost: whatever the database answers, the leg reaches the database or the journal.

Real MariaDB: another connection holds the request's row lock past the handler's
innodb_lock_wait_timeout (1 s for its session), so every write of the outcome fails with a lock wait
timeout. The handler retries, then journals; a replay applies the outcome once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from freepbx_callback.agi.outcome import handle_outcome
from freepbx_callback.config import Dsn
from freepbx_callback.journal import Journal
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.agi.scripted import ScriptedChannel
from tests.conftest import Clock


@pytest.fixture
def claimed(service: CallbackService) -> int:
    service.set_queue("400", enabled=True, min_talk=2)
    rid = service.request("400", "2015551234").request.id  # type: ignore[union-attr]
    [(_, attempt)] = service.claim("400", 1, "n1")
    service.originate_sent(attempt)
    return rid


@pytest.fixture
def row_locked(dsn: Dsn, claimed: int) -> Iterator[Store]:
    """Another connection holds the request row (FOR UPDATE) until the test ends."""
    holder = Store.connect(dsn)
    holder._run("START TRANSACTION")
    holder._all("SELECT id FROM qcb_requests WHERE id = %s FOR UPDATE", (claimed,))
    try:
        yield holder
    finally:
        holder.conn.rollback()
        holder.close()


def impatient(dsn: Dsn, clock: Clock) -> CallbackService:
    store = Store.connect(dsn)
    store._run("SET SESSION innodb_lock_wait_timeout = 1")
    return CallbackService(store, clock)


def customer_leg(request_id: int) -> ScriptedChannel:
    variables = {"QCB_REQUEST": str(request_id), "QCB_TRY": "1", "DIALSTATUS": "ANSWER", "ANSWEREDTIME": "30"}
    return ScriptedChannel(env={}, variables=variables)


def test_a_lock_wait_timeout_journals_the_outcome_and_replay_applies_it_once(
    dsn: Dsn, clock: Clock, service: CallbackService, claimed: int, row_locked: Store, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "spool")
    outcome = handle_outcome(customer_leg(claimed), lambda: impatient(dsn, clock), "customer", journal)
    assert outcome is not None and outcome.value == "answered"
    [(_, entry)] = list(journal.pending())
    assert (entry.request_id, entry.attempt_no, entry.outcome) == (claimed, 1, "answered")  # type: ignore[union-attr]
    row_locked.conn.rollback()
    assert service.replay(journal)["stored"] == 1
    assert service.replay(journal)["stored"] == 0
    request = service.get(claimed)
    assert (request.status, request.attempts) == (Status.DONE, 1)
    assert [a.outcome for a in service.history(claimed)[0]] == ["answered"]


def test_an_unexpected_error_journals_the_outcome(claimed: int, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "spool")

    def broken() -> CallbackService:
        raise RuntimeError("the service could not be made")

    handle_outcome(customer_leg(claimed), broken, "customer", journal)
    [(_, entry)] = list(journal.pending())
    assert entry.outcome == "answered"  # type: ignore[union-attr]
