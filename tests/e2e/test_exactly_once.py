"""Never two calls, never a lost outcome: dialers under faults on a real Asterisk 22 and MariaDB.

- two dialers (``serve`` and the cron ``dial`` line) ticking at the same moment share one release limit;
- ``serve`` stopped while the customer talks: the answered callback is never dialled again;
- two Asterisk servers and two dialer nodes on one database: a node leaves the other's live call alone;
- an Originate whose answer comes after the client's timeout is not dialled a second time.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from freepbx_callback import policy
from freepbx_callback.ami import Ami, AmiConfig, Message
from freepbx_callback.config import Dsn
from freepbx_callback.dialer import Dialer, TickReport
from freepbx_callback.dialplan.render import render
from freepbx_callback.loop import EVIDENCE_EVENTS, WAKE_EVENTS
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService, utcnow
from tests.e2e.test_fastagi_fallback import press_1_while_the_agent_is_paused, unpause
from tests.testbed.ami_proxy import HoldingAmiProxy
from tests.testbed.asterisk import PROJECT_ROOT, AsteriskInstance, free_port
from tests.testbed.callbacks import CallbackBed
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
DID = "5551000"


class SyncedAmi(Ami):
    """The real AMI client; every dialer holding one reads the queue at the same moment (a barrier)."""

    gate: threading.Barrier

    def queue_callers(self, queue: str) -> list[Message]:
        callers = super().queue_callers(queue)
        self.gate.wait(timeout=15)
        return callers


def synced(cb: CallbackBed, spool: Path, gate: threading.Barrier, **config: object) -> Dialer:
    dialer = cb.dialer(spool, **config)
    ami = AmiConfig.parse(cb.bed.ami_dsn)

    def connect() -> Ami:
        client = SyncedAmi(ami)
        client.gate = gate
        return client

    dialer.ami_factory = connect
    return dialer


def in_flight(service: CallbackService) -> int:
    return len(service.list(status=Status.DIALING))


def test_two_dialers_ticking_together_release_at_most_the_free_agents(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did=DID, notify_agents=False, min_talk=1)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agents = {"agent1": Uas(bed, "answer", ring_s=0.3), "agent2": Uas(bed, "answer", ring_s=0.3)}
    customer = Uas(bed, "answer", ring_s=0.3, hangup_after_s=4)
    cb = CallbackBed.start(bed, dsn, service, agents, customer)
    with agents["agent1"], agents["agent2"], customer:
        ids = [service.request("400", f"201555{i:04d}").request.id for i in range(5)]  # type: ignore[union-attr]
        worst = 0
        for _ in range(3):  # serve and cron tick at the same moment, three times over
            gate = threading.Barrier(2)
            dialers = [synced(cb, tmp_path / "spool", gate, node="pbx1") for _ in range(2)]
            reports: list[TickReport] = [TickReport(), TickReport()]

            def tick(i: int, d: list[Dialer] = dialers, r: list[TickReport] = reports) -> None:
                r[i] = d[i].tick()

            threads = [threading.Thread(target=tick, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            dialled = reports[0].dialled + reports[1].dialled
            worst = max(worst, in_flight(service))
            assert len(dialled) <= 2, f"2 free agents, {len(dialled)} callbacks released: {reports}"
            assert in_flight(service) <= 2
            wait_for(lambda: in_flight(service) == 0, 40, message="the released callbacks to end")
        assert worst == 2, "both free agents were used"
        done = [i for i in ids if service.get(i).status is Status.DONE]
        assert len(done) == len(customer.invites()), "every customer call ended done, none twice"


@pytest.fixture
def serve(dsn: Dsn, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """`freepbx-callback serve` (the real command) in its own process."""
    started: list[subprocess.Popen[bytes]] = []

    def start(port: int, *args: str) -> subprocess.Popen[bytes]:
        log = tmp_path / "serve.log"
        cmd = [sys.executable, "-m", "freepbx_callback", "--dsn", dsn.url(), "serve", "--port", str(port)]
        proc = subprocess.Popen(
            [*cmd, "--spool", str(tmp_path / "spool"), *args],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        started.append(proc)
        wait_for(lambda: "FastAGI on agi://" in log.read_text(), 15, message=f"serve listening ({log})")
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("fallback", [True, False], ids=["with-agi-bin-fallback", "fastagi-only"])
def test_serve_stopped_before_the_customer_hangs_up_never_calls_again(
    asterisk: Factory,
    dsn: Dsn,
    service: CallbackService,
    serve: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
    fallback: bool,
) -> None:
    service.set_queue("400", enabled=True, did=DID, notify_agents=False, min_talk=2, offer_every=5)
    port = free_port()
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.3)
    customer = Uas(bed, "answer", ring_s=0.3, hangup_after_s=8)
    CallbackBed.configure(bed, "400", {"agent": agent}, customer)
    rendered = render(
        service.queues(),
        "asterisk",
        f"agi://127.0.0.1:{port}",
        agi_fallback=str(bed.agi_dir) if fallback else None,
    )
    rendered.write(bed.etc)
    bed.start()
    cb = CallbackBed(bed, dsn)
    lease = 5
    with agent, customer:
        proc = serve(port, "--no-dialer", "--ami", bed.ami_dsn)
        request = service.get(press_1_while_the_agent_is_paused(cb, service))  # through serve's FastAGI
        assert bed.log_text().count(f"AGI Script agi://127.0.0.1:{port}/request completed") == 1
        unpause(cb)
        dialer = cb.dialer(tmp_path / "spool", lease=lease)
        assert dialer.tick().dialled == [request.id]
        wait_for(customer.invites, 20, message="the customer rung")
        time.sleep(1.5)  # the customer answered and talks
        proc.send_signal(signal.SIGTERM)  # serve goes down while the call is up
        assert proc.wait(timeout=15) == 0
        wait_for(lambda: callback_channels(bed) == 0, 30, 0.5, "the callback's channels gone")
        end = time.monotonic() + lease + 4
        while time.monotonic() < end:  # ticks past the lease: recovery runs on every one
            dialer.tick()
            time.sleep(0.5)
        final = service.get(request.id)
        assert len(customer.invites()) == 1, "the customer was called once"
        [attempt] = service.history(request.id)[0]
        if fallback:
            assert (final.status, attempt.outcome) == (Status.DONE, "answered")
        else:  # the outcome never arrived: closed, visible, never redialled
            assert (final.status, final.last_outcome, attempt.outcome) == (
                Status.FAILED,
                policy.UNKNOWN_REASON,
                "unknown",
            )


def callback_channels(bed: AsteriskInstance) -> int:
    listing = bed.ami_action({"Action": "CoreShowChannels"})
    return sum(1 for m in listing if m.get("Event") == "CoreShowChannel" and "qcb-" in str(m))


def test_a_node_leaves_the_other_nodes_live_call_alone(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did=DID, notify_agents=False, min_talk=2)
    beds, phones = [], []
    for _ in range(2):  # node A and node B: each its own Asterisk, agent and trunk; one database
        bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
        agent = Uas(bed, "answer", ring_s=0.3)
        customer = Uas(bed, "answer", ring_s=0.3, hangup_after_s=14)
        beds.append(CallbackBed.start(bed, dsn, service, {"agent": agent}, customer))
        phones.append((agent, customer))
    (agent_a, customer_a), (agent_b, customer_b) = phones
    lease = 3
    node_a = beds[0].dialer(tmp_path / "spool-a", node="node-a", lease=lease)
    node_b = beds[1].dialer(tmp_path / "spool-b", node="node-b", lease=lease)
    started = utcnow()
    with agent_a, customer_a, agent_b, customer_b:
        request = service.request("400", "2015551234").request
        assert request is not None
        report = node_b.tick()
        assert report.dialled == [request.id]
        node_b.beat("serve", 2.0, started, report)  # B is alive: it beats as serve does
        wait_for(customer_b.invites, 20, message="B's customer rung")
        end = time.monotonic() + lease + 5
        while time.monotonic() < end:  # A ticks well past B's lease while B's call is up
            node_a.tick()
            node_b.beat("serve", 2.0, started, TickReport())
            now = service.get(request.id)
            assert (now.status, now.claimed_by) == (Status.DIALING, "node-b"), now
            time.sleep(0.5)
        assert customer_a.invites() == [] and agent_a.invites() == []
        done = wait_for(
            lambda: (r := service.get(request.id)).status is Status.DONE and r, 40, message="B's call done"
        )
        assert (done.attempts, done.tries) == (1, 1)
        assert len(customer_b.invites()) == 1


def test_an_originate_answered_after_the_timeout_is_not_dialled_again(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did=DID, notify_agents=False, min_talk=2)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.3)
    customer = Uas(bed, "answer", ring_s=0.3, hangup_after_s=6)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    direct = cb.dialer(tmp_path / "spool")
    with agent, customer, HoldingAmiProxy(bed.ami_port, hold_s=8) as proxy:
        request = service.request("400", "2015551234").request
        assert request is not None
        slow = cb.dialer(tmp_path / "spool")
        config = AmiConfig.parse(bed.ami_dsn)
        slow.ami_factory = lambda: Ami(AmiConfig(config.user, config.secret, config.host, proxy.port), 3.0)
        report = slow.tick()
        assert proxy.originates == 1 and report.ami_down, report.summary()
        assert service.get(request.id).status is Status.DIALING, "left open: Asterisk may be dialling"
        assert report.unknown == [request.id] and report.dialled == report.lost == []
        deadline = time.monotonic() + 30
        while service.get(request.id).status is Status.DIALING and time.monotonic() < deadline:
            assert direct.tick().dialled == []
            time.sleep(0.5)
        done = service.get(request.id)
        assert (done.status, done.attempts, done.tries) == (Status.DONE, 1, 1)
        for _ in range(3):
            assert direct.tick().dialled == []
        assert len(customer.invites()) == 1, "one call, although the first Originate's answer was late"


def test_an_ami_error_reply_to_the_channel_check_is_not_a_dead_call(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """The dialer's manager account may originate but not list channels (CoreShowChannels: Permission
    denied): past the lease, recovery must not read that error as a call that ended."""
    service.set_queue("400", enabled=True, did=DID, notify_agents=False, min_talk=2)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agents = {"agent1": Uas(bed, "answer", ring_s=0.3), "agent2": Uas(bed, "answer", ring_s=0.3)}
    customer = Uas(bed, "answer", ring_s=0.3, hangup_after_s=12)
    bed.extra_configs["manager.conf"] = (
        f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = {bed.ami_port}\n\n"
        f"[{bed.ami_user}]\nsecret = {bed.ami_secret}\npermit = 127.0.0.1/255.255.255.255\n"
        "read = all\nwrite = all\n\n"
        "[dialer]\nsecret = dialer\npermit = 127.0.0.1/255.255.255.255\nread = call,agent\n"
        "write = originate,call,agent\n"
    )
    cb = CallbackBed.start(bed, dsn, service, agents, customer)
    lease = 3
    dialer = cb.dialer(tmp_path / "spool", lease=lease)
    dialer.ami_factory = lambda: Ami(AmiConfig("dialer", "dialer", "127.0.0.1", bed.ami_port))
    with agents["agent1"], agents["agent2"], customer:
        denied = dialer.ami_factory().action([("Action", "CoreShowChannels")])
        assert denied[0].get("Response") == "Error", denied  # the account really cannot list channels
        request = service.request("400", "2015551234").request
        assert request is not None
        assert dialer.tick().dialled == [request.id]
        wait_for(customer.invites, 20, message="the customer rung")
        deadline = time.monotonic() + 40
        while service.get(request.id).status is Status.DIALING and time.monotonic() < deadline:
            assert dialer.tick().dialled == [], "a second call while the first is up"
            time.sleep(0.5)
        done = service.get(request.id)
        assert (done.status, done.tries) == (Status.DONE, 1)
        assert len(customer.invites()) == 1


def test_an_agent_first_originate_reported_failed_is_given_back_uncounted(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """No agent answers and the agent leg's outcome never arrives (FastAGI down, no fallback): Asterisk's
    OriginateResponse Failure for the callback's channel id is the evidence that the customer was never
    dialled, so recovery gives the try back instead of closing the request as unknown."""
    service.set_queue("400", enabled=True, did=DID, notify_agents=False)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "noanswer"), Uas(bed, "answer", ring_s=0.3, hangup_after_s=4)
    CallbackBed.configure(bed, "400", {"agent": agent}, customer)
    render(service.queues(), "asterisk", f"agi://127.0.0.1:{free_port()}").write(bed.etc)
    bed.start()
    cb = CallbackBed(bed, dsn)
    lease = 8
    dialer = cb.dialer(tmp_path / "spool", lease=lease, agent_timeout=4)
    with agent, customer:
        request = service.request("400", "2015551234").request
        assert request is not None
        ami = dialer.ami_factory()  # one connection kept open, as serve keeps it
        ami.subscribe(WAKE_EVENTS + EVIDENCE_EVENTS)  # what serve's loop subscribes to
        try:
            assert dialer.tick(ami).dialled == [request.id]
            first = lambda: service.history(request.id)[0][0]  # noqa: E731
            deadline = time.monotonic() + lease + 20
            while first().ended_at is None and time.monotonic() < deadline:
                dialer.tick(ami)
                time.sleep(0.5)
        finally:
            ami.close()
        attempt = first()
        assert (attempt.outcome, attempt.counted) == ("lost", False), attempt
        assert service.get(request.id).attempts == 0
        assert customer.invites() == [], "the customer was never dialled"
