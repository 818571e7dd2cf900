"""The agi-bin scripts as Asterisk starts them: a process fed the AGI conversation on stdin.

On FreePBX the package lives in /opt/freepbx-callback/venv while Asterisk runs the script with the
system python3; the script must then re-run itself with the virtualenv's python ($QCB_PYTHON here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from freepbx_callback.service import CallbackService
from tests.testbed.pinned import pinned_python

SCRIPTS = Path(__file__).resolve().parents[2] / "agi-bin"
SYSTEM_PYTHON = "/usr/bin/python3"


def play(cmd: list[str], env: dict[str, str], agi_env: str) -> list[str]:
    """Be Asterisk for one AGI run: send the environment, answer every command with success."""
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/"
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(agi_env.encode())
    proc.stdin.flush()
    commands = []
    while line := proc.stdout.readline():
        commands.append(line.decode().strip())
        proc.stdin.write(b"200 result=1 (5551000)\n" if b"FROM_DID" in line else b"200 result=0\n")
        proc.stdin.flush()
    proc.stdin.close()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=30) == 0, stderr
    return commands


def agi_env(callerid: str) -> str:
    return f"agi_request: qcb-request.agi\nagi_uniqueid: 1764.{callerid}\nagi_callerid: {callerid}\n\n"


def test_script_stores_the_request(service: CallbackService, db_dsn: str) -> None:
    service.set_queue("400", enabled=True)
    env = {**os.environ, "QCB_DSN": db_dsn, "PYTHONPATH": str(SCRIPTS.parent)}
    commands = play([sys.executable, str(SCRIPTS / "qcb-request.agi"), "400"], env, agi_env("2015551234"))
    assert 'EXEC MSet "QCB_RESULT=created,QCB_NEXT=hangup"' in commands, commands
    [r] = service.list()
    assert (r.number, r.did, r.source) == ("2015551234", "5551000", "agi")


def test_system_python_hands_over_to_the_virtualenv(service: CallbackService, db_dsn: str) -> None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"no {SYSTEM_PYTHON} on this machine")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import freepbx_callback"], cwd="/", capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{SYSTEM_PYTHON} itself has the package: nothing to hand over")
    service.set_queue("400", enabled=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(QCB_DSN=db_dsn, QCB_PYTHON=sys.executable)
    play([SYSTEM_PYTHON, str(SCRIPTS / "qcb-request.agi"), "400"], env, agi_env("2015552222"))
    [r] = service.list()
    assert r.number == "2015552222"


def test_system_python_finds_the_runtime_beside_its_agi_bin_folder(
    service: CallbackService, db_dsn: str, tmp_path: Path
) -> None:
    """The module's install builds the runtime under ASTVARLIBDIR (`freepbx-callback/current`, a link to
    the virtualenv); fwconsole reload copies the scripts into ASTVARLIBDIR/agi-bin: no QCB_PYTHON needed."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"no {SYSTEM_PYTHON} on this machine")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import freepbx_callback"], cwd="/", capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{SYSTEM_PYTHON} itself has the package: nothing to hand over")
    venv = Path(sys.prefix)
    if not (venv / "pyvenv.cfg").is_file():
        pytest.skip("the tests do not run in a virtualenv: nothing to link as the runtime")
    varlib = tmp_path / "varlib"
    (varlib / "agi-bin").mkdir(parents=True)
    (varlib / "freepbx-callback").mkdir()
    (varlib / "freepbx-callback" / "current").symlink_to(venv)
    for name in ("qcb-request.agi", "qcb-outcome.agi"):
        shutil.copy2(SCRIPTS / name, varlib / "agi-bin" / name)
    service.set_queue("400", enabled=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "QCB_PYTHON")}
    env.update(QCB_DSN=db_dsn)
    play([SYSTEM_PYTHON, str(varlib / "agi-bin" / "qcb-request.agi"), "400"], env, agi_env("2015553333"))
    [r] = service.list()
    assert r.number == "2015553333"


def test_no_runtime_anywhere_fails_at_once(tmp_path: Path) -> None:
    """Without the package and without any runtime the script stops with the ImportError (no exec loop)."""
    if not os.access(SYSTEM_PYTHON, os.X_OK) or Path("/opt/freepbx-callback/venv/bin/python").exists():
        pytest.skip(f"needs {SYSTEM_PYTHON} and no /opt/freepbx-callback runtime on this machine")
    (tmp_path / "agi-bin").mkdir()
    script = shutil.copy2(SCRIPTS / "qcb-request.agi", tmp_path / "agi-bin" / "qcb-request.agi")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "QCB_PYTHON")}
    done = subprocess.run(
        [SYSTEM_PYTHON, str(script), "400"], env=env, cwd="/", capture_output=True, text=True, timeout=30
    )
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, done.stderr


RUNTIME_PHP = SCRIPTS.parent / "module_xml" / "lib" / "Runtime.php"
HANDOVER = "QCB_AGI_HANDOVER"  # the scripts' hand-over sets it before it exec's the runtime's python


def run_as_asterisk(cmd: list[str], env: dict[str, str], callerid: str) -> tuple[str, dict[str, str]]:
    """Like :func:`play`, and reads the handler's process while it waits for Asterisk's first reply:
    the interpreter it runs (/proc/PID/exe) and the environment its program image started with."""
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/"
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(agi_env(callerid).encode())
    proc.stdin.flush()
    seen: tuple[str, dict[str, str]] | None = None
    while line := proc.stdout.readline():
        if seen is None:  # the first command came from the handler itself: look at its process
            exe = os.readlink(f"/proc/{proc.pid}/exe")
            raw = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
            seen = (exe, dict(e.decode().partition("=")[::2] for e in raw if e))
        proc.stdin.write(b"200 result=1 (5551000)\n" if b"FROM_DID" in line else b"200 result=0\n")
        proc.stdin.flush()
    proc.stdin.close()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=30) == 0, stderr
    assert seen is not None, "the handler sent no AGI command"
    return seen


def test_installed_scripts_start_the_runtimes_python_alone(
    service: CallbackService, db_dsn: str, tmp_path: Path
) -> None:
    """The install (lib/Runtime.php, which install.sh and the module's install() run) writes the runtime's
    interpreter into the scripts' first line, with -S (the script adds the runtime's site-packages itself,
    no .pth scan): Asterisk starts that one Python and no hand-over happens. This runtime is an editable
    checkout, whose package is found only through its .pth file: the script then runs site after all."""
    if not os.access(SYSTEM_PYTHON, os.X_OK) or shutil.which("php") is None:
        pytest.skip(f"needs {SYSTEM_PYTHON} and php")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import freepbx_callback"], cwd="/", capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{SYSTEM_PYTHON} itself has the package: nothing to hand over")
    runtime = str(Path(sys.prefix) / "bin" / "python")
    agi_bin = tmp_path / "agi-bin"
    agi_bin.mkdir()
    for name in ("qcb-request.agi", "qcb-outcome.agi"):
        shutil.copy2(SCRIPTS / name, agi_bin / name)
    service.set_queue("400", enabled=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", HANDOVER)}
    env.update(QCB_DSN=db_dsn, QCB_PYTHON=runtime)

    # As shipped: the system python3 starts, fails the import and hands over (the check sees it).
    exe, environ = run_as_asterisk([str(agi_bin / "qcb-request.agi"), "400"], env, "2015554441")
    assert HANDOVER in environ, "the shipped script, started by the python3 on PATH, hands over"

    pinned = subprocess.run(
        ["php", str(RUNTIME_PHP), "pin-scripts", "--python", runtime, "--agi-bin", str(agi_bin)],
        capture_output=True,
        text=True,
    )
    assert pinned.returncode == 0, pinned.stderr
    assert sorted(pinned.stdout.split()) == ["qcb-outcome.agi", "qcb-request.agi"]
    for name in ("qcb-request.agi", "qcb-outcome.agi"):
        script = agi_bin / name
        assert pinned_python(script) == runtime
        assert script.read_text().splitlines()[2:] == (SCRIPTS / name).read_text().splitlines()
        assert os.access(script, os.X_OK)

    exe, environ = run_as_asterisk([str(agi_bin / "qcb-request.agi"), "400"], env, "2015554442")
    assert HANDOVER not in environ, "one interpreter per call: no hand-over"
    assert os.path.realpath(exe) == os.path.realpath(runtime)
    assert sorted(r.number for r in service.list()) == ["2015554441", "2015554442"]
    again = subprocess.run(
        ["php", str(RUNTIME_PHP), "pin-scripts", "--python", runtime, "--agi-bin", str(agi_bin)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0 and again.stdout == ""  # nothing left to change

    # The pinned python gone (a Python upgrade, a moved runtime, an Asterisk that does not see it): the
    # header falls back to python3 as shipped, which hands over; the caller's request is stored all the same.
    gone = str(tmp_path / "gone" / "bin" / "python")
    repinned = subprocess.run(
        ["php", str(RUNTIME_PHP), "pin-scripts", "--python", gone, "--agi-bin", str(agi_bin)],
        capture_output=True,
        text=True,
    )
    assert repinned.returncode == 0, repinned.stderr
    assert pinned_python(agi_bin / "qcb-request.agi") == gone
    exe, environ = run_as_asterisk([str(agi_bin / "qcb-request.agi"), "400"], env, "2015554443")
    assert HANDOVER in environ, "the shipped python3 took the call and handed over"
    assert os.path.realpath(exe) == os.path.realpath(runtime)
    assert sorted(r.number for r in service.list()) == ["2015554441", "2015554442", "2015554443"]
