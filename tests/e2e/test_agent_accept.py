"""Agent acceptance on a real Asterisk: SIPp agents (one presses 1, one presses nothing) and a SIPp
customer. The callback legs record their outcome through the project's agi-bin/qcb-outcome.agi into
MariaDB, as in tests/e2e/test_dialer.py.

Timing: the agent hears "callback for," and the 10 digits (about 9.6 s), then "to accept the call, press
1" (2.6 s) and has policy.ACCEPT_SECONDS (10 s) more; an agent who presses 1 does so 14 s after answering.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed, PressingUas
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
NUMBER = "2015551234"
PRESS_AFTER_S = 14


def _start(
    bed: AsteriskInstance, dsn: Dsn, service: CallbackService, agents: dict[str, Uas], customer: Uas
) -> CallbackBed:
    # rrmemory: each try starts with the member after the one rung last (the default ringall rings all).
    CallbackBed.configure(bed, "400", agents, customer, strategy="rrmemory")
    cb = CallbackBed(bed, dsn, "400")
    cb.render(service)
    bed.start()
    return cb


def _done(service: CallbackService, request_id: int, timeout: float = 60):  # type: ignore[no-untyped-def]
    return wait_for(
        lambda: (r := service.get(request_id)).status is Status.DONE and r,
        timeout=timeout,
        message="the callback to end done",
    )


def test_agent_presses_1_then_the_customer_is_dialled_and_bridged(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", min_talk=2)
    service.set_agent_accept("400", True)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = PressingUas(bed, press_after_s=PRESS_AFTER_S)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=4)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", NUMBER).request
        assert request is not None
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
        done = _done(service, request.id)
        assert (done.attempts, done.tries) == (1, 1)
        [attempt] = wait_for(
            lambda: [a for a in service.history(request.id)[0] if a.agent], timeout=10, message="agent noted"
        )
        assert (attempt.outcome, attempt.agent, attempt.counted) == ("answered", "PJSIP/agent", True)
        assert attempt.talk_seconds is not None and attempt.talk_seconds >= 2, "bridged: they talked"
        [customer_invite] = customer.invites()
        assert "5551000" in (customer_invite.header("From") or "")
        log = bed.log_text()
        accepted = log.index("accepted by PJSIP/agent")
        assert log.index("qcb-agent-accept") < accepted < log.index(f'"PJSIP/{NUMBER}@trunk,8,U('), (
            "the customer is dialled only after the agent pressed 1"
        )


def test_agent_who_presses_nothing_is_hung_up_uncounted_and_the_next_agent_gets_it(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", min_talk=2, attempts=1)
    service.set_agent_accept("400", True)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    silent = Uas(bed, "answer", ring_s=0.2)
    quitter = Uas(bed, "answer", ring_s=0.2, hangup_after_s=3)  # hangs up during the whisper
    pressing = PressingUas(bed, press_after_s=PRESS_AFTER_S)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=4)
    cb = _start(bed, dsn, service, {"silent": silent, "quitter": quitter, "pressing": pressing}, customer)
    with silent, quitter, pressing, customer:
        request = service.request("400", NUMBER).request
        assert request is not None
        dialer = cb.dialer(tmp_path / "spool")
        assert dialer.tick().dialled == [request.id]
        first = wait_for(
            lambda: (r := service.get(request.id)).status is Status.PENDING and r.tries == 1 and r,
            timeout=45,
            message="the unaccepted try given back",
        )
        assert first.attempts == 0, "the try the agent did not accept does not count"
        [attempt], events = service.history(request.id)
        assert (attempt.outcome, attempt.counted) == ("no_agent", False)
        assert attempt.agent == "PJSIP/silent" and "not accepted by PJSIP/silent" in events[-1][2]
        assert len(silent.invites()) == 1 and silent.received("BYE") == 1, "the agent's leg was hung up"
        assert quitter.invites() == pressing.invites() == customer.invites() == [], "nobody else was called"
        log = bed.log_text()
        assert "did not accept" in log and f"PJSIP/{NUMBER}@trunk" not in log
        # Offered again (no waiting out the no-agent pause here) to the next agent, who hangs up during
        # the whisper: Queue() then answers the queue leg, and the other half still does not dial.
        service.store.update_request(request.id, None, next_attempt_at=first.requested_at)
        assert dialer.tick().dialled == [request.id]
        second = wait_for(
            lambda: (r := service.get(request.id)).status is Status.PENDING and r.tries == 2 and r,
            timeout=45,
            message="the try of the agent who hung up given back",
        )
        assert second.attempts == 0 and len(quitter.invites()) == 1
        assert service.history(request.id)[0][1].agent == "PJSIP/quitter"
        assert customer.invites() == [] and f"PJSIP/{NUMBER}@trunk" not in bed.log_text()
        # Queue() answered the queue leg for the hung-up agent: the customer's half checked and stopped.
        assert f"no agent accepted: {NUMBER} is not dialled" in bed.log_text()
        # And to the next one, who accepts.
        service.store.update_request(request.id, None, next_attempt_at=first.requested_at)
        assert dialer.tick().dialled == [request.id]
        done = _done(service, request.id)
        assert (done.attempts, done.tries) == (1, 3), "one attempt used of one: the others did not count"
        assert len(pressing.invites()) == 1 and len(customer.invites()) == 1
        assert len(silent.invites()) == len(quitter.invites()) == 1


def test_switch_off_leaves_the_callback_as_it_was(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """Queue 400 without the switch, in a dialplan that has the acceptance lines (queue 401 has it on):
    its agent presses nothing and is still connected to the customer, with the usual whisper."""
    service.set_queue("400", enabled=True, did="5551000", min_talk=2)
    service.set_queue("401", enabled=True)
    service.set_agent_accept("401", True)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.5)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=4)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        assert "[qcb-callback-accept]" in (bed.etc / "extensions_qcb.conf").read_text()
        request = service.request("400", NUMBER).request
        assert request is not None
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
        done = _done(service, request.id)
        assert (done.attempts, done.tries) == (1, 1)
        log = bed.log_text()
        whisper = log.index("qcb-callback-whisper")
        assert "qcb-callback-for" in log[whisper:] and "SayDigits(" in log[whisper:]
        assert "Executing [s@qcb-callback-accept:" not in log and "qcb-agent-accept" not in log
        assert len(customer.invites()) == 1
