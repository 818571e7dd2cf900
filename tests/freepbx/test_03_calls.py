"""Real calls through FreePBX: a caller on a DID presses 1; the callback rings a real FreePBX extension
(a Local/…@from-queue member) and reaches the customer through a real outbound route and trunk."""

from __future__ import annotations

import pytest

from tests.testbed.callbacks import PressingUas
from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.wait import wait_for

from .calls import cli, phones, press_1, request_row, tick, wait_status


def configure(fpbx: FreePbx, queue: str, *args: str) -> None:
    """`queue set` on the FreePBX host, then FreePBX's reload (what Apply Config runs)."""
    cli(fpbx, "queue", "set", queue, "--enable", "--allow", "_555XXXX", *args)
    fpbx.fw("reload")


def _new_request(
    fpbx: FreePbx, did: str, caller: str, queue: str, statuses: tuple[str, ...] = ("pending",)
) -> int:
    fpbx.set_contacts(agent_port=9, customer_port=9)  # every agent busy elsewhere: the caller waits
    before = {row[0] for row in fpbx.query("SELECT id FROM qcb_requests")}
    call = press_1(fpbx, did=did, caller=caller)
    assert call.bye_received, f"FreePBX did not hang the caller up after the 1: {call.summary()}"
    rows = fpbx.query("SELECT id, queue, number, status FROM qcb_requests ORDER BY id")
    new = [r for r in rows if r[0] not in before]
    assert len(new) == 1, f"expected one new request, got {new}"
    request_id, stored_queue, number, status = new[0]
    assert stored_queue == queue and status in statuses and number.endswith(caller), new
    return int(request_id)


@pytest.fixture(autouse=True)
def _no_open_requests(fpbx: FreePbx) -> None:
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))


def test_agent_first_rings_the_extension_with_the_whisper_then_the_customer_as_the_did(fpbx: FreePbx) -> None:
    configure(fpbx, "400", "--mode", "agent-first", "--notify-agents", "--min-talk", "2", "--no-did")
    request_id = _new_request(fpbx, "5551000", "5551234", "400")
    assert request_row(fpbx, request_id)["did"] == "5551000", (
        "the DID comes from the inbound route (FROM_DID)"
    )
    agent, customer = phones(fpbx, customer_hangup_after_s=6)
    with agent, customer:
        report = tick(fpbx)
        assert request_id in report["dialled"], report
        assert wait_status(fpbx, request_id, {"done", "failed", "pending"}, timeout=60) == "done"
        [agent_invite] = agent.invites()
        assert "5551234" in (agent_invite.header("From") or ""), "the agent sees the customer's number"
        [customer_invite] = customer.invites()
        from_header = customer_invite.header("From") or ""
        assert "5551000" in from_header, (
            f"the customer must see the DID, not the route's 5559999: {from_header}"
        )
    whisper = [line for line in fpbx.full_log().splitlines() if "[s@qcb-callback-whisper:" in line]
    played = [
        line for line in whisper if 'Playback("Local/1002@from-queue' in line and "qcb-callback-for" in line
    ]
    said = [line for line in whisper if 'SayDigits("Local/1002@from-queue' in line and '"5551234"' in line]
    assert played and said, (
        f"the agent (FreePBX member Local/1002@from-queue) heard no whisper: {whisper[-6:]}"
    )


def test_customer_first_end_to_end(fpbx: FreePbx) -> None:
    configure(fpbx, "400", "--mode", "customer-first", "--min-talk", "2", "--no-notify-agents")
    request_id = _new_request(fpbx, "5551000", "5551235", "400")
    agent, _ = phones(fpbx)
    person = PressingUas(fpbx, press_after_s=4.5, hangup_after_s=14)  # type: ignore[arg-type]
    person.start()
    fpbx.set_contacts(agent.port, person.port)
    try:
        with agent:
            mark = len(fpbx.full_log())  # the callback's part of the log starts here
            report = tick(fpbx)
            assert request_id in report["dialled"], report
            assert wait_status(fpbx, request_id, {"done", "failed"}, timeout=60) == "done"
            [invite] = person.invites()
            assert "5551000" in (invite.header("From") or ""), invite.header("From")
            [agent_invite] = agent.invites()
            assert "5551235" in (agent_invite.header("From") or "")
    finally:
        person.stop()
    log = fpbx.full_log()[mark:]
    greet, member = log.find("Executing [s@qcb-callback-greet:"), log.find("Local/1002@from-queue")
    assert 0 <= greet < member, "the agent (a FreePBX member) is rung only after the customer's greeting"


def test_no_answer_retries_then_fails(fpbx: FreePbx) -> None:
    configure(
        fpbx,
        "400",
        "--mode",
        "agent-first",
        "--no-notify-agents",
        "--attempts",
        "2",
        "--retry-interval",
        "10",
    )
    request_id = _new_request(fpbx, "5551000", "5551236", "400")
    agent, customer = phones(fpbx, customer_mode="noanswer")
    with agent, customer:
        tick(fpbx, "--ring-timeout", "6")
        wait_for(lambda: request_row(fpbx, request_id)["attempts"] == 1, 60, 0.5, "first no-answer recorded")
        assert request_row(fpbx, request_id)["status"] == "pending", "no answer: due again after the interval"
        status = wait_status(
            fpbx, request_id, {"failed", "done"}, timeout=90, tick_every=2, tick_args=("--ring-timeout", "6")
        )
        assert status == "failed"
        assert len(customer.invites()) == 2, "two attempts, two calls to the customer"
    assert request_row(fpbx, request_id)["attempts"] == 2


def test_a_customer_leg_that_fails_at_the_trunk_is_not_an_answer(fpbx: FreePbx) -> None:
    """The trunk refuses the customer's call (503). FreePBX then plays "all circuits are busy" on the route's
    Local channel, which answers it: the callback must still record a failed attempt, not an answer."""
    configure(
        fpbx, "400", "--mode", "agent-first", "--no-notify-agents", "--min-talk", "0", "--attempts", "2"
    )
    request_id = _new_request(fpbx, "5551000", "5551237", "400")
    agent, customer = phones(fpbx, customer_mode="unavailable")
    try:
        with agent, customer:
            tick(fpbx)
            wait_for(lambda: request_row(fpbx, request_id)["attempts"] == 1, 60, 0.5, "the attempt recorded")
            assert len(customer.invites()) == 1, "the trunk was tried once"
        [(outcome, counted)] = fpbx.query(
            "SELECT outcome, counted FROM qcb_attempts WHERE request_id = %s", request_id
        )
        row = request_row(fpbx, request_id)
    finally:  # its retry, due later, must not be dialled in the later files' tests
        cli(fpbx, "request", "cancel", str(request_id), check=False)
    assert (outcome, counted) == ("failed", 1), (outcome, counted, row)
    assert row["status"] == "pending", "one attempt of two used: due again later"
    log = fpbx.full_log()
    assert "all-circuits-busy-now" in log, "FreePBX's route failure message was played (the case under test)"
