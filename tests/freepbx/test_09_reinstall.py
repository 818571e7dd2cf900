"""Uninstall and re-install on the real FreePBX (last: it drops the module's tables)."""

from __future__ import annotations

import json

from tests.testbed.freepbx.bed import FreePbx

from .conftest import install_product


def test_uninstall_then_reinstall(fpbx: FreePbx) -> None:
    fpbx.fw("ma", "uninstall", "queuecallback")
    status = fpbx.fw("ma", "list", "--format=json")
    assert '"queuecallback"' not in status or "Not Installed" in status
    assert fpbx.query("SHOW TABLES LIKE 'qcb\\_queues'") == []
    fpbx.fw("reload")
    assert (
        "There is no existence"
        in fpbx.run_in_root(["asterisk", "-rx", "dialplan show qcb-callback-agent-first"]).stdout
    )

    again = install_product(fpbx)
    assert again.returncode == 0, again.stdout + again.stderr
    assert fpbx.query("SHOW TABLES LIKE 'qcb\\_queues'") == [("qcb_queues",)]
    doctor = json.loads(fpbx.bw(["freepbx-callback", "doctor", "--json"], check=False).stdout)
    assert {c["check"]: c["ok"] for c in doctor["checks"]}.get("schema"), doctor
    assert "qcb-callback-agent-first" in fpbx.asterisk("dialplan show qcb-callback-agent-first")
