"""Callback hours on the real FreePBX: a Time Group (FreePBX's Time Conditions module, installed in the bed)
chosen for queue 400 governs its callbacks. A caller who presses 1 while the group does not match is
stored, told when the call will come, is not dialled while it does not match, and is dialled once it does.
The page offers the bed's Time Groups and saves the choice."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.testbed.freepbx.bed import FreePbx

from . import gui
from .calls import cli, phones, press_1, request_row, tick, wait_status


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _time_group(fpbx: FreePbx, description: str, *times: str) -> int:
    """A Time Group as FreePBX's Time Groups page stores it (timegroups_groups + timegroups_details)."""
    assert fpbx.query("SHOW TABLES LIKE 'timegroups_details'"), "the bed has no Time Conditions module"
    fpbx.query("DELETE FROM timegroups_groups WHERE description = %s", description)
    fpbx.query("INSERT INTO timegroups_groups (description) VALUES (%s)", description)
    [(group,)] = fpbx.query("SELECT id FROM timegroups_groups WHERE description = %s", description)
    for line in times:
        fpbx.query("INSERT INTO timegroups_details (timegroupid, time) VALUES (%s, %s)", group, line)
    return int(group)


@pytest.fixture(autouse=True)
def _no_open_requests(fpbx: FreePbx) -> None:
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))


def test_a_time_group_chosen_for_the_queue_governs_its_callbacks(fpbx: FreePbx) -> None:
    opens = (_utcnow() + timedelta(seconds=170)).replace(second=0, microsecond=0)
    line = f"{opens:%H:%M}-{opens + timedelta(hours=1):%H:%M}|*|*|*"
    group = _time_group(fpbx, "qcb test hours", line)
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--no-notify-agents")
    cli(fpbx, "queue", "set", "400", "--mode", "agent-first", "--min-talk", "2", "--no-did")
    shown = cli(fpbx, "queue", "set", "400", "--timegroup", str(group), "--timezone", "UTC")
    assert shown["timegroup"] == group
    fpbx.fw("reload")
    try:
        fpbx.set_contacts(agent_port=9, customer_port=9)  # every agent busy elsewhere: the caller waits
        mark = len(fpbx.full_log())
        call = press_1(fpbx, did="5551000", caller="5551241")
        assert call.bye_received, call.summary()
        [(request_id, due)] = fpbx.query(
            "SELECT id, next_attempt_at FROM qcb_requests WHERE status = 'pending' AND number LIKE %s",
            "%5551241",
        )
        assert due == opens, (due, opens)
        log = fpbx.full_log()[mark:]
        told, after = log.find("'qcb-accepted-later."), log.find("'qcb-after.")
        assert 0 <= told < after, f"the caller was not told when: {log[-3000:]}"
        assert f"'digits/{opens.hour % 12 or 12}." in log[after:], log[after:][:2000]
        assert "'qcb-accepted." not in log, "the as-soon-as-possible confirmation played"

        agent, customer = phones(fpbx, customer_hangup_after_s=5)
        with agent, customer:
            while _utcnow() < opens - timedelta(seconds=3):
                report = tick(fpbx)
                assert report["dialled"] == [] and report["expired"] == [], report
                time.sleep(3)
            assert agent.invites() == [] and customer.invites() == [], "dialled outside the Time Group"
            assert wait_status(fpbx, int(request_id), {"done"}, timeout=60, tick_every=2) == "done"
            assert _utcnow() >= opens
            [invite] = customer.invites()
            assert "5551241" in invite.first_line
        assert request_row(fpbx, int(request_id))["attempts"] == 1
    finally:
        cli(fpbx, "queue", "set", "400", "--no-timegroup")


def test_the_page_offers_the_time_groups_and_saves_the_choice(fpbx: FreePbx, admin: gui.Admin) -> None:
    group = _time_group(fpbx, "qcb page hours", "09:00-17:00|mon-fri|*|*")
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--no-timegroup")
    admin.open("config.php?display=queuecallback&view=form&queue=400")
    assert not admin.php_errors(), admin.php_errors()
    options = {o.get_attribute("value"): o.text for o in admin.find("#qcb-timegroup option")}
    assert options.get(str(group)) == "qcb page hours", options
    admin.driver.execute_script(
        f"document.getElementById('qcb-timegroup').value = '{group}';"
        "document.querySelector('form.fpbx-submit[name=qcbQueue]').submit();"
    )
    admin.wait(lambda: admin.driver.execute_script("return document.readyState") == "complete", 30, "saved")
    try:
        assert cli(fpbx, "queue", "show", "400")["timegroup"] == group
    finally:
        cli(fpbx, "queue", "set", "400", "--no-timegroup")


def test_the_page_shows_a_chosen_time_and_moves_it(fpbx: FreePbx, admin: gui.Admin) -> None:
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--offer-times", "--always-open")
    added = cli(fpbx, "request", "add", "400", "5551297", "--when", "hour")
    request_id = int(added["request"]["id"])
    due = added["request"]["next_attempt_at"].replace("T", " ").removesuffix("Z")
    try:
        admin.open("config.php?display=queuecallback")
        assert not admin.php_errors(), admin.php_errors()
        [row] = admin.find(f'tr[data-request="{request_id}"]')
        assert due in row.text, (due, row.text)  # the chosen time, an hour from the request
        at = (_utcnow() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        field = row.find_element("css selector", "form.qcb-reschedule input[name=at]")
        field.send_keys(at)
        field.find_element("xpath", "./ancestor::form").submit()
        admin.wait(lambda: at in admin.text(), 30, "the page shows the new time")
        [(stored,)] = fpbx.query("SELECT next_attempt_at FROM qcb_requests WHERE id = %s", request_id)
        assert stored.strftime("%Y-%m-%d %H:%M") == at
    finally:
        cli(fpbx, "request", "cancel", str(request_id))
        cli(fpbx, "queue", "set", "400", "--no-offer-times")
