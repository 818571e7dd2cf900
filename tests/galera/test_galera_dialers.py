"""Dialers on different Galera nodes: one release limit per queue, and recovery that leaves a live
node's calls alone (items the single-server tests prove with row locks, proven here without them)."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from freepbx_callback.dialer import Dialer, DialerConfig, TickReport
from freepbx_callback.journal import Journal
from freepbx_callback.models import Outcome, Status
from freepbx_callback.policy import UNKNOWN_REASON
from freepbx_callback.service import CallbackService
from tests.conftest import Clock
from tests.db.test_heartbeat import age, beat
from tests.db.test_release_limit import QueueView
from tests.galera.conftest import Cluster

FREE_AGENTS = 5
LEASE = 60


def test_dialers_on_two_nodes_never_exceed_the_free_agents(cluster: Cluster, tmp_path: Path) -> None:
    clock = Clock()
    setup = cluster.service(0, clock)
    setup.set_queue("400", enabled=True, window=86400)
    for i in range(10):
        assert setup.request("400", f"201555{i:04d}").kind == "created"
    cluster.bed.wait_synced()
    settings = setup.queue("400")
    counted = threading.Barrier(2)

    def service_on(node: int) -> CallbackService:
        """Node ``node``'s service, whose claim waits after counting what is in flight until the other
        dialer has counted too: both transactions overlap at the worst moment, every round."""
        service = cluster.service(node, clock)
        count = service.store.in_flight

        def in_flight_then_wait(*args: Any) -> int:
            seen = count(*args)
            with contextlib.suppress(threading.BrokenBarrierError):
                counted.wait(timeout=5)
            return seen

        service.store.in_flight = in_flight_then_wait  # type: ignore[method-assign]
        return service

    dialers = [
        Dialer(
            lambda node=node: service_on(node),
            lambda: None,  # type: ignore[arg-type, return-value]
            Journal(tmp_path / f"spool{node}"),
            DialerConfig(node=f"pbx{node}"),
        )
        for node in (0, 1)
    ]
    worst = 0
    with ThreadPoolExecutor(2) as pool:
        for _ in range(15):
            clock.advance(30)  # earlier claims are old: only what is in flight now counts
            view = QueueView(FREE_AGENTS, threading.Barrier(2))
            reports = [TickReport(), TickReport()]
            list(pool.map(lambda i, v=view, r=reports: dialers[i]._release(v, settings, r[i]), range(2)))
            cluster.bed.wait_synced()
            dialing = setup.list(status=Status.DIALING)
            assert len(dialing) == len(view.originated), "every claim was dialled once, nothing else"
            assert len(dialing) <= FREE_AGENTS, f"{len(dialing)} in flight for {FREE_AGENTS} free agents"
            worst = max(worst, len(dialing))
            for request in dialing:  # no agent took them: back to pending, not counted
                setup.record_outcome(request.id, request.tries, Outcome.NO_AGENT)
            cluster.bed.wait_synced()
    assert worst == FREE_AGENTS, "the free agents were used"


def test_recovery_on_another_node_leaves_a_live_nodes_call_alone(cluster: Cluster) -> None:
    clock = Clock()
    node_a, node_b = cluster.service(0, clock), cluster.service(1, clock)
    node_b.set_queue("400", enabled=True, attempts=3)
    node_b.heartbeat(beat("node-b"))
    rid = node_b.request("400", "2015551234").request.id  # type: ignore[union-attr]
    [(_, attempt)] = node_b.claim("400", 1, "node-b", lease=LEASE)
    node_b.originate_sent(attempt)
    cluster.bed.wait_synced()
    clock.advance(LEASE + 1)

    def no_channel_here(channel_id: str) -> bool:
        return False  # node A's Asterisk never had node B's call

    assert node_a.recover(no_channel_here, LEASE, "node-a")["skipped"] == 1
    cluster.bed.wait_synced()
    request = node_b.get(rid)
    assert (request.status, request.claimed_by, request.tries) == (Status.DIALING, "node-b", 1)
    assert node_a.claim("400", 5, "node-a") == [], "a live node's call is never dialled again"

    age(node_b.store, "node-b", 2 * LEASE + 1)  # node B's dialer stopped beating long ago: dead
    cluster.bed.wait_synced()
    assert node_a.recover(no_channel_here, LEASE, "node-a")["unknown"] == 1
    cluster.bed.wait_synced()
    request = node_b.get(rid)
    assert (request.status, request.last_outcome) == (Status.FAILED, UNKNOWN_REASON), "closed, not redialled"
    clock.advance(3600)
    assert node_a.claim("400", 5, "node-a") == []
