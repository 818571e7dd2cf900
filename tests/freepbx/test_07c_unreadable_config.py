"""When Asterisk's user cannot read /etc/freepbx.conf, callers still hear "accepted" and the requests wait
in the journal: doctor, the module page and a FreePBX notification say so and show the backlog; once the
file is readable again, the next dialer tick stores every journaled request exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testbed.freepbx.bed import FreePbx

from . import gui
from .calls import cli, press_1, tick


@pytest.fixture
def unreadable(fpbx: FreePbx) -> Iterator[None]:
    mode = fpbx.bw(["stat", "-c", "%a %U:%G", "/etc/freepbx.conf"]).stdout.split()
    fpbx.bw(["chown", "root:root", "/etc/freepbx.conf"])
    fpbx.bw(["chmod", "600", "/etc/freepbx.conf"])
    try:
        yield
    finally:
        fpbx.bw(["chown", mode[1], "/etc/freepbx.conf"])
        fpbx.bw(["chmod", mode[0], "/etc/freepbx.conf"])


def test_unreadable_config_is_reported_and_loses_nothing(fpbx: FreePbx, unreadable: None) -> None:
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX")
    fpbx.fw("reload")
    fpbx.set_contacts(agent_port=9, customer_port=9)
    before = fpbx.query("SELECT COUNT(*) FROM qcb_requests")[0][0]
    fpbx.asterisk("channel request hangup all")  # no callback leg of an earlier test may end in here
    journal = cli(fpbx, "doctor", check=False)["checks"]
    waiting = next(c for c in journal if c["check"] == "journal")["requests"]
    call = press_1(fpbx, did="5551000", caller="5551251")
    assert call.bye_received, call.summary()
    assert fpbx.query("SELECT COUNT(*) FROM qcb_requests")[0][0] == before, "stored without the database?"

    doctor = cli(fpbx, "doctor", check=False)
    checks = {c["check"]: c for c in doctor["checks"]}
    assert checks["config_readable"]["ok"] is False and "chmod" in (checks["config_readable"]["fix"] or "")
    assert checks["journal"]["requests"] == waiting + 1, checks["journal"]
    assert doctor["ok"] is False

    # FreePBX's own PHP runs as the same user and needs the file too: the admin makes it readable again,
    # and the page and a notification show what still waits in the journal
    fpbx.bw(["chown", "asterisk:asterisk", "/etc/freepbx.conf"])
    fpbx.bw(["chmod", "640", "/etc/freepbx.conf"])
    why = gui.available()
    if why is None:
        admin = gui.Admin(fpbx.web)
        try:
            admin.open("config.php?display=queuecallback")
            admin.shot("health-journal-backlog.png")
            text = admin.text()
            assert f"{doctor['journal']['waiting']} request(s) waiting" in text, text[:3000]
        finally:
            admin.close()
        notices = fpbx.query("SELECT extended_text FROM notifications WHERE module = 'queuecallback'")
        texts = [row[0].decode() if isinstance(row[0], bytes) else str(row[0] or "") for row in notices]
        assert any("journal" in text for text in texts), texts

    # the next tick replays the journal: one row, once
    tick(fpbx)
    rows = fpbx.query("SELECT COUNT(*) FROM qcb_requests WHERE number LIKE %s", "%5551251")
    assert rows == [(1,)]
    assert cli(fpbx, "doctor", check=False)["journal"]["waiting"] == 0
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))
