"""Exactly once under load and under crashes, on the real Asterisk.

Agents and customers are Local channels that answer in the dialplan (many calls at once without a SIPp
process per phone); the outcome handler runs over FastAGI on the host. Every originate leaves a
"request N try T" line in Asterisk's log, so what Asterisk actually dialled is counted there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from freepbx_callback.agi.fastagi import FastAgiServer
from freepbx_callback.config import Dsn
from freepbx_callback.journal import Journal
from freepbx_callback.models import Status
from freepbx_callback.policy import UNKNOWN_REASON
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
AGENTS = 8
TEMPLATE = "Local/{number}@qcb-test-customers"
EXTENSIONS = """
[qcb-test-agents]
exten => _agX,1,Set(DEVICE_STATE(Custom:${EXTEN})=INUSE)
 same => n,Set(CHANNEL(hangup_handler_push)=qcb-test-agent-free,s,1(${EXTEN}))
 same => n,Answer()
 same => n,Wait(30)
 same => n,Hangup()

[qcb-test-agent-free]
exten => s,1,Set(DEVICE_STATE(Custom:${ARG1})=NOT_INUSE)
 same => n,Return()

; The customer's "trunk": a Dial that a phone answers (a Local channel answered by its own dialplan
; would be a failed route, not a customer reached).
[qcb-test-customers]
exten => _X.,1,Dial(Local/${EXTEN}@qcb-test-phone,10)
 same => n,Hangup()

[qcb-test-phone]
exten => _X.,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()

#include extensions_qcb.conf
"""
ORIGINATED = re.compile(r"qcb: request (\d+) try (\d+): waiting for an agent")
CUSTOMER = re.compile(r"Executing \[(\d+)@qcb-test-customers:1\]")


@pytest.fixture
def fastagi(dsn: Dsn, tmp_path: Path) -> Iterator[FastAgiServer]:
    server = FastAgiServer(
        ("127.0.0.1", 0), lambda: CallbackService(Store.connect(dsn)), Journal(tmp_path / "j")
    )
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def local_bed(asterisk: Factory, dsn: Dsn, service: CallbackService, agi_port: int) -> CallbackBed:
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    # Local members report no device state of their own: a Custom state the agent's dialplan keeps.
    members = "\n".join(
        f"member => Local/ag{i}@qcb-test-agents/n,0,agent{i},Custom:ag{i}" for i in range(AGENTS)
    )
    CallbackBed.configure(bed, "400", {}, None, extra_members=members, strategy="leastrecent")
    bed.extensions = EXTENSIONS
    cb = CallbackBed(bed, dsn)
    cb.render(service, agi=f"agi://127.0.0.1:{agi_port}")
    bed.start()
    return cb


def dialled(bed: AsteriskInstance) -> tuple[Counter[tuple[int, int]], Counter[str]]:
    log = bed.log_text()
    attempts = Counter((int(a), int(b)) for a, b in ORIGINATED.findall(log))
    customers = Counter(CUSTOMER.findall(log))
    return attempts, customers


def assert_exactly_once(
    service: CallbackService, bed: AsteriskInstance, numbers: list[str], killed: bool = False
) -> None:
    """Every request done, each customer dialled once. ``killed``: a dialer killed between noting an
    Originate as sent and writing it leaves no evidence either way; such a try is closed as unknown
    (counted, never redialled), so its customer may be dialled once or not at all, never twice."""
    requests = service.list(limit=10000)
    unknown = {r.number for r in requests if killed and r.last_outcome == UNKNOWN_REASON}
    closed = Counter(r.status for r in requests if r.number not in unknown)
    assert set(closed) == {Status.DONE}, closed
    attempts, customers = dialled(bed)
    rows = {(a.request_id, a.attempt_no): a for r in requests for a in service.history(r.id)[0]}
    originated = {key for key, a in rows.items() if a.outcome not in ("lost", "unknown")}
    assert originated <= set(attempts), "every attempt recorded as dialled was seen by Asterisk"
    assert set(attempts) - originated <= {k for k, a in rows.items() if a.outcome == "unknown"}
    assert max(attempts.values()) == 1, [k for k, v in attempts.items() if v > 1]
    assert set(numbers) - unknown <= set(customers) <= set(numbers), "each customer dialled"
    assert max(customers.values()) == 1, [k for k, v in customers.items() if v > 1]
    assert all(r.attempts == 1 for r in requests)


def test_two_dialers_work_200_requests_each_attempt_originated_once(
    asterisk: Factory, dsn: Dsn, service: CallbackService, fastagi: FastAgiServer, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=0, window=3600)
    numbers = [f"201555{i:04d}" for i in range(200)]
    for number in numbers:
        assert service.request("400", number).kind == "created"
    cb = local_bed(asterisk, dsn, service, fastagi.server_address[1])
    nodes = [cb.dialer(tmp_path / f"spool{i}", dial_template=TEMPLATE, node=f"node{i}") for i in (1, 2)]
    stop = threading.Event()
    ticks: Counter[str] = Counter()

    def work(dialer) -> None:  # type: ignore[no-untyped-def]
        while not stop.is_set():
            report = dialer.tick()
            ticks[dialer.config.node] += len(report.dialled)
            time.sleep(0.2)

    threads = [threading.Thread(target=work, args=(d,), daemon=True) for d in nodes]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        wait_for(
            lambda: service.store.count_open("400") == 0,
            timeout=240,
            interval=1,
            message="all 200 callbacks done",
        )
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    elapsed = time.monotonic() - started
    assert_exactly_once(service, cb.bed, numbers)
    assert ticks["node1"] > 0 and ticks["node2"] > 0, ticks  # both nodes did work
    print(f"\n200 callbacks by 2 dialers and {AGENTS} agents in {elapsed:.1f} s; per node {dict(ticks)}")


def test_dialer_killed_mid_tick_loses_nothing_and_dials_nothing_twice(
    asterisk: Factory, dsn: Dsn, service: CallbackService, fastagi: FastAgiServer, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=0, window=3600)
    numbers = [f"201556{i:04d}" for i in range(40)]
    for number in numbers:
        service.request("400", number)
    cb = local_bed(asterisk, dsn, service, fastagi.server_address[1])
    cli = [
        sys.executable,
        "-m",
        "freepbx_callback",
        "--dsn",
        dsn.url(),
        "dial",
        "--ami",
        cb.bed.ami_dsn,
        "--dial-template",
        TEMPLATE,
        "--lease",
        "4",
        "--node",
        "doomed",
        "--spool",
        str(tmp_path / "spool"),
    ]
    kills = 0
    for _ in range(3):  # kill three dialers, each as soon as it has claimed something
        before = len(service.store.dialing())
        proc = subprocess.Popen(
            cli,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
        )
        try:
            wait_for(
                lambda b=before, p=proc: len(service.store.dialing()) > b or p.poll() is not None,
                timeout=30,
                interval=0.005,
                message="the dialer claimed something",
            )
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=10)
    assert kills >= 1
    # The dialer that comes back is the same node (the host's next cron tick, or serve restarted): only
    # a claim's own node recovers it while that node is alive (tests/db/test_recovery.py has the rest).
    survivor = cb.dialer(tmp_path / "spool", dial_template=TEMPLATE, node="doomed", lease=4)

    def finished() -> bool:
        survivor.tick()
        return service.store.count_open("400") == 0

    wait_for(finished, timeout=180, interval=0.5, message="all callbacks done after the crashes")
    assert_exactly_once(service, cb.bed, numbers, killed=True)
    assert not service.store.dialing(), "nothing stuck in dialing"
    outcomes = Counter(a.outcome for r in service.list() for a in service.history(r.id)[0])
    print(f"\n{kills} dialer(s) killed; attempt outcomes {dict(outcomes)}")
