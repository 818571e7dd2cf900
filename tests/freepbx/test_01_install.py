"""`make package` + packaging/install.sh on a real FreePBX 17: the module installs alone and works."""

from __future__ import annotations

import json

from freepbx_callback.models import QueueSettings
from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.pinned import pinned_python

from .calls import cli, press_1

MODULE_SOUNDS = "/var/www/html/admin/modules/queuecallback/sounds"


def _modules(text: str) -> dict[str, str]:
    """`fwconsole ma list --format=json` → {rawname: status}."""
    for line in text.splitlines():
        if line.startswith("{"):
            data = json.loads(line).get("data")
            if isinstance(data, list):
                return {row[0]: row[2] for row in data}
    raise AssertionError(f"no module list in: {text[:500]}")


def test_install_sh_installs_the_module_and_only_it(fpbx: FreePbx) -> None:
    assert fpbx.install.returncode == 0, fpbx.install.stdout + fpbx.install.stderr  # type: ignore[attr-defined]
    before = _modules(fpbx.modules_before)  # type: ignore[attr-defined]
    after = _modules(fpbx.fw("ma", "list", "--format=json"))
    assert after.get("queuecallback") == "Enabled", after
    newly = {name for name, status in after.items() if status == "Enabled" and before.get(name) != "Enabled"}
    assert newly == {"queuecallback"}, f"install.sh enabled other modules too: {sorted(newly)}"


def test_tables_and_cli_on_the_host(fpbx: FreePbx) -> None:
    tables = {row[0] for row in fpbx.query("SHOW TABLES LIKE 'qcb\\_%'")}
    assert {"qcb_queues", "qcb_requests", "qcb_attempts", "qcb_events"} <= tables
    doctor = fpbx.bw(["freepbx-callback", "doctor", "--json"], check=False)
    checks = {c["check"]: c["ok"] for c in json.loads(doctor.stdout)["checks"]}
    assert checks.get("database") and checks.get("schema"), doctor.stdout


def test_the_agi_scripts_and_dialplan_are_in_place(fpbx: FreePbx) -> None:
    for name in ("qcb-request.agi", "qcb-outcome.agi"):
        assert fpbx.bw_path(f"/var/lib/asterisk/agi-bin/{name}").exists(), name
    # Asterisk loaded the module's contexts through FreePBX's dialplan hook
    assert "qcb-callback-agent-first" in fpbx.asterisk("dialplan show qcb-callback-agent-first")


def test_the_installed_agi_scripts_start_one_python_the_runtimes(fpbx: FreePbx) -> None:
    """The install names the runtime's interpreter in the scripts' header: Asterisk starts that one
    Python, with -S (no site scan), which imports the package itself (no hand-over from the system python3):
    under PYTHONPROFILEIMPORTTIME one interpreter start (one `encodings`), which imports the handler."""
    from tests.freepbx.conftest import CURRENT_PYTHON

    for name in ("qcb-request.agi", "qcb-outcome.agi"):
        script = fpbx.bw_path(f"/var/lib/asterisk/agi-bin/{name}")
        assert pinned_python(script) == CURRENT_PYTHON, f"{name}: {script.read_text()[:300]}"
    script = "/var/lib/asterisk/agi-bin/qcb-request.agi"
    # No AGI conversation on stdin: the script reads the end of input as a hang-up and ends quietly.
    env = {"PYTHONPROFILEIMPORTTIME": "1"}
    ran = {
        "FreePBX root": fpbx.bw(["sh", "-c", f"{script} 400 </dev/null"], env=env, check=False),
        "Asterisk root": fpbx.run_in_root(["sh", "-c", f"{script} 400 </dev/null"], env=env),
    }
    for where, done in ran.items():
        assert done.returncode == 0, f"{where}: {done.stdout}{done.stderr[-2000:]}"
        # each interpreter that starts imports `encodings` first: a system python3 handing over would add one
        started = [line for line in done.stderr.splitlines() if line.rstrip().endswith("| encodings")]
        assert len(started) == 1, f"{where}: {len(started)} pythons started:\n{done.stderr[-2000:]}"
        assert "freepbx_callback.agi.run" in done.stderr and "Traceback" not in done.stderr, where


def _prompts(fpbx: FreePbx, folder: str) -> dict[str, str]:
    """{<lang>/qcb-*: sha256} of the prompt files under ``folder`` of the FreePBX root (links followed)."""
    found = "find -L . -name 'qcb-*' -type f -exec sha256sum {} +"
    script = f"[ -d {folder} ] || exit 0; cd {folder} && {found}"
    lines = fpbx.bw(["sh", "-c", script]).stdout.splitlines()
    return {name.removeprefix("./"): digest for digest, name in (line.split() for line in lines)}


def test_the_prompts_ship_once_in_the_module_and_play(fpbx: FreePbx) -> None:
    """The tarball carries the prompts once, in the module's sounds/, which the reload links into Asterisk's
    sounds folder: a caller in the queue hears qcb-offer from there. The runtime built from the tarball's
    wheels/ has no copy of its own, and its `sounds install` takes the module's files."""
    shipped = _prompts(fpbx, MODULE_SOUNDS)
    assert "en/qcb-offer.wav" in shipped and "ru/qcb-offer.wav" in shipped, shipped
    from tests.freepbx.conftest import CURRENT_PYTHON

    packaged = fpbx.bw([CURRENT_PYTHON, "-I", "-c", "import freepbx_callback.prompts as p; print(p.SOUNDS)"])
    assert _prompts(fpbx, packaged.stdout.strip()) == {}, "the runtime's package carries the prompts again"
    fpbx.bw(["rm", "-rf", "/tmp/qcb-sounds"])
    done = fpbx.bw(["freepbx-callback", "sounds", "install", "--dir", "/tmp/qcb-sounds"], check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _prompts(fpbx, "/tmp/qcb-sounds") == shipped
    # the reload linked the module's files into FreePBX's sounds folder, and a call plays them
    offer = fpbx.bw(["readlink", "-f", "/var/lib/asterisk/sounds/en/qcb-offer.wav"]).stdout.strip()
    assert offer == f"{MODULE_SOUNDS}/en/qcb-offer.wav", offer
    # the offer every 10 s (the queue rings its agent meanwhile); the queue is left as it was found: the
    # later files start from a queue whose callback was never set
    had_settings = bool(fpbx.query("SELECT 1 FROM qcb_queues WHERE queue = '400'"))
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX", "--offer-every", "10")
    fpbx.fw("reload")
    fpbx.set_contacts(agent_port=9, customer_port=9)  # every agent busy elsewhere: the caller waits
    mark = len(fpbx.full_log())
    try:
        call = press_1(fpbx, did="5551000", caller="5551231", after_s=26)
    finally:
        open_ = "SELECT id FROM qcb_requests WHERE number LIKE %s AND status IN ('pending', 'dialing')"
        for (request_id,) in fpbx.query(open_, "%5551231"):
            cli(fpbx, "request", "cancel", str(request_id))
        if had_settings:
            cli(fpbx, "queue", "set", "400", "--offer-every", str(QueueSettings.offer_every))
        else:
            fpbx.bw(["freepbx-callback", "queue", "delete", "400"])  # (it has no --json)
        fpbx.fw("reload")
    assert call.bye_received, call.summary()
    log = fpbx.full_log()[mark:]
    played = [line for line in log.splitlines() if "Playing 'qcb-offer." in line and "<PJSIP/pstn-" in line]
    assert played, log[-3000:]


def test_nothing_of_ours_listens_on_4573(fpbx: FreePbx) -> None:
    listening = []
    for line in fpbx.bw(["cat", "/proc/net/tcp"]).stdout.splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A":  # LISTEN
            listening.append(int(fields[1].split(":")[1], 16))
    assert listening, "no listener read at all"
    assert 4573 not in listening, (
        f"something listens on 127.0.0.1:4573 (FreePBX core's FastAGI port): {listening}"
    )
