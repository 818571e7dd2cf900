"""`make test`: the whole suite, in two phases, independent beds side by side.

Phase 1 runs the real FreePBX bed's tests (its calls are timed: they share the machine only with the
tests that place no call) beside one pytest process with the unit, database, CLI, API, module and
Galera tests. Phase 2 runs the Asterisk + SIPp call flows in two halves side by side: they mostly wait on
their calls' timers (a load average under 1 on two cores), and the two that load the machine most (the
burst of 50 callers, the dialer at scale) are in different halves.

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
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "test-artifacts" / "suites"

# The second half of the call flows (about as long as the first: every other e2e file).
SECOND_HALF = [
    f"tests/e2e/test_{name}.py"
    for name in (
        "call_flow_burst",
        "hangups",
        "talk_time",
        "serve_supervision",
        "keep_place",
        "offer_position",
        "readme",
        "web_form_dial",
        "smoke",
        "api_dial",
        "alerts_call",
        "ami_client",
        "agent_accept",
    )
]
PHASES: list[list[tuple[str, list[str]]]] = [
    [
        ("core", ["tests", "--ignore=tests/freepbx", "--ignore=tests/e2e"]),
        ("freepbx", ["tests/freepbx"]),
    ],
    [
        ("e2e-1", ["tests/e2e", *(f"--ignore={path}" for path in SECOND_HALF)]),
        ("e2e-2", SECOND_HALF),
    ],
]


def run_phase(groups: list[tuple[str, list[str]]], extra: list[str]) -> list[tuple[str, int, float]]:
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    running: list[tuple[str, subprocess.Popen[bytes], Path | None, IO[bytes] | None]] = []
    for index, (name, paths) in enumerate(groups):
        command = [sys.executable, "-m", "pytest", *paths, *extra]
        log = None if index == 0 else LOGS / f"{name}.log"
        print(f"== {name}: {' '.join(command[1:])}" + (f" (output: {log})" if log else ""), flush=True)
        out = open(log, "wb") if log else None  # noqa: SIM115 - closed when the group ends
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        running.append((name, process, log, out))
    results = []
    for name, process, log, out in running:
        code = process.wait()
        if out is not None:
            out.close()
        minutes = (time.monotonic() - started) / 60
        if log is not None:
            print(f"\n== {name} (ended after {minutes:.1f} min), its output:", flush=True)
            sys.stdout.buffer.write(log.read_bytes())
            sys.stdout.flush()
        results.append((name, code, minutes))
    return results


def main(extra: list[str]) -> int:
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
