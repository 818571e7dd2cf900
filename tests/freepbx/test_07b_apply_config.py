"""A change made with the CLI on the FreePBX host raises FreePBX's Apply Config bar, and Apply Config in the
GUI then brings it to Asterisk (queues_additional.conf), as for a change made in the GUI."""

from __future__ import annotations

from tests.testbed.freepbx.bed import FreePbx

from . import gui
from .calls import cli


def need_reload(fpbx: FreePbx) -> str:
    rows = fpbx.query("SELECT value FROM admin WHERE variable = 'need_reload'")
    return str(rows[0][0]) if rows else ""


def queue_section(fpbx: FreePbx, queue: str) -> str:
    conf = fpbx.bw_path("/etc/asterisk/queues_additional.conf").read_text()
    section = conf[conf.index(f"[{queue}]") :]
    end = section.find("\n[", 1)
    return section if end < 0 else section[:end]


def test_cli_change_raises_apply_config_and_apply_config_takes_it(fpbx: FreePbx, admin: gui.Admin) -> None:
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--offer-every", "30")
    fpbx.fw("reload")
    assert "periodic-announce-frequency=30" in queue_section(fpbx, "400")
    fpbx.query("UPDATE admin SET value = 'false' WHERE variable = 'need_reload'")
    admin.open("config.php?display=queues")
    assert not any(b.is_displayed() for b in admin.find("#button_reload")), (
        "Apply Config shown before the change"
    )

    done = fpbx.bw(["freepbx-callback", "queue", "set", "400", "--offer-every", "45"])
    assert done.returncode == 0, done.stderr
    assert need_reload(fpbx) == "true", "the CLI change did not raise FreePBX's Apply Config"
    admin.open("config.php?display=queues")
    assert any(b.is_displayed() for b in admin.find("#button_reload")), "no Apply Config button in the GUI"
    admin.shot("apply-config-after-cli-change.png")
    assert "periodic-announce-frequency=45" not in queue_section(fpbx, "400"), "applied before Apply Config"

    admin.apply_config()
    assert need_reload(fpbx) == "false"
    section = queue_section(fpbx, "400")
    lines = section.splitlines()
    # ours come last in the section, so they win over the queues module's own line (FREEPBX-FACTS)
    ours = [line for line in lines if line.startswith("periodic-announce-frequency=")]
    assert ours and ours[-1] == "periodic-announce-frequency=45", section
