"""Hangup handler of the callback legs: turn what Asterisk knows into an attempt outcome, durably.

Runs as ``AGI(qcb-outcome.agi,<role>)`` from ``qcb-callback-end`` on every leg:

- ``agent``: the half that waited in the queue (agent-first). No agent (MEMBERINTERFACE empty) means the
  customer was never dialled; otherwise only the agent is noted. With agent acceptance (QCB_ACCEPT=1) an
  agent who did not press 1 is no agent either: the customer was never dialled.
- ``customer``: the half that dialled the customer once the agent answered (agent-first); an answer that
  came from a route's own dialplan rather than the customer (QCB_UNREACHED) is a failed attempt.
- ``dial``: the half that rang the customer (customer-first); only a call that was not answered ends here.
- ``greet``: the answered customer (customer-first): no 1 pressed (an answering machine) is no answer.

And once, not as a hangup handler, as ``AGI(qcb-outcome.agi,connect)`` just before the customer is
dialled (agent-first, after the agent answered): QCB_GO=0 when the request was cancelled meanwhile (the
attempt is then closed as cancelled), else 1; with the database down the call goes ahead.

A lost race (deadlock, lock wait timeout, Galera certification failure) is tried again; when the
database is down or any error remains, the leg goes to the journal and is applied by the next replay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..journal import Journal, LegEntry
from ..models import CONNECTED_AT, UNREACHED, Outcome
from ..service import CallbackService
from ..store import LostRace, StoreUnavailable

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from .channel import Channel

DIAL_OUTCOMES = {
    "ANSWER": Outcome.ANSWERED,
    "BUSY": Outcome.BUSY,
    "NOANSWER": Outcome.NO_ANSWER,
    "CANCEL": Outcome.NO_ANSWER,
}
# Agent acceptance: "1" on both halves of the callback's Local channel once the agent pressed 1.
ACCEPTED = "SHARED(QCB_ACCEPTED)"
ROLES = ("agent", "customer", "dial", "greet")  # hangup handlers; plus "connect", see above
LOST_RACE_RETRIES = (0.05, 0.2)  # pauses between tries of an outcome that lost a race
log = logging.getLogger(__name__)


def dial_outcome(dialstatus: str) -> Outcome:
    return DIAL_OUTCOMES.get(dialstatus.strip().upper(), Outcome.FAILED)


def _float(text: str) -> float:
    text = text.strip()
    return float(text) if text.replace(".", "", 1).isdigit() else 0.0


def _int(text: str) -> int:
    return int(_float(text))


def _since(read: Callable[[str], str], now: float) -> int | None:
    connected_at = _float(read(CONNECTED_AT))
    return max(0, round(now - connected_at)) if connected_at else None


def leg_outcome(role: str, read: Callable[[str], str], now: float) -> tuple[Outcome | None, int, str | None]:
    """(outcome or None, talk seconds, agent) of a leg from its channel variables.

    Talk time is the time the customer was connected to the agent: from the moment the customer's
    channel answered (agent-first) or the agent's whisper ended (customer-first), noted by the dialplan
    in QCB_CONNECTED_AT. Without it (a dialplan rendered by an older version) the old readings remain.
    """
    agent = read("MEMBERINTERFACE") or None
    if role == "agent":
        if read("QCB_ACCEPT") == "1" and read(ACCEPTED) != "1":
            return Outcome.NO_AGENT, 0, agent  # agent acceptance: no agent pressed 1, nobody was dialled
        return (None if agent else Outcome.NO_AGENT), 0, agent
    if role == "customer":
        if read(UNREACHED) == "1":  # a Local channel answered by the route's dialplan, not the customer
            return Outcome.FAILED, 0, None
        outcome = dial_outcome(read("DIALSTATUS"))
        if outcome is not Outcome.ANSWERED:
            return outcome, 0, None
        talk = _since(read, now)
        return outcome, talk if talk is not None else _int(read("ANSWEREDTIME")), None
    if role == "dial":
        outcome = dial_outcome(read("DIALSTATUS"))
        return (None if outcome is Outcome.ANSWERED else outcome), 0, None
    if role == "greet":
        if read("QCB_PRESSED") != "1":
            return Outcome.NO_ANSWER, 0, None
        if not agent:
            return Outcome.FAILED, 0, None
        talk = _since(read, now)
        if talk is None:
            answered_at = _int(read("QCB_ANSWERED_AT"))
            talk = max(0, int(now) - answered_at) if answered_at else 0
        return Outcome.ANSWERED, talk, agent
    raise ValueError(f"unknown leg role {role!r} (one of {', '.join(ROLES)})")


def handle_outcome(
    channel: Channel, service: Callable[[], CallbackService], role: str, journal: Journal | None = None
) -> Outcome | None:
    request_id, attempt_no = _int(channel.variable("QCB_REQUEST")), _int(channel.variable("QCB_TRY"))
    if not request_id or not attempt_no:
        return None  # not a callback leg
    if role == "connect":
        try:
            go = service().may_dial_customer(request_id, attempt_no)
        except StoreUnavailable:
            go = True  # cannot know: the caller was promised a callback
        channel.set_variable("QCB_GO", "1" if go else "0")
        return None if go else Outcome.CANCELLED
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
