"""`make test`: the whole suite, in two phases, independent beds side by side.

Phase 1 runs the real FreePBX bed's tests (mostly waiting on its calls and its GUI) beside everything that
needs no call on the Asterisk bed: unit, database, CLI, API, module and Galera tests. Phase 2 runs the
Asterisk + SIPp call flows alone, since their timings must not share the two cores with a FreePBX call.
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

PHASES: list[list[tuple[str, list[str]]]] = [
    [
        ("core", ["tests", "--ignore=tests/freepbx", "--ignore=tests/e2e"]),
        ("freepbx", ["tests/freepbx"]),
    ],
    [("e2e", ["tests/e2e"])],
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
