"""The company's half of `make demo`: a free agent is rung first (and hears the whisper), then the
customer is rung with the DID as caller ID, and the request ends done. Steps are (time, name, words)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from freepbx_callback.ami import Ami, AmiConfig
from freepbx_callback.config import Dsn
from freepbx_callback.dialer import Dialer, DialerConfig
from freepbx_callback.journal import Journal
from freepbx_callback.loop import DialerLoop
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from freepbx_callback.wake import Waker
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.sipp import SipMessage, Uas, pjsip_peer

DIALER_STORY = ("agent rung", "whisper", "customer rung", "done")
WHISPER_DIGITS = re.compile(r'qcb-callback-whisper:\d+\] SayDigits\("[^"]+", "(\d+)"')
AGENT = "agent"


def add_phones(bed: AsteriskInstance, queue: str) -> tuple[Uas, Uas]:
    """Before start: an agent phone (member of ``queue``) and the customer's phone behind a 'trunk'."""
    agent = Uas(bed, "answer", ring_s=1.0)
    customer = Uas(bed, "answer", ring_s=1.5, hangup_after_s=6)
    bed.pjsip_extra += pjsip_peer(AGENT, agent.port) + pjsip_peer("trunk", customer.port)
    bed.queues = bed.queues.replace(f"[{queue}]\n", f"[{queue}]\nmember => PJSIP/{AGENT}\n", 1)
    return agent, customer


def pause_agent(bed: AsteriskInstance, paused: bool) -> None:
    state = "true" if paused else "false"
    bed.ami_action({"Action": "QueuePause", "Interface": f"PJSIP/{AGENT}", "Paused": state})


@contextmanager
def running_dialer(bed: AsteriskInstance, dsn: str, spool: Path) -> Iterator[Dialer]:
    """The dialer loop of `freepbx-callback serve`, in a thread, against this Asterisk."""
    ami = AmiConfig.parse(bed.ami_dsn)
    dialer = Dialer(
        lambda: CallbackService(Store.connect(Dsn.parse(dsn))),
        lambda: Ami(ami),
        Journal(spool),
        DialerConfig(node="demo", dial_template="PJSIP/{number}@trunk", ring_timeout=15),
    )
    stop, wake = threading.Event(), Waker()
    thread = threading.Thread(target=DialerLoop(dialer, 1.0).run, args=(stop, wake), daemon=True)
    thread.start()
    try:
        yield dialer
    finally:
        stop.set()
        wake.set()
        thread.join(timeout=10)
        wake.close()


def _at(message: SipMessage) -> datetime:
    return datetime.fromisoformat(message.stamp or "").astimezone(UTC).replace(tzinfo=None)


def phone_steps(agent: Uas, customer: Uas) -> list[tuple[datetime, str, str]]:
    steps = []
    for invite in agent.invites()[:1]:
        words = f"agent's phone rang, showing the customer: {invite.header('From')}"
        steps.append((_at(invite), "agent rung", words))
    for invite in customer.invites()[:1]:
        words = f"customer's phone rang, showing the company's number: {invite.header('From')}"
        steps.append((_at(invite), "customer rung", words))
    return steps


def whisper_steps(lines: list[tuple[datetime, str]]) -> list[tuple[datetime, str, str]]:
    """The agent's whisper, from Asterisk's log: the prompt, then the digits read out."""
    for at, text in lines:
        match = WHISPER_DIGITS.search(text)
        if match:
            digits = " ".join(match.group(1))
            return [(at, "whisper", f'agent heard "callback for {digits}" before being connected')]
    return []
