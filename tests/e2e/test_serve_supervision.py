"""`serve`'s dialer is supervised: a journal raced by another replayer does not kill it, a dialer thread
that dies ends `serve` with a non-zero status, and systemd's watchdog hears from the loop."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from freepbx_callback.wake import wake
from tests.testbed.asterisk import PROJECT_ROOT, AsteriskInstance, free_port
from tests.testbed.serve import CLI, ServeProcess
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]


def last_tick(dsn: Dsn, node: str) -> datetime | None:
    store = Store.connect(dsn)
    try:
        rows = store._all("SELECT last_tick_at FROM qcb_nodes WHERE node = %s AND kind = 'serve'", (node,))
    finally:
        store.close()
    return rows[0][0] if rows else None


def journal_requests(spool: Path, count: int, first: int) -> None:
    """``count`` journaled requests, as the request handler writes them while the database is down."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    for n in range(first, first + count):
        entry = {"queue": "400", "number": f"2025550{n:03d}", "requested_at": now, "uniqueid": f"race.{n}"}
        name = f"{time.time_ns()}-{uuid.uuid4().hex}"
        (spool / f".{name}.tmp").write_text(json.dumps(entry))
        os.replace(spool / f".{name}.tmp", spool / f"{name}.json")


def test_a_journal_replayed_by_two_other_processes_does_not_stop_the_dialer(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", window=3600)
    bed = asterisk(queues="[400]\nstrategy = ringall\n")
    spool = tmp_path / "spool"
    args = ["--ami", bed.ami_dsn, "--poll", "1", "--node", "race"]
    with ServeProcess(dsn.url(), spool, args) as serve:
        wait_for(lambda: last_tick(dsn, "race"), 15, message="the first heartbeat")
        replay = [*CLI, "--dsn", dsn.url(), "journal", "replay", "--spool", str(spool)]
        for round_ in range(6):
            journal_requests(spool, 120, round_ * 120)
            crons = [
                subprocess.Popen(replay, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)
            ]
            for _ in range(20):  # serve replays the same files meanwhile
                wake(spool)
                time.sleep(0.02)
            for cron in crons:
                out, err = cron.communicate(timeout=60)
                assert cron.returncode == 0, err.decode()
        wait_for(lambda: not list(spool.glob("*.json")), 20, message="the journal replayed")
        assert serve.process is not None and serve.process.poll() is None, serve.read()
        before = last_tick(dsn, "race")
        assert before is not None
        after = wait_for(
            lambda: (t := last_tick(dsn, "race")) and t > before and t,
            15,
            message=f"the dialer still ticking after the race ({serve.log})",
        )
        assert after > before
        log = serve.read()
    assert "Traceback" not in log and "dialer loop died" not in log, log
    stored = service.list(limit=10000)
    aside = len(list((spool / "rejected").glob("*.json")))
    assert len(stored) == 720, f"{len(stored)} stored, {aside} set aside"


INJECT = """
import sys
from freepbx_callback import dialer
calls = [0]
real_beat = dialer.Dialer.beat
def beat(self, *args):
    calls[0] += 1
    if calls[0] > 2:
        raise RuntimeError("injected fault in the dialer thread")
    return real_beat(self, *args)
dialer.Dialer.beat = beat
sys.argv[0] = "freepbx-callback"
from freepbx_callback.cli import main
main()
"""


def test_a_dialer_thread_that_dies_ends_serve_with_a_non_zero_status(dsn: Dsn, tmp_path: Path) -> None:
    ami = f"ami://x:y@127.0.0.1:{free_port()}"  # AMI down: the loop still ticks and beats
    serve = ServeProcess(
        dsn.url(),
        tmp_path / "spool",
        ["--ami", ami, "--poll", "1", "--node", "doomed"],
        python=[sys.executable, "-c", INJECT],
    )
    with serve:
        assert serve.process is not None
        try:
            code = serve.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve still runs without its dialer: {serve.read()}") from None
    assert code == 1, serve.read()
    log = serve.read()
    assert "the dialer loop died" in log and "injected fault in the dialer thread" in log


def test_the_loop_feeds_systemds_watchdog(dsn: Dsn, tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(path))
        notify.settimeout(0.5)
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}  # WatchdogSec=1: ping every 0.5 s
        args = ["--ami", f"ami://x:y@127.0.0.1:{free_port()}", "--poll", "30", "--node", "dog"]
        got: list[str] = []
        with ServeProcess(dsn.url(), tmp_path / "spool", args, env=env) as serve:
            end = time.monotonic() + 4
            while time.monotonic() < end:
                with contextlib.suppress(TimeoutError):
                    got.append(notify.recv(256).decode())
            assert serve.stop() == 0
        try:
            while True:
                got.append(notify.recv(256).decode())
        except TimeoutError:
            pass
    assert got[0] == "READY=1", got
    assert got.count("WATCHDOG=1") >= 4, got  # a poll of 30 s, yet the loop wakes for the watchdog
    assert got[-1] == "STOPPING=1", got


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


FAILING_TICKS = """
import sys
from freepbx_callback import dialer
calls = [0]
real_tick = dialer.Dialer.tick
def tick(self, *args):
    calls[0] += 1
    if calls[0] > 2:
        raise RuntimeError("injected: every tick fails from now on")
    return real_tick(self, *args)
dialer.Dialer.tick = tick
sys.argv[0] = "freepbx-callback"
from freepbx_callback.cli import main
main()
"""


def test_ticks_that_keep_failing_leave_serve_up_but_stop_the_watchdog_and_the_heartbeat(
    dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000")
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(path))
        notify.settimeout(0.2)
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
        args = ["--ami", f"ami://x:y@127.0.0.1:{free_port()}", "--poll", "1", "--node", "sick"]
        serve = ServeProcess(
            dsn.url(), tmp_path / "spool", args, env=env, python=[sys.executable, "-c", FAILING_TICKS]
        )
        with serve:
            wait_for(lambda: "injected: every tick fails" in serve.read(), 20, message="a tick failed")
            while True:  # what was sent before the failures
                try:
                    notify.recv(256)
                except TimeoutError:
                    break
            cpu_before = cpu_seconds(serve.pid)
            time.sleep(3)
            assert cpu_seconds(serve.pid) - cpu_before < 1.5, "a failing dialer must not busy-wait"
            later: list[str] = []
            with contextlib.suppress(TimeoutError):
                while True:
                    later.append(notify.recv(256).decode())
            assert "WATCHDOG=1" not in later, later
            assert serve.process is not None and serve.process.poll() is None, "serve stays up"

            def doctor() -> dict[str, object]:
                out = serve.cli("doctor", "--json", "--spool", str(serve.spool), check=False).stdout
                return json.loads(out)  # type: ignore[no-any-return]

            report = wait_for(
                lambda: (d := doctor())["daemon"]["up"] is False and d,  # type: ignore[index]
                30,
                message="doctor sees the dialer stale",
            )
            [daemon] = [c for c in report["checks"] if c["check"] == "daemon"]  # type: ignore[union-attr]
            assert daemon["ok"] is False and "not stopped cleanly" in daemon["detail"], daemon
        log = serve.read()
    assert log.count("dialer tick failed") >= 3, "the loop survived the failures and tried again"
