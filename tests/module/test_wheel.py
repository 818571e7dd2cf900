"""`pip wheel .` in a fresh virtualenv: the build is declared in pyproject.toml (PEP 517/518), so it works
with pip's build isolation and, offline, with --no-build-isolation once the declared build requirements
are installed."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import venv
import zipfile
from pathlib import Path

from .tools import REPO

SOURCES = ("pyproject.toml", "setup.py", "README.md", "requirements.txt", "requirements-dev.txt")


def fresh_venv(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return where / "bin" / "python"


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def sources(where: Path) -> Path:
    """A copy of what the build reads, so that the build never writes build/ or *.egg-info into the tree."""
    where.mkdir()
    for name in SOURCES:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, where / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "freepbx_callback", where / "freepbx_callback", ignore=ignore)
    return where


def build_requirements() -> list[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return list(data["build-system"]["requires"])


def check_wheel(out: Path) -> None:
    [wheel] = sorted(out.glob("freepbx_callback-*.whl"))
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "freepbx-callback = freepbx_callback.cli:main" in whl.read(entry_points).decode()
    assert "freepbx_callback/cli/__init__.py" in names
    assert any(n.startswith("freepbx_callback/dialplan/templates/") and n.endswith(".j2") for n in names)
    assert any(n.startswith("freepbx_callback/sounds/en/") and n.endswith(".wav") for n in names)


def test_pip_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    done = pip(python, "wheel", "--no-deps", "-w", str(tmp_path / "out"), str(sources(tmp_path / "src")))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    check_wheel(tmp_path / "out")


def test_pip_wheel_without_build_isolation_needs_only_the_declared_build_requirements(tmp_path: Path) -> None:
    """What pyproject.toml declares is all a build needs: installed into a fresh venv, the build works
    without isolation (no index is asked during the build itself)."""
    python = fresh_venv(tmp_path / "venv")
    installed = pip(python, "install", "-q", *build_requirements())
    assert installed.returncode == 0, installed.stderr[-3000:]
    done = pip(
        python,
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(tmp_path / "out"),
        str(sources(tmp_path / "src")),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    check_wheel(tmp_path / "out")
