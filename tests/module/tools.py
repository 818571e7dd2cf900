"""Helpers shared by the module tests: where the CLI, php and phpunit are."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "module_xml"
HARNESS = Path(__file__).resolve().parent / "harness"


def cli_path() -> str:
    """The `freepbx-callback` executable: $QCB_CLI, else beside this Python, else on PATH."""
    if os.environ.get("QCB_CLI"):
        return os.environ["QCB_CLI"]
    beside = Path(sys.executable).parent / "freepbx-callback"
    if beside.exists():
        return str(beside)
    return shutil.which("freepbx-callback") or "freepbx-callback"


def cli_command() -> list[str]:
    return shlex.split(cli_path()) if " " in cli_path() else [cli_path()]


def cli_has(*command: str) -> bool:
    """True when the CLI knows this (sub)command."""
    try:
        done = subprocess.run([*cli_command(), *command, "--help"], capture_output=True, timeout=60)
    except OSError:
        return False
    return done.returncode == 0


def php_files() -> list[Path]:
    return sorted(p for p in [*MODULE_DIR.rglob("*.php"), *HARNESS.rglob("*.php")] if p.is_file())


# What package.py builds from: a copy of these is enough to build the package elsewhere.
SOURCES = (
    "setup.py",
    "requirements.txt",
    "requirements-dev.txt",
    "README.md",
    "freepbx_callback",
    "module_xml",
    "agi-bin",
    "packaging",
)


def copy_sources(into: Path) -> Path:
    """A copy of the work tree's package sources (no caches) in ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(
                src, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            )
        else:
            shutil.copy2(src, into / name)
    return into
