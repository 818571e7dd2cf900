"""FreePBX's own backup module carries the module's data: a backup job that includes queuecallback, run with
`fwconsole backup --backup <id>`, holds queue 400's callback settings and the open requests, and
`fwconsole backup --restore <file>` puts them back after they were changed and cancelled."""

from __future__ import annotations

import base64
import json
import re

from tests.testbed.freepbx.bed import FreePbx

from .calls import cli

SETTINGS = "SELECT enabled, attempts, retry_interval FROM qcb_queues WHERE queue = '400'"
OPEN = (
    "SELECT id FROM qcb_requests WHERE queue = '400' AND number LIKE %s AND status IN ('pending', 'dialing')"
)


def install_backup_module(fpbx: FreePbx) -> None:
    fpbx.fw("ma", "install", "filestore", "backup", timeout=600)
    listed = fpbx.fw("ma", "list")
    for name in ("filestore", "backup"):
        assert re.search(rf"\|\s*{name}\s*\|.*\|\s*Enabled\s*\|", listed), f"{name} not enabled:\n{listed}"


LOCAL_STORAGE = (
    "include '/etc/freepbx.conf';"
    " foreach (FreePBX::Filestore()->listItems('Local') as $i) { echo 'LOCAL=', $i['id'], PHP_EOL; }"
)


def backup_job(fpbx: FreePbx) -> str:
    """A backup job of the queuecallback module (and the queues it depends on) kept in the filestore
    module's default local storage, created with `fwconsole backup --b64import`."""
    local = re.findall(r"^LOCAL=(\S+)$", fpbx.bw(["php", "-r", LOCAL_STORAGE]).stdout, re.M)
    assert local, "no local storage in the filestore module"
    job = {
        "backup_name": "qcb-test",
        "backup_description": "Queue Callback test",
        "backup_storage": [f"Local_{local[0]}"],
        "backup_items": [{"modulename": "queuecallback"}, {"modulename": "queues"}],
    }
    out = fpbx.fw("backup", "--b64import", base64.b64encode(json.dumps(job).encode()).decode())
    found = re.search(r"Backup created ID: (\S+)", out)
    assert found, out
    return found.group(1)


def test_freepbx_backup_and_restore_carry_settings_and_open_requests(fpbx: FreePbx) -> None:
    install_backup_module(fpbx)
    cli(
        fpbx,
        "queue",
        "set",
        "400",
        "--enable",
        "--allow",
        "_555XXXX",
        "--attempts",
        "3",
        "--retry-interval",
        "120",
    )
    cli(fpbx, "request", "add", "400", "5551277")
    assert fpbx.query(SETTINGS) == [(1, 3, 120)]
    assert len(fpbx.query(OPEN, "%5551277")) == 1

    job = backup_job(fpbx)
    out = fpbx.fw("backup", f"--backup={job}", timeout=600)
    assert "Backup completed successfully" in out, out
    name = re.search(r"Backup File Name: (\S+)", out)
    assert name, out
    # the filestore's default local storage: __ASTSPOOLDIR__/backup/
    files = fpbx.bw(["find", "/var/spool/asterisk/backup", "-name", name.group(1)]).stdout.split()
    assert len(files) == 1, f"backup files: {files}\n{out}"

    cli(fpbx, "queue", "set", "400", "--attempts", "1", "--retry-interval", "600")
    for (request_id,) in fpbx.query(OPEN, "%5551277"):
        cli(fpbx, "request", "cancel", str(request_id))
    assert fpbx.query(SETTINGS) != [(1, 3, 120)]
    assert fpbx.query(OPEN, "%5551277") == []

    out = fpbx.fw("backup", f"--restore={files[0]}", timeout=900)
    assert "error" not in out.lower(), out
    assert "queuecallback" in out, out
    assert fpbx.query(SETTINGS) == [(1, 3, 120)], out
    assert len(fpbx.query(OPEN, "%5551277")) == 1, out
