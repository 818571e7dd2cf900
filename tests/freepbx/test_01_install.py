"""`make package` + packaging/install.sh on a real FreePBX 17: the module installs alone and works."""

from __future__ import annotations

import json

from tests.testbed.freepbx.bed import FreePbx


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
    """The install writes the runtime's interpreter into the scripts' first line: Asterisk starts that one
    Python, with -S (no site scan), which imports the package itself (no hand-over from the system python3):
    under PYTHONPROFILEIMPORTTIME one interpreter start (one `encodings`), which imports the handler."""
    from tests.freepbx.conftest import CURRENT_PYTHON

    for name in ("qcb-request.agi", "qcb-outcome.agi"):
        first = fpbx.bw_path(f"/var/lib/asterisk/agi-bin/{name}").read_text().splitlines()[0]
        assert first == f"#!{CURRENT_PYTHON} -S", f"{name}: {first}"
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
