"""Per-request cost of the request handler, every way Asterisk can run it, side by side in ONE run:

- ``php -r ''``: a bare PHP start (FreePBX's own AGIs are PHP);
- the agi-bin script as installed: a runtime virtualenv built like the module's (our wheel, not an
  editable checkout), the runtime's python named in the script's header by
  ``Runtime.php pin-scripts`` (what the install does), the script executed directly as Asterisk does;
- the same script as shipped (``#!/usr/bin/env python3``): the system python3 fails the import and hands
  over to the runtime's python (two interpreters), for comparison;
- FastAGI ``/request`` on a real ``serve --no-dialer`` process (no AMI configured), one call at a time;
- a burst on the same ``serve``: BURST requests, CONCURRENT in flight at any moment, timed on both sides:
  the client's (connect to HANGUP, including the wait to be admitted) and the server's handler time
  (``serve --timings``: from the call's admission, its first byte there, to its connection closed).

Each request stores a row in a real MariaDB; Asterisk's side of the AGI conversation is played by this
script, so the figures are the handler's own cost plus the process or connection start. Times are from
the first byte sent to the handler's HANGUP (agi-bin: until the process exited). The burst also prints
serve's resident memory before and after, and TcpExt ListenOverflows (connections dropped by a full
listen queue, each costing a SYN retransmit) over the burst. Prints one table; asserts nothing.
Environment: QCB_BENCH_RUNS (default 40), QCB_BENCH_BURST (1000), QCB_BENCH_CONCURRENT (100),
QCB_BENCH_SLOTS (serve --cpu-slots; default: serve's own).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freepbx_callback.service import CallbackService, utcnow  # noqa: E402
from freepbx_callback.store import Store  # noqa: E402
from tests.testbed.mariadb import ensure_server  # noqa: E402
from tests.testbed.wait import wait_for  # noqa: E402

RUNS = int(os.environ.get("QCB_BENCH_RUNS", "40"))
BURST = int(os.environ.get("QCB_BENCH_BURST", "1000"))
CONCURRENT = int(os.environ.get("QCB_BENCH_CONCURRENT", "100"))
SLOTS = os.environ.get("QCB_BENCH_SLOTS")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # what Asterisk's AGIs see on a FreePBX host
BASE_PYTHON = "/usr/bin/python3.11" if os.access("/usr/bin/python3.11", os.X_OK) else sys._base_executable


def build_runtime(work: Path) -> Path:
    """A runtime virtualenv as the module's install builds it: our wheel installed (not editable, its
    bytecode compiled by pip); the dependencies linked in from this checkout's virtualenv (no .pth file:
    the pinned scripts run without site). Returns its python."""
    spec = importlib.util.spec_from_file_location("qcb_package", ROOT / "packaging" / "package.py")
    assert spec and spec.loader
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    wheel = package.build_wheel(work)
    venv = work / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        skip = entry.name.startswith(("freepbx_callback", "__editable__", "__pycache__", "_distutils_hack"))
        if not skip and entry.suffix != ".pth" and not Path(site, entry.name).exists():
            Path(site, entry.name).symlink_to(entry)
    return python


def agi_bin(work: Path, python: Path) -> tuple[Path, Path]:
    """(installed, shipped) copies of qcb-request.agi: the first pinned to ``python`` by Runtime.php."""
    installed, shipped = work / "installed", work / "shipped"
    for folder in (installed, shipped):
        folder.mkdir()
        shutil.copy2(ROOT / "agi-bin" / "qcb-request.agi", folder / "qcb-request.agi")
    runtime_php = ROOT / "module_xml" / "lib" / "Runtime.php"
    pin = ["php", str(runtime_php), "pin-scripts", "--python", str(python), "--agi-bin", str(installed)]
    subprocess.run(pin, check=True, stdout=subprocess.DEVNULL)
    return installed / "qcb-request.agi", shipped / "qcb-request.agi"


def env_block(i: int, network: bool) -> bytes:
    lines = [f"agi_uniqueid: bench.{i}", f"agi_callerid: 212555{i:04d}", "agi_arg_1: 400"]
    if network:
        lines += ["agi_network: yes", "agi_network_script: request"]
    return ("\n".join(lines) + "\n\n").encode()


def _value(expression: bytes) -> bytes:
    if expression.startswith(b"${SET(") and b"=" in expression:  # Asterisk's SET(): the value it set
        return expression[6:-2].split(b"=", 1)[1]
    return b"5551000" if expression == b"${FROM_DID}" else b""


def reply(command: bytes) -> bytes:
    """Asterisk's answer: the DID for ${FROM_DID} (alone or among the variables read at once), the value
    of a ${SET(name=value)}, else unset."""
    if command.startswith(b"GET FULL VARIABLE") and b"|" in command:
        names = command.split(b'"')[1].split(b"|")
        return b"200 result=1 (" + b"|".join(_value(n) for n in names) + b")\n"
    return b"200 result=1 (5551000)\n" if b"FROM_DID" in command else b"200 result=0\n"


def run_script(script: Path, env: dict[str, str], i: int) -> None:
    proc = subprocess.Popen(
        [str(script), "400"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(env_block(i, network=False))
    proc.stdin.flush()
    while line := proc.stdout.readline():
        proc.stdin.write(reply(line))
        proc.stdin.flush()
    proc.stdin.close()
    err = proc.stderr.read()
    if proc.wait(timeout=30) != 0:
        raise SystemExit(f"{script} failed: {err.decode()}")


async def fastagi_call(port: int, i: int) -> float:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env_block(i, network=True))
    while line := await reader.readline():
        writer.write(reply(line))
        if line.startswith(b"HANGUP"):
            break
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed * 1000


def one_call(port: int, i: int) -> None:
    """One FastAGI call on a plain blocking socket (no event loop to set up per call)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        f = sock.makefile("rwb")
        f.write(env_block(i, network=True))
        f.flush()
        while line := f.readline():
            f.write(reply(line))
            f.flush()
            if line.startswith(b"HANGUP"):
                break


async def burst(port: int, first: int) -> list[float]:
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(i: int) -> float:
        async with gate:
            return await fastagi_call(port, i)

    return list(await asyncio.gather(*(one(first + n) for n in range(BURST))))


def timed(work: Callable[[int], None], first: int, cpu: list[float] | None = None) -> list[float]:
    """Wall times in ms; with ``cpu``, also each call's child-process CPU time (user + system) in ms,
    which a busy host's other guests (steal) disturb far less than the wall time."""
    times = []
    for i in range(RUNS):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        work(first + i)
        times.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append((after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime) * 1000)
    return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def server_times(path: Path, count: int) -> list[float]:
    """The first ``count`` handler times serve wrote (one line per call, when its connection closed)."""
    wait_for(lambda: path.exists() and len(path.read_text().split()) >= count, 30, message="serve's timings")
    return [float(ms) for ms in path.read_text().split()[:count]]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def listen_overflows() -> int:
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    return -1


def main() -> None:
    server = ensure_server()
    db = server.create_database("qcb_bench")
    work = Path(tempfile.mkdtemp(prefix="qcb-bench-"))
    serve: subprocess.Popen[bytes] | None = None
    store = Store.connect(db)
    try:
        store.migrate(utcnow())
        CallbackService(store).set_queue("400", enabled=True)
        python = build_runtime(work)
        installed, shipped = agi_bin(work, python)
        env = {
            "PATH": SYSTEM_PATH,
            "QCB_DSN": db.url(),
            "QCB_PYTHON": str(python),  # where the shipped script hands over to
            "QCB_SPOOL": str(work / "spool"),
        }
        spool = work / "serve-spool"
        serve_log = work / "serve.log"
        cli = [str(python.parent / "freepbx-callback"), "--dsn", db.url()]
        timings = work / "timings"
        serve = subprocess.Popen(
            [*cli, "serve", "--no-dialer", "--port", "0", "--spool", str(spool), "--timings", str(timings)]
            + (["--cpu-slots", SLOTS] if SLOTS else []),
            env={"PATH": SYSTEM_PATH},
            stdout=subprocess.DEVNULL,
            stderr=serve_log.open("wb"),
        )
        found = wait_for(
            lambda: re.search(r"FastAGI on agi://[^:]+:(\d+)", serve_log.read_text()), 30, message="serve up"
        )
        port = int(found.group(1))

        rows: list[tuple[str, list[float]]] = []
        cpu: dict[str, list[float]] = {"php": [], "installed": [], "hand-over": []}
        php_run = timed(lambda i: subprocess.run(["php", "-r", ""], check=True), 0, cpu["php"])
        rows.append(("php -r ''", php_run))
        installed_run = timed(lambda i: run_script(installed, env, i), 0, cpu["installed"])
        rows.append(("agi-bin, installed (1 python)", installed_run))
        handover_run = timed(lambda i: run_script(shipped, env, i), 1000, cpu["hand-over"])
        rows.append(("agi-bin, hand-over (2 pythons)", handover_run))
        serve_cpu = cpu_s(serve.pid)
        rows.append(("FastAGI, one at a time", timed(lambda i: one_call(port, i), 2000)))
        serve_cpu = (cpu_s(serve.pid) - serve_cpu) / RUNS * 1000
        rows.append(("  its handler time (server)", server_times(timings, RUNS)))
        rss_before, overflows, cpu_before = rss_mib(serve.pid), listen_overflows(), cpu_s(serve.pid)
        burst_times = asyncio.run(burst(port, 3000))
        overflowed = listen_overflows() - overflows
        rss_after, cpu_per_call = rss_mib(serve.pid), (cpu_s(serve.pid) - cpu_before) / BURST * 1000
        rows.append((f"FastAGI, {BURST} at {CONCURRENT}: client", burst_times))
        rows.append(("  handler time (server)", server_times(timings, RUNS + BURST)[RUNS:]))
        stored, distinct = store._all("SELECT COUNT(*), COUNT(DISTINCT number) FROM qcb_requests")[0]
        php = pct(rows[0][1], 50)

        print(f"request handler cost: one run, {RUNS} calls per row ({BURST} in the burst), real MariaDB")
        print(f"{'what':<36}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'x php p50':>11}")
        for name, times in rows:
            p50, p99, top = pct(times, 50), pct(times, 99), max(times)
            print(f"{name:<36}{p50:>9.1f}{p99:>9.1f}{top:>9.1f}{p50 / php:>11.2f}")
        print(
            f"serve --no-dialer RSS {rss_before:.1f} MiB before the burst, {rss_after:.1f} MiB after; "
            f"listen queue overflows during the burst: {overflowed}; "
            f"rows stored {stored}, distinct numbers {distinct}; "
            f"serve's CPU per burst call {cpu_per_call:.2f} ms"
        )
        php_cpu, ours, handover = (pct(cpu[k], 50) for k in ("php", "installed", "hand-over"))
        print(
            "CPU per call (user + system, p50; steal on a shared host barely moves it): "
            f"php {php_cpu:.1f} ms; agi-bin installed {ours:.1f} ms ({ours / php_cpu:.2f}x php), "
            f"hand-over {handover:.1f} ms ({handover / php_cpu:.2f}x); "
            f"serve per FastAGI call one at a time {serve_cpu:.2f} ms"
        )
        first = installed.read_text().splitlines()[0]
        print(f"installed script: {first}; interpreter: {BASE_PYTHON}; this: Python {sys.version.split()[0]}")
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=15)
            log = work / "serve.log"
            stopped = re.search(r"stopped after .*", log.read_text()) if log.exists() else None
            print(f"serve: {stopped.group(0) if stopped else 'no stop line'}")
        store.close()
        server.drop_database(db.database)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
