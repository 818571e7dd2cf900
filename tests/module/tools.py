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
