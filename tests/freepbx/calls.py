"""Calls through the FreePBX bed: a PSTN caller on a DID, SIPp agent and customer phones, dialer ticks."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.sipp import CallResult, Uas, call_and_press


def press_1(bed: FreePbx, did: str = "5551000", caller: str = "5551234", after_s: float = 6.0) -> CallResult:
    """A caller dials the DID, waits in the queue, presses 1; returns once FreePBX hangs up."""
    return call_and_press(bed, did, dtmf_after_s=after_s, hold_s=40, caller_id=caller)  # type: ignore[arg-type]


def cli(bed: FreePbx, *args: str, check: bool = True) -> Any:
    """`freepbx-callback ... --json` on the FreePBX host (its /etc/freepbx.conf settings)."""
    done = bed.bw(["freepbx-callback", *args, "--json"], check=check)
    return json.loads(done.stdout) if done.stdout.strip() else None


def requests(bed: FreePbx, queue: str) -> list[dict[str, Any]]:
    return list(cli(bed, "request", "list", "--queue", queue))


def request_row(bed: FreePbx, request_id: int) -> dict[str, Any]:
    rows = bed.query(
        "SELECT status, attempts, tries, number, did, language FROM qcb_requests WHERE id = %s", request_id
    )
    assert rows, f"no request {request_id}"
    keys = ("status", "attempts", "tries", "number", "did", "language")
    return dict(zip(keys, rows[0], strict=True))


def tick(bed: FreePbx, *args: str) -> Any:
    """One dialer tick on the FreePBX host (AMI from FreePBX's settings)."""
    return cli(bed, "dial", *args)


def wait_status(
    bed: FreePbx,
    request_id: int,
    statuses: set[str],
    timeout: float,
    tick_every: float = 0,
    tick_args: tuple[str, ...] = (),
) -> str:
    """Wait for the request to reach one of ``statuses``, running a dialer tick every ``tick_every`` s."""
    deadline = time.monotonic() + timeout
    last_tick = 0.0
    status = ""
    while time.monotonic() < deadline:
        status = request_row(bed, request_id)["status"]
        if status in statuses:
            return status
        if tick_every and time.monotonic() - last_tick >= tick_every:
            tick(bed, *tick_args)
            last_tick = time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"request {request_id} stayed {status!r}, wanted {statuses}")


def phones(
    bed: FreePbx,
    agent_mode: str = "answer",
    customer_mode: str = "answer",
    customer_hangup_after_s: float | None = 8.0,
    agent_ring_s: float = 0.5,
) -> tuple[Uas, Uas]:
    agent = Uas(bed, agent_mode, ring_s=agent_ring_s)  # type: ignore[arg-type]
    customer = Uas(bed, customer_mode, ring_s=1.0, hangup_after_s=customer_hangup_after_s)  # type: ignore[arg-type]
    agent.start()
    customer.start()
    bed.set_contacts(agent.port, customer.port)
    return agent, customer
