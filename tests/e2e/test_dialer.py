"""The company calls back: the dialer on a real Asterisk, SIPp callees as agent and customer.

Each test enables queue 400 with the CLI's service, renders the project's dialplan into Asterisk, and
runs dialer ticks in-process against Asterisk's AMI; the callback legs record their outcome through the
project's agi-bin/qcb-outcome.agi (the root's python3) into MariaDB.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freepbx_callback.ami import Ami, AmiConfig
from freepbx_callback.config import Dsn
from freepbx_callback.dialer import Dialer, DialerConfig
from freepbx_callback.journal import Journal
from freepbx_callback.models import Request, Status
from freepbx_callback.service import CallbackService, utcnow
from tests.testbed.asterisk import AsteriskInstance, free_port
from tests.testbed.callbacks import CallbackBed, PressingUas
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
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "true"})
        call = call_and_press(bed, "400", dtmf_after_s=7, hold_s=30, caller_id="2015551234")
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
        assert "2015551234" in (agent_invite.header("From") or ""), "the agent must see the customer's number"
        [customer_invite] = customer.invites()
        assert "5551000" in (customer_invite.header("From") or ""), "the customer must see the DID"
        assert "2015551234@" in customer_invite.first_line
        # The agent's half reports after the customer's (its hangup handler runs last).
        [attempt] = wait_for(
            lambda: [a for a in service.history(request.id)[0] if a.agent], timeout=10, message="agent noted"
        )
        assert (attempt.outcome, attempt.agent, attempt.counted) == ("answered", "PJSIP/agent", True)
        assert attempt.talk_seconds is not None and attempt.talk_seconds >= 2
        log = bed.log_text()
        whisper = log.index("qcb-callback-whisper")
        assert "Playback(" in log[whisper:] and "qcb-callback-for" in log[whisper:]
        assert "SayDigits(" in log[whisper:] and "2015551234" in log[whisper:]
        assert whisper < log.index('"PJSIP/2015551234@trunk,8,U('), (
            "the agent hears the whisper before the dial"
        )
        assert dialer.tick().dialled == []  # done stays done: no second call
        assert len(customer.invites()) == 1


def test_no_answer_retries_after_the_interval_then_fails(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, attempts=2, retry_interval=10)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=0.2), Uas(bed, "noanswer")
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        dialer = cb.dialer(tmp_path / "spool", ring_timeout=5)
        assert dialer.tick().dialled == [request.id]
        first = wait_for(
            lambda: (r := service.get(request.id)).status is Status.PENDING and r.attempts == 1 and r,
            timeout=30,
            message="first attempt recorded as no answer",
        )
        assert first.last_outcome == "no_answer"
        assert (first.next_attempt_at - first.requested_at).total_seconds() >= 10
        assert dialer.tick().dialled == []  # not due before the retry interval
        wait_for(
            lambda: service.get(request.id).next_attempt_at <= utcnow(),
            timeout=15,
            message="retry due",
        )
        assert dialer.tick().dialled == [request.id]
        failed = wait_for(
            lambda: (r := service.get(request.id)).status is Status.FAILED and r,
            timeout=30,
            message="failed after the second attempt",
        )
        assert failed.attempts == 2 and "no attempts left" in (failed.last_outcome or "")
        assert len(customer.invites()) == 2
        assert all("5551000" in (f or "") for f in customer.invite_from_headers())
        assert dialer.tick().dialled == []


def test_no_agent_logged_in_dials_nothing_and_expires(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", window=10)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    customer = Uas(bed, "answer")
    cb = CallbackBed.start(bed, dsn, service, {}, customer)
    with customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        dialer = cb.dialer(tmp_path / "spool")
        report = dialer.tick()
        assert report.dialled == [] and report.expired == []
        wait_for(
            lambda: (utcnow() - request.requested_at).total_seconds() > 10,
            timeout=15,
            message="window passed",
        )
        assert dialer.tick().expired == [request.id]
        assert service.get(request.id).status is Status.EXPIRED
        assert customer.invites() == []
        assert "qcb-callback" not in bed.log_text()


def _dialled_until_done(cb: CallbackBed, service: CallbackService, tmp_path: Path) -> Request:
    """A customer-first request for 2015551234, dialled by one tick; the request once it is done."""
    request = service.request("400", "2015551234").request
    assert request is not None
    assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
    return wait_for(
        lambda: (r := service.get(request.id)).status is Status.DONE and r,
        timeout=40,
        message="customer-first callback done",
    )


def test_customer_first_connects_only_after_the_customer_presses_1(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue(
        "400",
        enabled=True,
        did="5551000",
        mode="customer-first",
        notify_agents=False,
        min_talk=2,
        attempts=2,
        retry_interval=10,
    )
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    person = PressingUas(bed, press_after_s=4.5, hangup_after_s=12)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, person)
    with agent, person:
        done = _dialled_until_done(cb, service, tmp_path)
        assert done.attempts == 1
        [invite] = person.invites()
        assert "5551000" in (invite.header("From") or "")
        [agent_invite] = agent.invites()
        assert "2015551234" in (agent_invite.header("From") or "")
        log = bed.log_text()
        assert log.index("qcb-callback-greet") < log.index("Queue(")
        [attempt] = service.history(done.id)[0]
        assert (attempt.outcome, attempt.agent) == ("answered", "PJSIP/agent")


def test_customer_first_a_1_pressed_during_the_greeting_counts(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """A person presses 1 as soon as they know who calls, 1.5 s into the 3 s greeting: that 1 connects them
    (the greeting is not played to its end first, and "press 1" is never played)."""
    service.set_queue(
        "400", enabled=True, did="5551000", mode="customer-first", notify_agents=False, min_talk=1
    )
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    person = PressingUas(bed, press_after_s=1.5, hangup_after_s=8)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, person)
    with agent, person:
        done = _dialled_until_done(cb, service, tmp_path)
        assert done.attempts == 1 and len(agent.invites()) == 1
        log = bed.log_text()
        assert "Playing 'qcb-customer-intro." in log and "Playing 'qcb-press-1-to-connect." not in log


def test_customer_first_without_the_1_is_no_answer(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """An answering machine picks up but never presses 1: the agent is never rung, the attempt counts."""
    service.set_queue(
        "400", enabled=True, did="5551000", mode="customer-first", attempts=2, retry_interval=10
    )
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    machine = Uas(bed, "answer", ring_s=0.2)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, machine)
    with agent, machine:
        request = service.request("400", "2015551234").request
        assert request is not None
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
        after = wait_for(
            lambda: (r := service.get(request.id)).status is Status.PENDING and r.attempts == 1 and r,
            timeout=40,
            message="no-answer recorded",
        )
        assert after.last_outcome == "no_answer"
        assert len(machine.invites()) == 1 and agent.invites() == []


def test_ami_down_or_originate_refused_burns_no_attempt(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=1)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=0.2), Uas(bed, "answer", hangup_after_s=2)
    # A second manager account that may read queues but not originate.
    bed.extra_configs["manager.conf"] = (
        f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = {bed.ami_port}\n\n"
        f"[{bed.ami_user}]\nsecret = {bed.ami_secret}\npermit = 127.0.0.1/255.255.255.255\n"
        "read = all\nwrite = all\n\n"
        "[readonly]\nsecret = readonly\npermit = 127.0.0.1/255.255.255.255\nread = all\nwrite = system\n"
    )
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        down = Dialer(
            cb.dialer(tmp_path / "s").service_factory,
            lambda: Ami(AmiConfig("x", "y", "127.0.0.1", free_port())),
            Journal(tmp_path / "s"),
        )
        report = down.tick()
        assert report.ami_down and report.dialled == []
        r = service.get(request.id)
        assert (r.status, r.tries, r.attempts) == (Status.PENDING, 0, 0)
        refused = Dialer(
            cb.dialer(tmp_path / "s").service_factory,
            lambda: Ami(AmiConfig("readonly", "readonly", "127.0.0.1", bed.ami_port)),
            Journal(tmp_path / "s"),
            DialerConfig(dial_template="PJSIP/{number}@trunk"),
        )
        report = refused.tick()
        assert report.lost == [request.id] and report.dialled == []
        r = service.get(request.id)
        assert (r.status, r.tries, r.attempts) == (Status.PENDING, 1, 0), (
            "the refused originate is not counted"
        )
        assert cb.dialer(tmp_path / "s").tick().dialled == [request.id]
        done = wait_for(
            lambda: (x := service.get(request.id)).status is Status.DONE and x,
            timeout=30,
            message="done once AMI works",
        )
        assert (done.attempts, done.tries) == (1, 2)
        assert len(customer.invites()) == 1
