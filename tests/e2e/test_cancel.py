"""`request cancel` stops the call on a real Asterisk: a cancelled request's customer is never dialled,
and a callback under way is hung up (by the CLI through AMI, else by the dialer's next tick)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed import demo
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]


def _attempt_closed(service: CallbackService, request_id: int) -> bool:
    attempts = service.history(request_id)[0]
    return bool(attempts) and attempts[-1].ended_at is not None


def test_agent_answers_after_the_cancel_and_the_customer_is_never_dialled(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """No AMI hang-up here (say the CLI could not reach AMI): the customer leg asks before it dials."""
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=3, hangup_after_s=3), Uas(bed, "answer")
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
        wait_for(lambda: agent.invites(), timeout=10, message="the agent's phone rings")
        assert service.cancel(request.id).status is Status.CANCELLED
        wait_for(lambda: _attempt_closed(service, request.id), timeout=20, message="the attempt ends")
        assert agent.received("ACK") >= 1, "the agent answered after the cancel"
        assert customer.invites() == [], "a cancelled request's customer was dialled"
        assert service.get(request.id).status is Status.CANCELLED
        [attempt] = service.history(request.id)[0]
        assert (attempt.outcome, attempt.counted) == ("cancelled", False)


def test_cancel_while_the_agent_rings_hangs_up_the_callback(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=8), Uas(bed, "answer")
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        assert cb.dialer(tmp_path / "spool").tick().dialled == [request.id]
        wait_for(lambda: agent.invites(), timeout=10, message="the agent's phone rings")
        out = demo.run_cli(dsn.url(), "request", "cancel", str(request.id), "--ami", bed.ami_dsn)
        assert "cancelled" in out.output and "hung up" in out.output, out.output
        wait_for(lambda: agent.received("CANCEL"), timeout=5, message="the agent's phone stops ringing")
        wait_for(lambda: _attempt_closed(service, request.id), timeout=10, message="the attempt ends")
        assert customer.invites() == []
        assert agent.received("ACK") == 0
        assert service.get(request.id).status is Status.CANCELLED


def test_cancel_while_the_customer_rings_ends_the_customer_call(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=0.2), Uas(bed, "noanswer")
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        assert cb.dialer(tmp_path / "spool", ring_timeout=25).tick().dialled == [request.id]
        wait_for(lambda: customer.invites(), timeout=10, message="the customer's phone rings")
        out = demo.run_cli(dsn.url(), "request", "cancel", str(request.id), "--ami", bed.ami_dsn)
        assert "hung up" in out.output, out.output
        wait_for(lambda: customer.received("CANCEL"), timeout=5, message="the customer's phone stops")
        wait_for(lambda: _attempt_closed(service, request.id), timeout=10, message="the attempt ends")
        assert service.get(request.id).status is Status.CANCELLED


def test_the_dialer_tick_hangs_up_a_cancelled_call_the_cli_could_not(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=0.2), Uas(bed, "noanswer")
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        dialer = cb.dialer(tmp_path / "spool", ring_timeout=25)
        assert dialer.tick().dialled == [request.id]
        wait_for(lambda: customer.invites(), timeout=10, message="the customer's phone rings")
        service.cancel(request.id)  # durably cancelled, no AMI
        report = dialer.tick()
        assert report.hung_up == [request.id], report.summary()
        wait_for(lambda: customer.received("CANCEL"), timeout=5, message="the customer's phone stops")
        wait_for(lambda: _attempt_closed(service, request.id), timeout=10, message="the attempt ends")
        assert dialer.tick().hung_up == []
