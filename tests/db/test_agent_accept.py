"""Agent acceptance against the real database: the per-queue switch, and a try the agent did not accept
(the queue leg's hangup handler, as Asterisk runs it) closed without counting against the customer."""

from __future__ import annotations

from freepbx_callback.agi.outcome import handle_outcome
from freepbx_callback.models import Mode, Outcome, Status
from freepbx_callback.policy import NO_AGENT_BACKOFF
from freepbx_callback.schema import LATEST
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.agi.scripted import ScriptedChannel
from tests.conftest import Clock


def test_the_switch_is_off_by_default_and_kept_apart_from_the_other_settings(
    service: CallbackService, store: Store
) -> None:
    assert LATEST >= 18 and 18 in {v for (v,) in store._all("SELECT version FROM qcb_schema")}
    service.set_queue("400", enabled=True)
    assert not service.agent_accept("400") and service.accepting() == frozenset()
    service.set_agent_accept("400", True)
    service.set_queue("400", attempts=3, did="5551000")  # saving other settings keeps the switch
    assert service.agent_accept("400") and service.accepting() == {"400"}
    service.set_queue("400", mode=Mode.CUSTOMER_FIRST)  # nothing to accept: the customer is on the line
    assert service.agent_accept("400") and service.accepting() == frozenset()
    service.set_queue("400", mode=Mode.AGENT_FIRST, enabled=False)
    assert service.accepting() == frozenset()
    service.set_queue("400", enabled=True)
    service.set_agent_accept("400", False)
    assert not service.agent_accept("400") and service.accepting() == frozenset()
    service.set_agent_accept("500", True)  # a queue without settings gets the defaults (callback off)
    assert not service.queue("500").enabled and service.agent_accept("500")
    assert not service.agent_accept("999")


def queue_leg(request_id: int, attempt_no: int, **variables: str) -> ScriptedChannel:
    base = {"QCB_REQUEST": str(request_id), "QCB_TRY": str(attempt_no), "MEMBERINTERFACE": "PJSIP/agent"}
    return ScriptedChannel(env={}, variables={**base, **variables})


def test_a_try_the_agent_did_not_accept_does_not_count_and_is_offered_again(
    service: CallbackService, clock: Clock
) -> None:
    service.set_queue("400", enabled=True, attempts=2)
    service.set_agent_accept("400", True)
    request = service.request("400", "2015551234").request
    assert request is not None
    [(_, first)] = service.claim("400", 1, "n1")
    service.originate_sent(first)
    # The agent answered, heard the whisper and pressed nothing: the dialplan hung up both the agent's
    # leg and the queue leg, whose hangup handler reports.
    outcome = handle_outcome(
        queue_leg(request.id, first.attempt_no, QCB_ACCEPT="1"), lambda: service, "agent"
    )
    assert outcome is Outcome.NO_AGENT
    after = service.get(request.id)
    assert (after.status, after.attempts, after.tries) == (Status.PENDING, 0, 1)
    [attempt], events = service.history(request.id)
    assert (attempt.outcome, attempt.agent, attempt.counted) == ("no_agent", "PJSIP/agent", False)
    assert "not accepted by PJSIP/agent" in events[-1][2]
    assert service.claim("400", 1, "n1") == []  # offered again after the no-agent pause
    clock.advance(NO_AGENT_BACKOFF + 1)
    [(again, second)] = service.claim("400", 1, "n1")
    assert (again.id, second.attempt_no, again.attempts) == (request.id, 2, 0)
    # This time the agent pressed 1: the queue leg only notes the agent, the customer's leg decides.
    accepted = queue_leg(request.id, 2, QCB_ACCEPT="1", **{"SHARED(QCB_ACCEPTED)": "1"})
    assert handle_outcome(accepted, lambda: service, "agent") is None
    assert service.get(request.id).status is Status.DIALING
    service.record_outcome(request.id, 2, Outcome.ANSWERED, talk_seconds=30)
    done = service.get(request.id)
    assert (done.status, done.attempts, done.tries) == (Status.DONE, 1, 2)


def test_a_queue_change_that_adds_or_removes_the_acceptance_lines_raises_apply_config(
    service: CallbackService, store: Store
) -> None:
    store._run("CREATE TABLE admin (variable VARCHAR(20) NOT NULL PRIMARY KEY, value VARCHAR(80) NOT NULL)")
    store._run("INSERT INTO admin VALUES ('need_reload', 'false')")

    def raised() -> bool:
        flagged = store._all("SELECT value FROM admin")[0][0] == "true"
        store._run("UPDATE admin SET value = 'false'")
        return flagged

    service.set_queue("400", enabled=True, mode=Mode.CUSTOMER_FIRST)
    assert raised(), "a queue enabled"
    service.set_agent_accept("400", True)
    assert not raised(), "customer-first: nothing to accept, the dialplan is the same"
    service.set_queue("400", mode=Mode.AGENT_FIRST)
    assert raised(), "now the agent is asked: the dialplan gets the acceptance lines"
    service.set_queue("400", attempts=3)
    assert not raised()
    service.set_queue("400", mode=Mode.CUSTOMER_FIRST)
    assert raised()
