"""The per-queue release limit is one limit for every dialer: decided in the database, inside the claim.

Two dialers (``serve`` and the cron ``dial`` line, each with its own database connection) read the same
free agents from Asterisk at the same moment and then claim; together they never put more callbacks in
flight than there are free agents. The Asterisk side here only reports a fixed number of free agents
(the real Asterisk version of this is tests/e2e/test_exactly_once.py); the database is real.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from freepbx_callback.config import Dsn
from freepbx_callback.dialer import Dialer, DialerConfig, TickReport
from freepbx_callback.journal import Journal
from freepbx_callback.models import Outcome, Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.conftest import Clock

FREE_AGENTS = 5


class QueueView:
    """What both dialers read from Asterisk: ``free`` agents available, no callback waiting yet. Both
    dialers read it at the same moment (a barrier), as serve and cron ticking together do."""

    def __init__(self, free: int, gate: threading.Barrier) -> None:
        self.free, self.gate = free, gate
        self.originated: list[str] = []
        self.lock = threading.Lock()

    def queue_summary(self, queue: str) -> dict[str, str]:
        return {"Event": "QueueSummary", "Queue": queue, "Available": str(self.free)}

    def queue_callers(self, queue: str) -> list[dict[str, str]]:
        self.gate.wait(timeout=10)
        return []

    def originate(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        with self.lock:
            self.originated.append(kwargs["channel_id"])
        return {"Response": "Success"}


def two_dialers(dsn: Dsn, clock: Clock, tmp_path: Path) -> list[Dialer]:
    return [
        Dialer(
            lambda: CallbackService(Store.connect(dsn), clock),
            lambda: None,  # type: ignore[arg-type, return-value]
            Journal(tmp_path / "spool"),
            DialerConfig(node="pbx1"),  # serve and cron on one host: one node
        )
        for _ in range(2)
    ]


def test_two_dialers_together_never_exceed_the_free_agents(
    service: CallbackService, dsn: Dsn, clock: Clock, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, window=86400)
    ids = [service.request("400", f"201555{i:04d}").request.id for i in range(10)]  # type: ignore[union-attr]
    settings = service.queue("400")
    dialers = two_dialers(dsn, clock, tmp_path)
    worst = 0
    with ThreadPoolExecutor(2) as pool:
        for _ in range(25):
            clock.advance(30)  # every earlier claim is old: only what is in flight now may count
            view = QueueView(FREE_AGENTS, threading.Barrier(2))
            reports = [TickReport(), TickReport()]
            list(pool.map(lambda i, v=view, r=reports: dialers[i]._release(v, settings, r[i]), range(2)))
            dialing = [r for r in service.list(status=Status.DIALING)]
            dialled = reports[0].dialled + reports[1].dialled
            assert len(dialled) == len(view.originated) == len(dialing)
            worst = max(worst, len(dialing))
            assert len(dialing) <= FREE_AGENTS, f"{len(dialing)} callbacks in flight for {FREE_AGENTS} agents"
            for request in dialing:  # no agent took them: back to pending, not counted
                service.record_outcome(request.id, request.tries, Outcome.NO_AGENT)
    assert worst == FREE_AGENTS, "the free agents were used"
    assert all(service.get(i).status is Status.PENDING for i in ids)


def test_in_flight_is_what_waits_in_the_queue_or_was_just_claimed(
    service: CallbackService, clock: Clock
) -> None:
    service.set_queue("400", enabled=True, window=86400)
    for i in range(5):
        service.request("400", f"201555{i:04d}")
    attempts = [a for _, a in service.claim("400", 3, "node-a", free=3)]
    assert len(attempts) == 3 and service.in_flight("400") == 3  # just claimed: maybe not queued yet
    clock.advance(20)
    assert service.in_flight("400") == 0  # not seen waiting any more: an agent took them (busy)
    assert service.in_flight("400", settle=60) == 3  # customer-first: maybe still ringing the customer
    waiting = [a.channel_id or "" for a in attempts[:2]]
    assert service.in_flight("400", waiting) == 2  # still waiting in the queue for an agent
    assert service.claim("400", 5, "node-b", free=2, waiting=waiting) == []  # 2 free, 2 waiting
    assert service.claim("400", 5, "node-b", free=2, waiting_here=2) == []  # seen, ids or not
    service.record_outcome(attempts[0].request_id, 1, Outcome.NO_AGENT)
    assert service.in_flight("400", waiting) == 1  # ended: no longer in flight
    [(request, _)] = service.claim("400", 5, "node-b", free=2, waiting=waiting)
    assert request.claimed_by == "node-b"
