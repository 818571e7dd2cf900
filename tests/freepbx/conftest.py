"""End-to-end tests on a real FreePBX 17 (tests/testbed/freepbx), through the product's real paths.

The bed is built once and cached; each session starts it from that clean build (an overlay), installs the
product with `make package` + packaging/install.sh as on a FreePBX host, and shares it between the tests
of this folder, which run in file order. Where the FreePBX sources were never imported, or this is not
root, every test here skips with that reason. On failure the logs go to test-artifacts/freepbx/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.freepbx.kit import KitUnavailable, ensure_kit
from tests.testbed.wait import wait_for

from . import gui

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "freepbx"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.freepbx)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed and HERE in Path(str(item.fspath)).resolve().parents:
        bed = _running.get("bed")
        if bed is not None:
            bed.save_logs(ARTIFACTS / re.sub(r"[^\w.-]+", "_", item.name))
    return report


_running: dict[str, FreePbx] = {}


def _package(dest: Path, source: Path = REPO) -> None:
    done = subprocess.run(
        [sys.executable, str(source / "packaging" / "package.py"), "--dist", str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"make package failed:\n{done.stdout}\n{done.stderr}"


def mirror_runtime(bed: FreePbx, dist: Path) -> None:
    """The bed's Asterisk runs in the sid root, whose python is not the FreePBX root's: give it a virtualenv
    at the same path from the same wheel, so the installed agi-bin scripts hand over to it as on a host
    where Asterisk and FreePBX share one system (and check_sid_sees_its_runtime: the scripts' first
    choice, the module's own runtime under ASTVARLIBDIR, never gives sid a foreign one)."""
    wheels = bed.run_dir / "sid-wheels"
    wheels.mkdir(exist_ok=True)
    for wheel in dist.glob("freepbx_callback-*.whl"):
        shutil.copy2(wheel, wheels)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), "pyst2==0.5.1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    venv = SID_VENV
    for cmd in (
        ["python3", "-m", "venv", "--system-site-packages", venv],
        [
            f"{venv}/bin/python",
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--force-reinstall",
            *[str(w) for w in wheels.glob("*.whl")],
        ],
    ):
        result = bed.run_in_root(cmd, timeout=300)
        assert result.returncode == 0, f"{cmd}: {result.stdout}{result.stderr}"
    check_sid_sees_its_runtime(bed)


SID_VENV = "/opt/freepbx-callback/venv"
CURRENT_PYTHON = "/var/lib/asterisk/freepbx-callback/current/bin/python"


def check_sid_sees_its_runtime(bed: FreePbx) -> None:
    """The agi-bin scripts try <ASTVARLIBDIR>/freepbx-callback/current/bin/python before SID_VENV, and
    ASTVARLIBDIR is shared by both roots. Where `current` links to /opt/freepbx-callback/venv (a runtime
    root built: install.sh), the sid root resolves that to its own venv above. Where it links into
    ASTVARLIBDIR (the web user's build from Module Admin), that venv's python is bookworm's python3.11,
    which the sid root does not have: the link dangles there, the scripts skip it and take SID_VENV. Any
    other outcome would run sid's Asterisk with a foreign venv, so the bed stops here and says so."""
    probe = (
        "import os; p = os.environ['P']; "
        "print(os.path.realpath(p.rsplit('/bin/', 1)[0]) if os.access(p, os.X_OK) else '-')"
    )
    done = bed.run_in_root(["python3", "-c", probe], env={"P": CURRENT_PYTHON})
    seen = done.stdout.strip()
    assert done.returncode == 0 and seen in ("-", SID_VENV), (
        f"in the Asterisk (sid) root {CURRENT_PYTHON} runs the venv {seen!r}, not {SID_VENV}: the "
        f"agi-bin scripts would start a virtualenv built for the FreePBX root's python ({done.stderr})"
    )


def install_product(bed: FreePbx, source: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`make package` (of the work tree, or of ``source``: a copy of it), then packaging/install.sh in the
    FreePBX root, as root, as on a FreePBX host."""
    dist = bed.run_dir / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    _package(dist, source)
    shutil.copy2(source / "packaging" / "install.sh", bed.run_dir / "install.sh")
    done = bed.bw(["sh", str(bed.run_dir / "install.sh"), str(dist)], timeout=900, check=False)
    (bed.logs / "install.out").write_text(done.stdout + done.stderr)
    mirror_runtime(bed, dist)
    return done


@pytest.fixture(scope="session")
def kit() -> Path:
    try:
        return ensure_kit(verbose=True)
    except KitUnavailable as exc:
        pytest.skip(f"no FreePBX test bed: {exc}")


@pytest.fixture(scope="session")
def fpbx(kit: Path) -> Iterator[FreePbx]:
    bed = FreePbx(kit).start()
    _running["bed"] = bed
    bed.modules_before = bed.fw("ma", "list", "--format=json")  # type: ignore[attr-defined]
    bed.install = install_product(bed)  # type: ignore[attr-defined]
    try:
        yield bed
    finally:
        _running.pop("bed", None)
        bed.stop()
        if not os.environ.get("QCB_KEEP_TESTBED"):
            bed.remove()


@pytest.fixture(autouse=True)
def _no_call_outlives_its_test(fpbx: FreePbx) -> Iterator[None]:
    """The tests share one bed. A SIPp caller stopped by a test leaves its channel in Asterisk (killed, it
    sends no BYE): left waiting in a queue, it would ring the next test's agent. Every test ends with no
    channel up."""
    yield
    fpbx.asterisk("channel request hangup all")
    wait_for(
        lambda: re.search(r"^0 active channels", fpbx.asterisk("core show channels count"), re.M),
        30,
        0.5,
        "every channel hung up after the test",
    )


@pytest.fixture(scope="module")
def admin(fpbx: FreePbx) -> Iterator[gui.Admin]:
    """A logged-in admin in headless Chromium, shared by one test file."""
    why = gui.available()
    if why:
        pytest.skip(why)
    session = gui.Admin(fpbx.web)
    yield session
    session.close()
