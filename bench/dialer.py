"""Dialer benchmarks on the real MariaDB and a real Asterisk 22 (the test bed's cached root):

1. tick cost as history and pending grow (goal: <= 50 ms with 1,000,000 history rows and 1,000 pending,
   growing with pending, not with history);
2. key press to the agent's first INVITE: `serve` (woken by the request) versus a cron-only tick;
3. `serve` resident memory after 1,000 requests.
Prints tables; asserts nothing (numbers go in the tables, not in tests)."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freepbx_callback.agi.fastagi import FastAgiServer  # noqa: E402
from freepbx_callback.ami import Ami, AmiConfig  # noqa: E402
from freepbx_callback.config import Dsn  # noqa: E402
from freepbx_callback.dialer import Dialer, DialerConfig  # noqa: E402
from freepbx_callback.dialplan.render import render  # noqa: E402
from freepbx_callback.journal import Journal  # noqa: E402
from freepbx_callback.loop import DialerLoop  # noqa: E402
from freepbx_callback.models import Outcome  # noqa: E402
from freepbx_callback.service import CallbackService, utcnow  # noqa: E402
from freepbx_callback.store import Store  # noqa: E402
from freepbx_callback.wake import Waker  # noqa: E402
from tests.testbed.asterisk import AsteriskInstance  # noqa: E402
from tests.testbed.asterisk_root import ensure_root  # noqa: E402
from tests.testbed.callbacks import CallbackBed  # noqa: E402
from tests.testbed.mariadb import MariaDB, ensure_server  # noqa: E402
from tests.testbed.sipp import Uas  # noqa: E402
from tests.testbed.wait import wait_for  # noqa: E402

TICKS = 15


def new_db(server: MariaDB) -> tuple[Dsn, CallbackService]:
    dsn = server.create_database("qcb_bench")
    store = Store.connect(dsn)
    store.migrate(utcnow())
    service = CallbackService(store)
    service.set_queue("400", enabled=True, did="5551000", window=86400)
    return dsn, service


def add_history(service: CallbackService, rows: int) -> None:
    service.store._run(
        "INSERT INTO qcb_requests (queue, number, status, requested_at, next_attempt_at, closed_at, "
        "attempts) SELECT '400', CONCAT('9', seq), 'done', NOW(3) - INTERVAL seq SECOND, "
        f"NOW(3) - INTERVAL seq SECOND, NOW(3) - INTERVAL seq SECOND, 1 FROM seq_1_to_{rows}"
    )


def add_pending(service: CallbackService, count: int, start: int) -> None:
    for i in range(count):
        service.request("400", f"212{2000000 + start + i:07d}")  # valid: exchanges 200-999


def bed_without_agents(root: Path, dsn: Dsn) -> AsteriskInstance:
    bed = AsteriskInstance(root, env={"QCB_DSN": dsn.url()})
    CallbackBed.configure(bed, "400", {}, None)
    rendered = render([CallbackService(Store.connect(dsn)).settings("400")], "asterisk", str(bed.agi_dir))
    rendered.write(bed.etc)
    return bed.start()


def tick_table(server: MariaDB, root: Path) -> list[tuple[str, str, str, str]]:
    dsn, service = new_db(server)
    bed = bed_without_agents(root, dsn)
    ami = AmiConfig.parse(bed.ami_dsn)
    dialer = Dialer(
        lambda: CallbackService(Store.connect(dsn)),
        lambda: Ami(ami),
        Journal(Path(tempfile.mkdtemp(prefix="qcb-bench-"))),
        DialerConfig(node="bench"),
    )
    rows = []
    try:
        connection = Ami(ami)
        history = pending = 0
        for want_history, want_pending in (
            (0, 10),
            (1_000_000, 10),
            (1_000_000, 100),
            (1_000_000, 1000),
            (0, 1000),
        ):
            if want_history > history:
                add_history(service, want_history - history)
            elif want_history < history:
                service.store._run("DELETE FROM qcb_requests WHERE status = 'done'")
            if want_history != history:
                service.store._run("ANALYZE TABLE qcb_requests")
                history = want_history
            if want_pending > pending:
                add_pending(service, want_pending - pending, pending)
                pending = want_pending
            ticks, claims = [], []
            for _ in range(TICKS):
                start = time.perf_counter()
                dialer.tick(connection)
                ticks.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                claimed = service.claim("400", 10, "bench")
                claims.append((time.perf_counter() - start) * 1000)
                for request, attempt in claimed:  # give them back, not counted
                    service.record_outcome(request.id, attempt.attempt_no, Outcome.LOST)
            rows.append(
                (
                    f"{history:,}",
                    f"{pending:,}",
                    f"{statistics.median(ticks):.1f}",
                    f"{statistics.median(claims):.1f}",
                )
            )
        connection.close()
    finally:
        bed.stop()
        bed.remove_run_dir()
        server.drop_database(dsn.database)
    return rows


def log_time(line: str) -> datetime:
    """Asterisk's log stamp (local time, like time.time() on this host)."""
    return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S.%f")


def latency_table(server: MariaDB, root: Path) -> list[tuple[str, str]]:
    """From the moment the request is stored to the agent's phone ringing (the key press itself adds the
    request handler's cost, see bench/agi_cost.py)."""
    dsn, service = new_db(server)
    service.set_queue("400", notify_agents=False, min_talk=0)
    fast = FastAgiServer(
        ("127.0.0.1", 0),
        lambda: CallbackService(Store.connect(dsn)),
        Journal(Path(tempfile.mkdtemp(prefix="qcb-bench-"))),
    )
    threading.Thread(target=fast.serve_forever, daemon=True).start()
    bed = AsteriskInstance(root, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=0.2), Uas(bed, "answer", hangup_after_s=1)
    CallbackBed.configure(bed, "400", {"agent": agent}, customer)
    render(service.queues(), "asterisk", f"agi://127.0.0.1:{fast.server_address[1]}").write(bed.etc)
    bed.start()
    ami = AmiConfig.parse(bed.ami_dsn)
    dialer = Dialer(
        lambda: CallbackService(Store.connect(dsn)),
        lambda: Ami(ami),
        Journal(Path(tempfile.mkdtemp(prefix="qcb-bench-"))),
        DialerConfig(node="bench", dial_template="PJSIP/{number}@trunk"),
    )
    stop, wake = threading.Event(), Waker()
    fast.on_request = wake.set
    rows = []

    def rung_after(start: float, calls: int) -> float:
        wait_for(lambda: len(agent.invites()) >= calls, timeout=30, message="agent rung")
        lines = [x for x in bed.log_text().splitlines() if "Called PJSIP/agent" in x]
        return log_time(lines[calls - 1]).timestamp() - start

    try:
        with agent, customer:
            loop = threading.Thread(target=DialerLoop(dialer, 2.0).run, args=(stop, wake), daemon=True)
            loop.start()
            time.sleep(1)
            woken, polled = [], []
            for i in range(3):
                start = time.time()
                agi_request(fast.server_address[1], 900 + i)  # FastAGI: the request wakes the loop
                woken.append(rung_after(start, 2 * i + 1))
                wait_for(lambda: service.store.count_open("400") == 0, timeout=30, message="callback done")
                start = time.time()
                service.request("400", f"214555{i:04d}")  # agi-bin: another process, the loop polls
                polled.append(rung_after(start, 2 * i + 2))
                wait_for(lambda: service.store.count_open("400") == 0, timeout=30, message="callback done")
            rows.append(("serve, request over FastAGI (wakes the loop)", f"{statistics.median(woken):.2f} s"))
            rows.append(("serve, request from agi-bin (2 s poll)", f"{statistics.median(polled):.2f} s"))
            stop.set()
            wake.set()
            loop.join(timeout=10)
            wake.close()
        tick = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "freepbx_callback",
                    "--dsn",
                    dsn.url(),
                    "dial",
                    "--ami",
                    bed.ami_dsn,
                    "--spool",
                    tempfile.mkdtemp(),
                ],
                check=True,
                capture_output=True,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )
            tick.append(time.perf_counter() - start)
        one = statistics.median(tick)
        rows.append(
            (
                "cron only, every 60 s: mean wait + one `dial` run",
                f"{30 + one:.2f} s (worst {60 + one:.1f} s)",
            )
        )
    finally:
        stop.set()
        wake.set()
        fast.shutdown()
        bed.stop()
        bed.remove_run_dir()
        server.drop_database(dsn.database)
    return rows


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def agi_request(port: int, i: int) -> None:
    env = (
        f"agi_network: yes\nagi_network_script: request\nagi_uniqueid: rss.{i}\n"
        f"agi_callerid: 213{2000000 + i:07d}\nagi_arg_1: 400\n\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        f = sock.makefile("rwb")
        f.write(env.encode())
        f.flush()
        while line := f.readline():
            f.write(b"200 result=0\n")
            f.flush()
            if line.startswith(b"HANGUP"):
                break


def rss_table(server: MariaDB, root: Path) -> list[tuple[str, str]]:
    dsn, service = new_db(server)
    bed = bed_without_agents(root, dsn)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "freepbx_callback",
            "--dsn",
            dsn.url(),
            "serve",
            "--port",
            str(port),
            "--ami",
            bed.ami_dsn,
            "--spool",
            tempfile.mkdtemp(),
            "--poll",
            "0.5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    rows = []
    try:
        wait_for(
            lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None,
            timeout=20,
            message="serve listening",
        )
        rows.append(("after start", f"{rss_kib(proc.pid) / 1024:.1f} MiB"))
        for i in range(1000):
            agi_request(port, i)
        stored = service.store.count_open("400")
        time.sleep(2)  # a few dialer ticks over 1,000 pending requests
        rows.append((f"after 1,000 requests ({stored} stored)", f"{rss_kib(proc.pid) / 1024:.1f} MiB"))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        bed.stop()
        bed.remove_run_dir()
        server.drop_database(dsn.database)
    return rows


def show(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    root = ensure_root()
    server = ensure_server()
    try:
        show(
            f"dialer tick, median of {TICKS} (queue with no free agent: every step but the dialling)",
            ("history rows", "pending", "tick ms", "claim 10 ms"),
            tick_table(server, root),
        )
        show(
            "request stored -> agent's first INVITE (median of 3)",
            ("dialer", "latency"),
            latency_table(server, root),
        )
        show("serve resident memory", ("when", "RSS"), rss_table(server, root))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
