"""The shipped cron line and systemd unit call commands and options that exist."""

from __future__ import annotations

import shlex
from pathlib import Path

from click.testing import CliRunner

from freepbx_callback.cli import cli

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"


def accepted(args: list[str]) -> bool:
    result = CliRunner().invoke(cli, [*args, "--help"])
    return result.exit_code == 0 and "Usage:" in result.output


def test_cron_line_runs_a_dial_tick() -> None:
    [line] = [x for x in (CONTRIB / "freepbx-callback.cron").read_text().splitlines() if x and x[0] != "#"]
    fields = line.split()
    assert fields[:5] == ["*"] * 5 and fields[6].endswith("freepbx-callback")
    assert accepted(shlex.split(line.split(">")[0])[7:])


def test_systemd_unit_runs_serve_with_valid_options() -> None:
    unit = (CONTRIB / "freepbx-callback.service").read_text()
    [exec_start] = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    args = shlex.split(exec_start.removeprefix("ExecStart="))
    assert args[0].endswith("freepbx-callback") and args[1] == "serve"
    assert accepted(args[1:])
    result = CliRunner().invoke(cli, ["serve", "--port", "not-a-port"])
    assert result.exit_code == 2


def test_systemd_unit_stays_off_freepbx_cores_fastagi_port() -> None:
    from freepbx_callback.agi.fastagi import DEFAULT_PORT

    unit = (CONTRIB / "freepbx-callback.service").read_text()
    [exec_start] = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    args = shlex.split(exec_start.removeprefix("ExecStart="))
    assert args[args.index("--port") + 1] == str(DEFAULT_PORT) == "4577"
    assert "4573" not in unit


def test_systemd_unit_waits_for_ready_and_watches_the_dialer() -> None:
    unit = (CONTRIB / "freepbx-callback.service").read_text().splitlines()
    assert "Type=notify" in unit and "NotifyAccess=main" in unit
    [watchdog] = [x for x in unit if x.startswith("WatchdogSec=")]
    assert 10 <= int(watchdog.removeprefix("WatchdogSec=")) <= 120
    assert "Restart=always" in unit
