"""Installs like any FreePBX module: Module Admin → Upload modules → Install, in the browser, as the web user.

The module is first taken off completely (fwconsole ma uninstall, its folder, both runtime folders and the
/usr/local/bin link that install.sh made), then the tarball from `make package` goes through Module Admin's
upload form and its Install/Process/Confirm flow. No shell step: the module's install() builds its Python
runtime from the tarball's wheels/ as the web server's user. The test leaves the module installed that way,
working, for the later files (the CLI linked into /usr/local/bin again, as they call it by name).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.testbed.freepbx.bed import FreePbx

from . import gui
from .calls import cli, press_1
from .conftest import mirror_runtime

RUNTIME = "/var/lib/asterisk/freepbx-callback"
CLI = f"{RUNTIME}/current/bin/freepbx-callback"
LEFT_BY_INSTALL_SH = (
    "/var/www/html/admin/modules/queuecallback",
    "/opt/freepbx-callback",
    RUNTIME,
    "/usr/local/bin/freepbx-callback",
)


def _status(fpbx: FreePbx) -> str | None:
    text = fpbx.fw("ma", "list", "--format=json")
    for line in text.splitlines():
        data = json.loads(line).get("data") if line.startswith("{") else None
        if isinstance(data, list):
            return {row[0]: row[2] for row in data}.get("queuecallback")
    raise AssertionError(f"no module list in: {text[:500]}")


def _php_size(value: str) -> int:
    number, unit = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", value, re.I).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit.upper()]


def test_upload_and_install_in_module_admin(fpbx: FreePbx, admin: gui.Admin) -> None:
    tarball = next((fpbx.run_dir / "dist").glob("queuecallback-*.tgz"))
    # what the web server's PHP accepts (an 8 MB tarball needs more than PHP's 2 MB default upload size)
    ini = fpbx.bw_path("/etc/php/8.2/apache2/php.ini").read_text()
    for key in ("upload_max_filesize", "post_max_size"):
        limit = re.search(rf"^{key}\s*=\s*(\S+)", ini, re.M)
        assert limit and _php_size(limit.group(1)) > tarball.stat().st_size, (key, limit)

    # nothing of the product left on the host
    fpbx.fw("ma", "uninstall", "queuecallback")
    fpbx.bw(["rm", "-rf", *LEFT_BY_INSTALL_SH])
    assert _status(fpbx) in (None, "Not Installed (Locally available)")
    left = [
        path
        for path in LEFT_BY_INSTALL_SH
        if fpbx.bw(["test", "-e", path, "-o", "-L", path], check=False).returncode == 0
    ]
    assert left == [], left
    assert fpbx.query("SHOW TABLES LIKE 'qcb\\_%'") == []

    page = admin.upload_module(tarball, shot="module-admin-upload.png")
    admin.shot("module-admin-uploaded.png")
    assert "Module uploaded successfully" in page, page[:1500]
    assert _status(fpbx) == "Not Installed (Locally available)"

    started = time.monotonic()
    progress = admin.install_module("queuecallback", shot="module-admin-confirm.png")
    took = time.monotonic() - started
    admin.shot("module-admin-installed.png")
    print(f"Module Admin installed queuecallback in {took:.1f} s:\n{progress}")
    assert "queuecallback installed successfully" in progress, progress
    # the runtime was built during that install, by the web user, who cannot write /opt
    assert "cannot write /opt/freepbx-callback/venv as asterisk" in progress, progress
    assert f"Python runtime built in {RUNTIME}/venv" in progress, progress
    admin.close_module_dialog()
    assert _status(fpbx) == "Enabled"

    assert fpbx.bw_path(f"{RUNTIME}/current").is_symlink()
    assert fpbx.bw(["readlink", f"{RUNTIME}/current"]).stdout.strip() == f"{RUNTIME}/venv"
    # built by the web user: everything in it is asterisk's
    strangers = fpbx.bw(["find", RUNTIME, "!", "-user", "asterisk"]).stdout.split()
    assert strangers == [] and fpbx.bw_path(f"{RUNTIME}/venv/bin/freepbx-callback").is_file(), strangers
    assert not fpbx.bw_path("/opt/freepbx-callback").exists()
    # what the module runs: the CLI it stored, in its per-minute Job
    kv = fpbx.query("SELECT val FROM kvstore_FreePBX_modules_Queuecallback WHERE `key` = 'cli_path'")
    assert kv == [(CLI,)], kv
    jobs = fpbx.query("SELECT command FROM cron_jobs WHERE modulename = 'queuecallback' AND jobname = 'dial'")
    assert jobs == [(f"{CLI} dial",)], jobs

    doctor = fpbx.bw([CLI, "doctor", "--json"], user="asterisk", check=False)
    checks = {c["check"]: c["ok"] for c in json.loads(doctor.stdout)["checks"]}
    assert checks.get("database") and checks.get("schema"), doctor.stdout

    admin.open("config.php?display=modules")
    admin.apply_config()
    admin.shot("module-admin-applied.png")
    assert "qcb-callback-agent-first" in fpbx.asterisk("dialplan show qcb-callback-agent-first")


def test_a_caller_presses_1_with_the_runtime_module_admin_built(fpbx: FreePbx) -> None:
    """The later files call the CLI by name (install.sh's link) and the bed's Asterisk needs its mirror
    of the runtime (conftest.mirror_runtime); then a real call through the DID stores a request."""
    if fpbx.bw(["test", "-x", CLI], check=False).returncode != 0:
        pytest.skip("needs the previous test's install")
    fpbx.bw(["ln", "-sfn", CLI, "/usr/local/bin/freepbx-callback"])
    mirror_runtime(fpbx, fpbx.run_dir / "dist")
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--no-did")
    fpbx.fw("reload")
    for row in fpbx.query("SELECT id FROM qcb_requests WHERE status IN ('pending', 'dialing')"):
        cli(fpbx, "request", "cancel", str(row[0]))
    fpbx.set_contacts(agent_port=9, customer_port=9)  # nobody answers: the caller waits and hears the offer
    call = press_1(fpbx, did="5551000", caller="5551240")
    assert call.bye_received, call.summary()
    rows = fpbx.query("SELECT id, status, source, did FROM qcb_requests WHERE number LIKE '%5551240'")
    assert [(status, source, did) for _, status, source, did in rows] == [("pending", "agi", "5551000")], rows
    cli(fpbx, "request", "cancel", str(rows[0][0]))
