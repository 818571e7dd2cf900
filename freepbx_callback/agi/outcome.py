"""Hangup handler of the callback legs: turn what Asterisk knows into an attempt outcome, durably.

Runs as ``AGI(qcb-outcome.agi,<role>)`` from ``qcb-callback-end`` on every leg:

- ``agent``: the half that waited in the queue (agent-first). No agent (MEMBERINTERFACE empty) means the
  customer was never dialled; otherwise only the agent is noted.
- ``customer``: the half that dialled the customer once the agent answered (agent-first); an answer that
  came from a route's own dialplan rather than the customer (QCB_REACHED=0) is a failed attempt.
- ``dial``: the half that rang the customer (customer-first); only a call that was not answered ends here.
- ``greet``: the answered customer (customer-first): no 1 pressed (an answering machine) is no answer.

A lost race (deadlock, lock wait timeout, Galera certification failure) is tried again; when the
database is down or any error remains, the leg goes to the journal and is applied by the next replay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..journal import Journal, LegEntry
from ..models import Outcome
from ..service import CallbackService
from ..store import LostRace, StoreUnavailable
from .channel import Channel

DIAL_OUTCOMES = {
    "ANSWER": Outcome.ANSWERED,
    "BUSY": Outcome.BUSY,
    "NOANSWER": Outcome.NO_ANSWER,
    "CANCEL": Outcome.NO_ANSWER,
}
ROLES = ("agent", "customer", "dial", "greet")
LOST_RACE_RETRIES = (0.05, 0.2)  # pauses between tries of an outcome that lost a race
log = logging.getLogger(__name__)


def dial_outcome(dialstatus: str) -> Outcome:
    return DIAL_OUTCOMES.get(dialstatus.strip().upper(), Outcome.FAILED)


def _int(text: str) -> int:
    text = text.strip()
    return int(float(text)) if text.replace(".", "", 1).isdigit() else 0


def leg_outcome(role: str, read: Callable[[str], str], now: float) -> tuple[Outcome | None, int, str | None]:
    """(outcome or None, talk seconds, agent) of a leg from its channel variables."""
    agent = read("MEMBERINTERFACE") or None
    if role == "agent":
        return (None if agent else Outcome.NO_AGENT), 0, agent
    if role == "customer":
        outcome = dial_outcome(read("DIALSTATUS"))
        if outcome is Outcome.ANSWERED and read("SHARED(QCB_REACHED)") == "0":
            return Outcome.FAILED, 0, None  # the route answered (a failure message), not the customer
        return outcome, _int(read("ANSWEREDTIME")) if outcome is Outcome.ANSWERED else 0, None
    if role == "dial":
        outcome = dial_outcome(read("DIALSTATUS"))
        return (None if outcome is Outcome.ANSWERED else outcome), 0, None
    if role == "greet":
        if read("QCB_PRESSED") != "1":
            return Outcome.NO_ANSWER, 0, None
        if not agent:
            return Outcome.FAILED, 0, None
        answered_at = _int(read("QCB_ANSWERED_AT"))
        return Outcome.ANSWERED, max(0, int(now) - answered_at) if answered_at else 0, agent
    raise ValueError(f"unknown leg role {role!r} (one of {', '.join(ROLES)})")


def handle_outcome(
    channel: Channel, service: Callable[[], CallbackService], role: str, journal: Journal | None = None
) -> Outcome | None:
    request_id, attempt_no = _int(channel.variable("QCB_REQUEST")), _int(channel.variable("QCB_TRY"))
    if not request_id or not attempt_no:
        return None  # not a callback leg
    outcome, talk, agent = leg_outcome(role, channel.variable, time.time())
    try:
        _apply(service, request_id, attempt_no, outcome, talk, agent)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the outcome must not be lost
        if not isinstance(exc, StoreUnavailable):
            log.warning("request %s try %s: outcome journaled after %r", request_id, attempt_no, exc)
        (journal or Journal()).append(
            LegEntry(request_id, attempt_no, outcome.value if outcome else None, talk, agent)
        )
    return outcome


def _apply(
    service: Callable[[], CallbackService],
    request_id: int,
    attempt_no: int,
    outcome: Outcome | None,
    talk: int,
    agent: str | None,
) -> None:
    """Record the leg; a lost race (deadlock, lock wait timeout, Galera certification failure) is tried
    again a few times, and any error after that is the caller's to journal."""
    svc = service()
    for delay in LOST_RACE_RETRIES:
        try:
            svc.apply_leg(request_id, attempt_no, outcome, talk, agent)
            return
        except LostRace:
            time.sleep(delay)
    svc.apply_leg(request_id, attempt_no, outcome, talk, agent)
