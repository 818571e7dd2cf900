"""The admin's path in headless Chromium: the queue form's Callback tab, Submit, Apply Config."""

from __future__ import annotations

import pytest

from tests.testbed.freepbx.bed import FreePbx

from . import gui


def _enabled(fpbx: FreePbx, queue: str) -> bool:
    rows = fpbx.query("SELECT enabled FROM qcb_queues WHERE queue = %s", queue)
    return bool(rows and rows[0][0])


def test_callback_tab_enable_submit_apply(fpbx: FreePbx, admin: gui.Admin) -> None:
    assert not _enabled(fpbx, "400")
    admin.open("config.php?display=queues&view=form&extdisplay=400")
    admin.open_tab("Callback")
    admin.shot("queue-400-callback-tab.png")
    admin.driver.execute_script("document.getElementById('qcb_enabledyes').checked = true;")
    admin.submit_queue_form()
    assert not admin.php_errors(), admin.php_errors()
    assert _enabled(fpbx, "400"), "the Callback tab's setting was not stored"
    admin.apply_config()
    admin.shot("after-apply-config.png")
    queue = fpbx.asterisk("queue show 400")
    assert "Local/1002@from-queue" in queue
    extensions = fpbx.asterisk("dialplan show qcb-exit-400")
    assert "qcb-request" in extensions or "agi://" in extensions, extensions
    conf = fpbx.bw_path("/etc/asterisk/queues_additional.conf").read_text()
    section = conf[conf.index("[400]") :]
    section = section[: section.find("\n[", 1) if "\n[" in section[1:] else len(section)]
    assert "context=qcb-exit-400" in section and "periodic-announce=qcb-offer" in section, section


def test_editing_and_saving_the_queue_keeps_the_setting(fpbx: FreePbx, admin: gui.Admin) -> None:
    if not _enabled(fpbx, "400"):
        pytest.skip("needs the previous test's setting")
    admin.open("config.php?display=queues&view=form&extdisplay=400")
    admin.driver.execute_script("document.getElementById('name').value = 'Support line';")
    admin.submit_queue_form()
    assert not admin.php_errors(), admin.php_errors()
    assert fpbx.query("SELECT descr FROM queues_config WHERE extension = '400'")[0][0] == "Support line"
    assert _enabled(fpbx, "400"), "saving the queue form lost the callback setting"
    admin.open("config.php?display=queues&view=form&extdisplay=400")
    admin.open_tab("Callback")
    checked = admin.driver.execute_script("return document.getElementById('qcb_enabledyes').checked;")
    assert checked is True
    admin.apply_config()
