"""`serve --no-dialer` as a real process: it needs no AMI setting, replays the journal, answers its wake
socket, and accepts a burst of 100 simultaneous FastAGI connections without overflowing its listen queue."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.service import CallbackService
from freepbx_callback.wake import address
from tests.testbed.serve import ServeProcess
from tests.testbed.wait import wait_for

BURST = 100


def env_without_ami() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QCB_")}


def port_of(serve: ServeProcess) -> int:
    match = re.search(r"FastAGI on agi://[^:]+:(\d+)", serve.read())
    assert match, serve.read()
    return int(match.group(1))


def agi_env(n: int) -> bytes:
    lines = [
        "agi_network: yes",
        "agi_network_script: request",
        f"agi_uniqueid: burst.{n}",
        f"agi_callerid: 2025551{n:03d}",
        "agi_arg_1: 400",
    ]
    return ("\n".join(lines) + "\n\n").encode()


def play_asterisk(sock: socket.socket, n: int) -> list[str]:
    """Asterisk's side of one FastAGI call: the environment, then success for every command."""
    f = sock.makefile("rwb")
    f.write(agi_env(n))
    f.flush()
    commands = []
    while line := f.readline():
        commands.append(line.decode().strip())
        f.write(b"200 result=1 (5551000)\n" if b"FROM_DID" in line else b"200 result=0\n")
        f.flush()
        if line.startswith(b"HANGUP"):
            break
    return commands


def listen_overflows() -> int:
    """TcpExt ListenOverflows: SYNs or handshakes dropped because an accept queue was full."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    raise AssertionError("no TcpExt in /proc/net/netstat")


def journal_request(spool: Path, number: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    entry = {"queue": "400", "number": number, "requested_at": now, "uniqueid": f"j.{number}"}
    name = f"{time.time_ns()}-{uuid.uuid4().hex}"
    (spool / f".{name}.tmp").write_text(json.dumps(entry))
    os.replace(spool / f".{name}.tmp", spool / f"{name}.json")


def test_serve_no_dialer_runs_without_any_ami_setting(
    db_dsn: str, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True)
    spool = tmp_path / "spool"
    with ServeProcess(db_dsn, spool, ["--no-dialer", "--poll", "3600"], env=env_without_ami()) as serve:
        # FastAGI: a request through the server is stored
        with socket.create_connection(("127.0.0.1", port_of(serve)), timeout=30) as sock:
            commands = play_asterisk(sock, 1)
        assert 'EXEC MSet "QCB_RESULT=created,QCB_NEXT=hangup"' in commands, commands
        # the journal: a request journaled while the database was down is replayed, woken through the
        # wake socket (the safety poll is an hour away)
        journal_request(spool, "2025552000")
        wait_for(lambda: Path(address(spool)).exists(), 10, message="the wake socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as wake:
            wake.sendto(b"w", address(spool))
        wait_for(lambda: not list(spool.glob("*.json")), 15, message=f"the journal replayed ({serve.log})")
        assert serve.process is not None and serve.process.poll() is None, serve.read()
        assert serve.stop() == 0
    log = serve.read()
    assert "Traceback" not in log and "AMI" not in log.split("FastAGI on")[0], log
    numbers = sorted(r.number for r in service.list())
    assert numbers == ["2025551001", "2025552000"]


def test_a_burst_of_100_connections_is_accepted_at_once(
    dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """While serve is stopped (SIGSTOP) the kernel alone completes the handshakes: with a listen queue
    of 5 most of the 100 connections would wait for SYN retransmits; all must be queued at once."""
    service.set_queue("400", enabled=True)
    spool = tmp_path / "spool"
    with ServeProcess(dsn.url(), spool, ["--no-dialer"], env=env_without_ami()) as serve:
        port = port_of(serve)
        overflows = listen_overflows()
        os.kill(serve.pid, signal.SIGSTOP)
        try:
            socks = [socket.socket() for _ in range(BURST)]
            for sock in socks:
                sock.setblocking(False)
                assert sock.connect_ex(("127.0.0.1", port)) in (0, 115)  # EINPROGRESS
            wait_for(
                lambda: all(_connected(s) for s in socks),
                10,
                message="all 100 handshakes completed by the kernel while serve is stopped",
            )
            assert listen_overflows() == overflows
        finally:
            os.kill(serve.pid, signal.SIGCONT)
        results: dict[int, list[str]] = {}

        def call(n: int, sock: socket.socket) -> None:
            sock.setblocking(True)
            sock.settimeout(60)
            with sock:
                results[n] = play_asterisk(sock, n)

        threads = [threading.Thread(target=call, args=(n, s)) for n, s in enumerate(socks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        assert serve.stop() == 0
    assert "Traceback" not in serve.read(), serve.read()
    assert len(results) == BURST
    numbers = [r.number for r in service.list()]
    assert len(numbers) == BURST and len(set(numbers)) == BURST
    assert set(numbers) == {f"2025551{n:03d}" for n in range(BURST)}


def _connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
        return True
    except OSError:
        return False


def test_serve_timings_writes_one_handler_time_per_call(
    db_dsn: str, service: CallbackService, tmp_path: Path
) -> None:
    """serve --timings FILE: one line per FastAGI call, its handler time in ms (what bench/agi_cost.py
    reads for the server's side of a burst)."""
    service.set_queue("400", enabled=True)
    timings = tmp_path / "timings"
    args = ["--no-dialer", "--timings", str(timings)]
    with ServeProcess(db_dsn, tmp_path / "spool", args, env=env_without_ami()) as serve:
        for n in range(3):
            with socket.create_connection(("127.0.0.1", port_of(serve)), timeout=30) as sock:
                play_asterisk(sock, n)
        wait_for(lambda: timings.exists() and len(timings.read_text().split()) == 3, 10, message="3 timings")
        assert serve.stop() == 0
    assert all(float(ms) > 0 for ms in timings.read_text().split())
    assert len(service.list()) == 3
