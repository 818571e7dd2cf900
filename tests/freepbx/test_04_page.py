"""The module page in headless Chromium on the real FreePBX: it lists requests; cancel and call again."""

from __future__ import annotations

import contextlib
import time

from selenium.common.exceptions import NoAlertPresentException

from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.wait import wait_for

from . import gui
from .calls import cli, phones, request_row


def _press(admin: gui.Admin, request_id: int, action: str) -> None:
    admin.open("config.php?display=queuecallback")
    row = admin.find(f'tr[data-request="{request_id}"]')
    assert row, f"request {request_id} is not listed: {admin.text()[:1500]}"
    buttons = row[0].find_elements("css selector", f'form input[name=action][value="{action}"]')
    assert buttons, f"no {action} button on request {request_id}'s row"
    form = buttons[0].find_element("xpath", "./ancestor::form")
    form.find_element("css selector", "button[type=submit], input[type=submit]").click()
    with contextlib.suppress(NoAlertPresentException):
        admin.driver.switch_to.alert.accept()
    admin.wait(lambda: admin.driver.execute_script("return document.readyState") == "complete", 30, action)


def test_page_lists_the_request_and_cancel_and_call_again_work(fpbx: FreePbx, admin: gui.Admin) -> None:
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX")
    added = cli(fpbx, "request", "add", "400", "5551299")
    request_id = int(added["request"]["id"])
    admin.open("config.php?display=queuecallback")
    assert not admin.php_errors(), admin.php_errors()
    row = admin.find(f'tr[data-request="{request_id}"]')
    assert row and "5551299" in row[0].text, admin.text()[:1500]
    admin.shot("module-page.png")

    _press(admin, request_id, "cancel")
    wait_for(
        lambda: request_row(fpbx, request_id)["status"] == "cancelled", 20, 0.3, "cancelled from the page"
    )
    _press(admin, request_id, "retry")
    wait_for(
        lambda: request_row(fpbx, request_id)["status"] == "pending", 20, 0.3, "called again from the page"
    )
    cli(fpbx, "request", "cancel", str(request_id))


def test_cancel_on_the_page_while_the_agent_rings_stops_the_call(fpbx: FreePbx, admin: gui.Admin) -> None:
    """The admin cancels a callback whose agent's phone is ringing: the ringing stops, and the customer is
    never called (the page runs `request cancel`, which hangs the call up through FreePBX's AMI)."""
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--no-notify-agents")
    fpbx.fw("reload")
    # the earlier files' requests still due (a retry of a failed route) would be dialled first
    for (open_id,) in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(open_id))
    request_id = int(cli(fpbx, "request", "add", "400", "5551298")["request"]["id"])
    agent, customer = phones(fpbx, agent_ring_s=20)
    with agent, customer:
        report = cli(fpbx, "dial")
        assert request_id in report["dialled"], report
        wait_for(lambda: agent.invites(), 20, 0.3, "the agent's phone rings")
        _press(admin, request_id, "cancel")
        wait_for(lambda: agent.received("CANCEL"), 15, 0.3, "the agent's phone stops ringing")
        wait_for(
            lambda: request_row(fpbx, request_id)["status"] == "cancelled", 10, 0.3, "cancelled from the page"
        )
        time.sleep(3)
        assert customer.invites() == [], "a cancelled callback never calls the customer"
        assert agent.received("ACK") == 0, "the agent never answered"
