"""Agent acceptance on the real FreePBX, switched on in the module page's queue form. Queue 400's member
is extension 1002, a Local/1002@from-queue channel whose far half rings the phone through FreePBX's own
dialplan; the whisper and the "press 1" run on that leg. The customer is reached through FreePBX's
outbound route and trunk only after the 1; an agent who presses nothing is hung up, the try does not
count, and the customer is never called.

Timing: "callback for" and the 7 digits take about 8 s, then "to accept the call, press 1" (2.6 s), and
the agent has 10 s more: an agent who accepts presses 1 13 s after answering.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.testbed.callbacks import PressingUas
from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

from . import gui
from .calls import cli, request_row, tick, wait_status
from .test_03_calls import configure

PRESS_AFTER_S = 13
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\]")


@pytest.fixture(autouse=True)
def _accepting_queue(fpbx: FreePbx, admin: gui.Admin) -> Iterator[None]:
    """Queue 400 agent-first, its switch turned on in the module page's queue form, then Apply Config."""
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))
    configure(fpbx, "400", "--mode", "agent-first", "--notify-agents", "--min-talk", "2", "--no-agent-accept")
    admin.open("config.php?display=queuecallback&view=form&queue=400")
    assert not admin.php_errors(), admin.php_errors()
    assert admin.find("#qcb-agent-accept-no")[0].is_selected(), "the form does not show the switch off"
    admin.driver.execute_script(
        "document.getElementById('qcb-agent-accept-yes').checked = true;"
        "document.querySelector('form.fpbx-submit[name=qcbQueue]').submit();"
    )
    admin.wait(lambda: admin.driver.execute_script("return document.readyState") == "complete", 30, "saved")
    assert cli(fpbx, "queue", "show", "400")["agent_accept"] is True, "the page did not store the switch"
    fpbx.fw("reload")
    yield
    cli(fpbx, "queue", "set", "400", "--no-agent-accept")
    fpbx.fw("reload")
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))


def _line(log: str, text: str) -> str:
    found = [line for line in log.splitlines() if text in line]
    assert found, f"no log line with {text!r}"
    return found[-1]


def _at(line: str) -> datetime:
    match = _STAMP.match(line)
    assert match, line
    return datetime.fromisoformat(match.group(1))


def test_the_agent_presses_1_then_freepbx_dials_the_customer(fpbx: FreePbx) -> None:
    shown = fpbx.asterisk("dialplan show qcb-callback-accept")
    assert "'qcb-callback-accept'" in shown and "Read(" in shown, shown
    request_id = int(cli(fpbx, "request", "add", "400", "5551291")["request"]["id"])
    agent = PressingUas(fpbx, press_after_s=PRESS_AFTER_S)  # type: ignore[arg-type]
    customer = Uas(fpbx, "answer", ring_s=0.5, hangup_after_s=4)  # type: ignore[arg-type]
    mark = len(fpbx.full_log())
    with agent, customer:
        fpbx.set_contacts(agent.port, customer.port)
        assert request_id in tick(fpbx)["dialled"]
        assert wait_status(fpbx, request_id, {"done", "failed", "pending"}, timeout=90) == "done"
        [customer_invite] = customer.invites()
    log = fpbx.full_log()[mark:]
    asked = _line(log, "Playing 'qcb-agent-accept.")
    accepted = _line(log, f"request {request_id}: accepted by ")
    assert _at(asked) <= _at(accepted), (asked, accepted)
    invited = datetime.fromisoformat(customer_invite.stamp.removesuffix("Z"))
    assert invited > _at(accepted), f"the customer was called at {invited}, before the 1 ({accepted})"
    row = request_row(fpbx, request_id)
    assert (row["attempts"], row["tries"]) == (1, 1), row


def test_an_agent_who_presses_nothing_is_hung_up_and_the_try_does_not_count(fpbx: FreePbx) -> None:
    request_id = int(cli(fpbx, "request", "add", "400", "5551292")["request"]["id"])
    agent = Uas(fpbx, "answer", ring_s=0.5)  # type: ignore[arg-type]
    customer = Uas(fpbx, "answer", ring_s=0.5, hangup_after_s=4)  # type: ignore[arg-type]
    mark = len(fpbx.full_log())
    with agent, customer:
        fpbx.set_contacts(agent.port, customer.port)
        assert request_id in tick(fpbx)["dialled"]
        wait_for(
            lambda: (r := request_row(fpbx, request_id))["status"] == "pending" and r["tries"] == 1,
            60,
            0.5,
            "the unaccepted try given back",
        )
        assert customer.invites() == [], "the customer was called without an agent's 1"
        assert agent.received("BYE") >= 1, "the silent agent's leg was not hung up"
    row = request_row(fpbx, request_id)
    assert row["attempts"] == 0, f"the try no agent accepted counted: {row}"
    [(outcome, counted)] = fpbx.query(
        "SELECT outcome, counted FROM qcb_attempts WHERE request_id = %s", request_id
    )
    assert (outcome, bool(counted)) == ("no_agent", False)
    assert "did not accept" in fpbx.full_log()[mark:]
