"""The company calls back: the dialer on a real Asterisk, SIPp callees as agent and customer.

Each test enables queue 400 with the CLI's service, renders the project's dialplan into Asterisk, and
runs dialer ticks in-process against Asterisk's AMI; the callback legs record their outcome through the
project's agi-bin/qcb-outcome.agi (the root's python3) into MariaDB.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.sipp import Uas, call_and_press
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]


def test_press_1_then_agent_first_callback_with_whisper_and_did(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", offer_every=5, min_talk=2)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.5)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=4)
    CallbackBed.configure(bed, "400", {"agent": agent}, customer)
    cb = CallbackBed(bed, dsn)
    cb.render(service)
    bed.start()
    with agent, customer:
        bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "true"})
        call = call_and_press(bed, "400", dtmf_after_s=7, hold_s=30, caller_id="5551234")
        assert call.bye_received, call.summary()
        [request] = service.list()
        assert request.status is Status.PENDING
        dialer = cb.dialer(tmp_path / "spool")
        assert dialer.tick().dialled == []  # the only agent is paused: nothing is released
        assert agent.invites() == []
        bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "false"})
        report = dialer.tick()
        assert report.dialled == [request.id], report.summary()
        done = wait_for(
            lambda: service.get(request.id).status is Status.DONE and service.get(request.id),
            timeout=40,
            message="the callback to end done",
        )
        assert done.attempts == 1
        [agent_invite] = agent.invites()
        assert "5551234" in (agent_invite.header("From") or ""), "the agent must see the customer's number"
        [customer_invite] = customer.invites()
        assert "5551000" in (customer_invite.header("From") or ""), "the customer must see the DID"
        assert "5551234@" in customer_invite.first_line
        # The agent's half reports after the customer's (its hangup handler runs last).
        [attempt] = wait_for(
            lambda: [a for a in service.history(request.id)[0] if a.agent], timeout=10, message="agent noted"
        )
        assert (attempt.outcome, attempt.agent, attempt.counted) == ("answered", "PJSIP/agent", True)
        assert attempt.talk_seconds is not None and attempt.talk_seconds >= 2
        log = bed.log_text()
        whisper = log.index("qcb-callback-whisper")
        assert "Playback(" in log[whisper:] and "qcb-callback-for" in log[whisper:]
        assert "SayDigits(" in log[whisper:] and "5551234" in log[whisper:]
        assert whisper < log.index('"PJSIP/5551234@trunk,8")'), "the agent hears the whisper before the dial"
        assert dialer.tick().dialled == []  # done stays done: no second call
        assert len(customer.invites()) == 1
