"""What the agi-bin request handler loads: a process starts per call, so nothing its path does not use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Modules the request path never uses: other entry points' (CLI, renderer, pyst2), the backup reader,
# randomness and statistics, typing (annotations only), zoneinfo (queues on UTC, the default), and
# dataclasses with what it loads (inspect, ast, dis: the path's records are freepbx_callback.records).
NOT_ON_THE_PATH = [
    "typing",
    "dataclasses",
    "inspect",
    "ast",
    "zoneinfo",
    "statistics",
    "secrets",
    "uuid",
    "random",
    "jinja2",
    "click",
    "asterisk",
    "freepbx_callback.backup",
    "freepbx_callback.agi.channel",
    "freepbx_callback.dialplan",
    "freepbx_callback.ami",
]


def loaded_by(code: str) -> list[str]:
    """The modules of NOT_ON_THE_PATH that a fresh interpreter (no site, as the pinned scripts run) has
    loaded after ``code``."""
    probe = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, *{sys.path[1:]!r}]\n{code}\n"
        f"print(' '.join(m for m in {NOT_ON_THE_PATH!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_request_handler_loads_only_what_it_uses() -> None:
    assert loaded_by("import freepbx_callback.agi.run, freepbx_callback.agi.request") == []


def test_a_utc_schedule_needs_no_zoneinfo() -> None:
    code = "from freepbx_callback import hours; s = hours.schedule(['mon-fri 09:00-17:00'], 'UTC'); s.zone"
    assert loaded_by(code) == []
    moscow = "from freepbx_callback import hours; hours.schedule([], 'Europe/Moscow')"
    assert loaded_by(moscow) == ["zoneinfo"]
