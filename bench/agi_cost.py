"""Per-request cost of the request handler: agi-bin script (a process per call) versus FastAGI (a thread
per call in a running server), next to a bare `python3 -c pass` and `php -r ''` start (FreePBX's own
AGIs are PHP). Each request stores a row in a real MariaDB; Asterisk's side of the AGI conversation is
played by this script, so the figures are the handler's own cost. Prints a table of medians."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freepbx_callback.agi.fastagi import FastAgiServer  # noqa: E402
from freepbx_callback.journal import Journal  # noqa: E402
from freepbx_callback.service import CallbackService, utcnow  # noqa: E402
from freepbx_callback.store import Store  # noqa: E402
from tests.testbed.mariadb import ensure_server  # noqa: E402

RUNS = int(os.environ.get("QCB_BENCH_RUNS", "40"))


def env_block(i: int, network: bool) -> bytes:
    lines = [f"agi_uniqueid: bench.{i}.{time.time_ns()}", f"agi_callerid: 212555{i:04d}", "agi_arg_1: 400"]
    if network:
        lines += ["agi_network: yes", "agi_network_script: request"]
    return ("\n".join(lines) + "\n\n").encode()


def answer(rfile, wfile) -> None:  # type: ignore[no-untyped-def]
    """Play Asterisk: reply to every command until the handler hangs up or closes."""
    while True:
        line = rfile.readline()
        if not line:
            return
        cmd = line.decode()
        reply = "200 result=0\n"
        if cmd.startswith("GET FULL VARIABLE") and "FROM_DID" in cmd:
            reply = "200 result=1 (5551000)\n"
        wfile.write(reply.encode())
        wfile.flush()
        if cmd.startswith("HANGUP"):
            return


def agi_bin(i: int, dsn: str) -> None:
    env = dict(os.environ, QCB_DSN=dsn, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "agi-bin" / "qcb-request.agi"), "400"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(env_block(i, network=False))
    proc.stdin.flush()
    answer(proc.stdout, proc.stdin)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def fastagi(i: int, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        f = sock.makefile("rwb")
        f.write(env_block(i, network=True))
        f.flush()
        answer(f, f)


def median_ms(work: Callable[[int], None], offset: int) -> float:
    times = []
    for i in range(RUNS):
        start = time.perf_counter()
        work(offset + i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    server = ensure_server()
    db = server.create_database("qcb_bench")
    try:
        store = Store.connect(db)
        store.migrate(utcnow())
        service = CallbackService(store)
        service.set_queue("400", enabled=True)
        spool = Path(tempfile.mkdtemp(prefix="qcb-bench-"))
        fast = FastAgiServer(("127.0.0.1", 0), lambda: CallbackService(Store.connect(db)), Journal(spool))
        threading.Thread(target=fast.serve_forever, daemon=True).start()
        rows = [
            (
                "python3 -c pass",
                median_ms(lambda i: subprocess.run([sys.executable, "-c", "pass"], check=True), 0),
            ),
        ]
        if shutil.which("php"):
            rows.append(("php -r ''", median_ms(lambda i: subprocess.run(["php", "-r", ""], check=True), 0)))
        rows.append(("agi-bin qcb-request.agi", median_ms(lambda i: agi_bin(i, db.url()), 0)))
        rows.append(("FastAGI /request", median_ms(lambda i: fastagi(i, fast.server_address[1]), 1000)))
        stored = store._all("SELECT COUNT(*) FROM qcb_requests")[0][0]
        fast.shutdown()
        shutil.rmtree(spool, ignore_errors=True)
        print(f"request handler cost, median of {RUNS} runs ({stored} requests stored)")
        print(f"{'what':<26}{'median ms':>10}")
        for name, value in rows:
            print(f"{name:<26}{value:>10.1f}")
    finally:
        server.drop_database(db.database)
        server.stop()


if __name__ == "__main__":
    main()
