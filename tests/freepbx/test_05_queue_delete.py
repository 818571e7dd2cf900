"""Deleting a queue in FreePBX's GUI cancels its open callback requests."""

from __future__ import annotations

from tests.testbed.freepbx.bed import FreePbx

from . import gui
from .calls import cli, request_row


def test_deleting_the_queue_cancels_its_open_requests(fpbx: FreePbx, admin: gui.Admin) -> None:
    admin.open("config.php?display=queues&view=form")
    admin.driver.execute_script(
        "document.getElementById('account').value='402'; document.getElementById('name').value='Temporary';"
        "document.getElementById('members').value='1002,0';"
    )
    admin.open_tab("Callback")
    admin.driver.execute_script("document.getElementById('qcb_enabledyes').checked = true;")
    admin.submit_queue_form()
    assert not admin.php_errors(), admin.php_errors()
    assert fpbx.query("SELECT enabled FROM qcb_queues WHERE queue = '402'") == [(1,)]
    cli(fpbx, "queue", "set", "402", "--allow", "_555XXXX")  # the bed's numbers are seven-digit local ones
    request_id = int(cli(fpbx, "request", "add", "402", "5551288")["request"]["id"])
    other = int(cli(fpbx, "request", "add", "400", "5551288")["request"]["id"])

    admin.open("config.php?display=queues&view=form&extdisplay=402")
    admin.delete_from_action_bar()
    assert not admin.php_errors(), admin.php_errors()
    assert fpbx.query("SELECT COUNT(*) FROM queues_config WHERE extension = '402'") == [(0,)]
    assert request_row(fpbx, request_id)["status"] == "cancelled", "the deleted queue's request is still open"
    assert request_row(fpbx, other)["status"] == "pending", "another queue's request was touched"
    cli(fpbx, "request", "cancel", str(other))
