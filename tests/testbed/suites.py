"""`make test`: the whole suite, in two phases, independent beds side by side.

Phase 1 runs the real FreePBX bed's tests (mostly waiting on its calls and its GUI) beside one pytest
process with everything that needs no call (unit, database, CLI, API, module and Galera tests) and the
first part of the Asterisk + SIPp call flows. Phase 2 runs the rest of the call flows alone: those that
load the machine themselves (bursts, many requests, killed dialers) or that time a call to the second.
The call flows mostly wait on their calls' timers: beside the FreePBX bed they take about as long.

Each group is its own pytest process with its own private MariaDB; the first group of a phase prints as
it runs, the others are written to ``test-artifacts/suites/<group>.log`` and printed when they end.
Exit status: 0 when every group passed (pytest's 0), else the first failing group's status.

``python -m tests.testbed.suites [PYTEST_ARGS...]``: the arguments go to every group.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "test-artifacts" / "suites"

# The call flows of phase 2 (each file about 1 to 4 minutes); every other e2e file runs in phase 1.
ALONE = [
    f"tests/e2e/test_{name}.py"
    for name in (
        "call_flow_burst",
        "dialer",
        "dialer_scale",
        "exactly_once",
        "fastagi_fallback",
        "hangups",
        "keep_place",
        "offer_position",
        "readme",
        "reports",
        "route_failure",
        "serve_loop",
        "serve_supervision",
        "smoke",
        "talk_time",
        "web_form_dial",
        "whisper_versions",
    )
]
PHASES: list[list[tuple[str, list[str]]]] = [
    [
        ("core", ["tests", "--ignore=tests/freepbx", *(f"--ignore={path}" for path in ALONE)]),
        ("freepbx", ["tests/freepbx"]),
    ],
    [("e2e", ALONE)],
]


def run_phase(groups: list[tuple[str, list[str]]], extra: list[str]) -> list[tuple[str, int, float]]:
    started = time.monotonic()
    running: list[tuple[str, subprocess.Popen[bytes], Path | None]] = []
    for index, (name, paths) in enumerate(groups):
        command = [sys.executable, "-m", "pytest", *paths, *extra]
        log = None if index == 0 else LOGS / f"{name}.log"
        print(f"== {name}: {' '.join(command[1:])}" + (f" (output: {log})" if log else ""), flush=True)
        out = open(log, "wb") if log else None  # noqa: SIM115 - closed when the group ends
        running.append((name, subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT), log))
    results = []
    for name, process, log in running:
        code = process.wait()
        minutes = (time.monotonic() - started) / 60
        if log is not None:
            print(f"\n== {name} (ended after {minutes:.1f} min), its output:", flush=True)
            sys.stdout.buffer.write(log.read_bytes())
            sys.stdout.flush()
        results.append((name, code, minutes))
    return results


def main(extra: list[str]) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: list[tuple[str, int, float]] = []
    for groups in PHASES:
        results += run_phase(groups, extra)
    print(f"\n== suites, {(time.monotonic() - started) / 60:.1f} min in all:")
    for name, code, minutes in results:
        print(f"   {name:8} {'passed' if code == 0 else f'FAILED (pytest exit {code})'}, {minutes:.1f} min")
    return next((code for _, code, _ in results if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
