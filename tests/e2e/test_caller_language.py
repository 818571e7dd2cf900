"""The caller's language on plain Asterisk: the admin's dialplan enters the queue through the rendered
``qcb-queue-<Q>`` context, which gives the caller the queue's language unless the channel already has
another one. Every prompt of the request then plays in it, the row stores it, and the callback speaks it
to the customer, while the agent hears the whisper in the agent's own language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.dialplan.render import render
from freepbx_callback.models import Mode, Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed, PressingUas
from tests.testbed.sipp import Uas, call_and_press, pjsip_peer
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]

QUEUES = """
[400]
strategy = ringall
timeout = 15
retry = 1
joinempty = yes
leavewhenempty = no
ringinuse = no
context =
periodic-announce-frequency = 0
{members}
#include queues_qcb.conf
"""

# the admin's own dialplan: it enters the queue through the rendered context instead of Queue(400)
EXTENSIONS = """
[qcb-test-in]
exten => 400,1,Answer()
 same => n,Goto(qcb-queue-400,s,1)

#include extensions_qcb.conf
"""


def _bed(bed: AsteriskInstance, service: CallbackService, members: str = "") -> AsteriskInstance:
    bed.queues = QUEUES.format(members=members)
    bed.extensions = EXTENSIONS
    render(service.queues(), "asterisk", str(bed.agi_dir)).write(bed.etc)
    return bed.start()


def _plays(bed: AsteriskInstance, prompt: str, channel_prefix: str = "") -> list[str]:
    """The languages ``prompt`` was played in (Asterisk's "Playing 'x.slin' (language 'ru')"), in order."""
    out = []
    for line in bed.log_text().splitlines():
        if f"Playing '{prompt}." in line and f"<{channel_prefix}" in line:
            match = re.search(r"\(language '([^']+)'\)", line)
            out.append(match.group(1) if match else "?")
    return out


def test_a_russian_queue_plays_russian_and_stores_ru(
    asterisk: Factory, dsn: Dsn, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True, did="5551000", offer_every=5, language="ru")
    bed = _bed(asterisk(start=False, env={"QCB_DSN": dsn.url()}), service)

    call = call_and_press(bed, "400", dtmf_after_s=7, hold_s=30, caller_id="2015551234")

    assert call.bye_received, call.summary()
    [request] = service.list()
    assert request.language == "ru"
    assert _plays(bed, "qcb-offer", "PJSIP/sipp-caller") == ["ru"]
    assert _plays(bed, "qcb-accepted", "PJSIP/sipp-caller") == ["ru"]


def test_a_channel_language_set_by_the_pbx_wins_over_the_queue(
    asterisk: Factory, dsn: Dsn, service: CallbackService
) -> None:
    service.set_queue("400", enabled=True, did="5551000", offer_every=5, language="en")
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()}, caller_language="ru")
    _bed(bed, service)

    call = call_and_press(bed, "400", dtmf_after_s=7, hold_s=30, caller_id="2015551234")

    assert call.bye_received, call.summary()
    [request] = service.list()
    assert request.language == "ru"
    assert _plays(bed, "qcb-offer", "PJSIP/sipp-caller") == ["ru"]
    assert _plays(bed, "qcb-accepted", "PJSIP/sipp-caller") == ["ru"]


def test_the_callback_greets_in_the_callers_language_and_whispers_in_the_agents(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """Customer-first on a Russian queue: the customer hears the greeting and "press 1" in Russian;
    the agent, whose phone is English (endpoint language=en), hears "callback for" in English."""
    service.set_queue(
        "400", enabled=True, did="5551000", offer_every=5, language="ru", mode=Mode.CUSTOMER_FIRST, min_talk=1
    )
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.5, hangup_after_s=6)
    customer = PressingUas(bed, press_after_s=6.5)
    bed.pjsip_extra = pjsip_peer("agent", agent.port) + "language = en\n" + pjsip_peer("trunk", customer.port)
    _bed(bed, service, members="member => PJSIP/agent")
    with agent, customer:
        bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "true"})
        call = call_and_press(bed, "400", dtmf_after_s=7, hold_s=30, caller_id="2015551234")
        assert call.bye_received, call.summary()
        [request] = service.list()
        assert request.language == "ru"
        bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "false"})
        dialer = CallbackBed(bed, dsn).dialer(tmp_path / "spool")
        assert dialer.tick().dialled == [request.id]
        wait_for(lambda: service.get(request.id).status is Status.DONE, 60, 0.2, "the callback done")

    assert _plays(bed, "qcb-customer-intro") == ["ru"]
    assert _plays(bed, "qcb-press-1-to-connect") == ["ru"]
    assert _plays(bed, "qcb-callback-for", "PJSIP/agent") == ["en"]
