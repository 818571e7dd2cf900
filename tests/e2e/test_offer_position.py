"""Position and estimated wait in the offer, on a real Asterisk with real callers (SIPp).

Queue 400 is written the way FreePBX 17 writes a queue whose own position announcement is off (its
announce keys first: frequency 0, the position sounds replaced by silence/1), then the rendered
`[400](+)` lines. With `--announce-position` the third caller in line hears "you are caller number 3 ...
the estimated hold time is 1 minute ... thank you for your patience" from app_queue itself (the queue's
own figures, the caller's language), right before each offer, then presses 1 and the request is
stored with position 3. With the setting off nothing but the offer is played.

app_queue's estimate is the queue's average hold time (of answered callers) less the time this caller
has waited, said in whole minutes; a queue that never answered anyone has none to say. So the test
first lets one caller wait about 35 s before the agent answers: the queue's hold time becomes that.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator

import pytest

from tests.testbed import demo, demo_dialer
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.demo import CALLER, QUEUE
from tests.testbed.sipp import Caller, Uas, pjsip_peer
from tests.testbed.wait import wait_for

pytestmark = pytest.mark.e2e
NewBed = Callable[..., AsteriskInstance]

# FreePBX 17's queues module for a queue with "announce position: no" (geters_seters.php), then ours.
QUEUES_CONF = f"""
[{QUEUE}]
strategy=ringall
context=
periodic-announce-frequency=0
announce-frequency=0
min-announce-frequency=15
announce-holdtime=no
announce-position=no
queue-youarenext=silence/1
queue-thereare=silence/1
queue-callswaiting=silence/1
joinempty=yes
leavewhenempty=no
member => PJSIP/{demo_dialer.AGENT}

#include queues_qcb.conf
"""
WARM_UP_S = 33  # the first caller waits at least this long: the queue's hold time, an estimate of a minute
PRESS_AT_S = 32.0  # the third caller's 1: in or after the second offer (about 27-34 s after joining)
_PLAYING = re.compile(
    r"<(?P<channel>[^>]+)> Playing '(?P<sound>[^']+?)\.[a-z0-9]+' \(language '(?P<lang>\w+)'\)"
)


def position_bed(new: NewBed, dsn: str, language: str) -> tuple[AsteriskInstance, Uas]:
    """The bed with one agent (a SIPp phone that answers and hangs up after a second), paused."""
    bed = new(
        start=False,
        queues=QUEUES_CONF,
        extensions=demo.EXTENSIONS_CONF,
        caller_context=demo.CALLER_CONTEXT,
        caller_language=language,  # the PBX gave the caller's channel this language
        env={"QCB_DSN": dsn},
    )
    agent = Uas(bed, "answer", ring_s=0.5, hangup_after_s=1)
    bed.pjsip_extra += pjsip_peer(demo_dialer.AGENT, agent.port)
    demo.render_dialplan(dsn, bed.etc, str(bed.agi_dir))
    bed.start()
    agent.start()
    demo_dialer.pause_agent(bed, True)
    return bed, agent


def queue_holdtime(bed: AsteriskInstance) -> int:
    reply = bed.ami_action({"Action": "QueueStatus", "Queue": QUEUE})
    [params] = [m for m in reply if m.get("Event") == "QueueParams"]
    return int(params["Holdtime"])


def warm_up(bed: AsteriskInstance) -> None:
    """One caller waits WARM_UP_S while the agent is away, then the agent answers: the queue's hold time."""
    with Caller(bed, QUEUE, [], hold_s=WARM_UP_S + 40, caller_id="2015550100") as first:
        wait_for(lambda: len(demo.waiting_callers(bed)) == 1, 15, 0.2, "the first caller in the queue")
        time.sleep(WARM_UP_S)
        demo_dialer.pause_agent(bed, False)
        wait_for(lambda: not first.running(), 30, 0.2, "the agent answered the first caller and hung up")
    demo_dialer.pause_agent(bed, True)
    held = queue_holdtime(bed)
    assert held >= 30, f"the queue's hold time is {held} s: too short for an estimate of a minute"


def sounds_of(bed: AsteriskInstance, channel: str) -> list[tuple[str, str]]:
    """(sound, language) of every play on ``channel``, in order."""
    out = []
    for line in demo.log_lines(bed):
        match = _PLAYING.search(line.text)
        if match and match["channel"] == channel:
            out.append((match["sound"], match["lang"]))
    return out


def sounds_before_the_1(bed: AsteriskInstance, channel: str) -> list[tuple[str, str]]:
    """Plays on ``channel`` that started before its 1 was received."""
    [pressed] = [k for k in demo.keys_received(bed, "1") if channel in k.text]
    out = []
    for line in demo.log_lines(bed):
        match = _PLAYING.search(line.text)
        if match and match["channel"] == channel and line.at <= pressed.at:
            out.append((match["sound"], match["lang"]))
    return out


@contextlib.contextmanager
def callers_in_line(
    bed: AsteriskInstance, third_keys: list[tuple[float, str]]
) -> Iterator[tuple[str, Caller]]:
    """Two callers wait; a third joins behind them (position 3): its channel and its SIPp run. The two
    ahead hang up when the block ends."""
    with contextlib.ExitStack() as ahead:
        for n, number in enumerate(("2015550101", "2015550102"), start=1):
            ahead.enter_context(Caller(bed, QUEUE, [], hold_s=90, caller_id=number))
            wait_for(lambda n=n: len(demo.waiting_callers(bed)) == n, 15, 0.2, f"caller {n} in the queue")
        with Caller(bed, QUEUE, third_keys, hold_s=30, caller_id=CALLER) as third:
            joined = bed.ami.wait_event(
                lambda e: e.get("Event") == "QueueCallerJoin" and e.get("Position") == "3", timeout=15
            )
            yield joined["Channel"], third


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_third_caller_hears_position_3_and_the_wait_before_each_offer_then_presses_1(
    asterisk: NewBed, db_dsn: str, language: str
) -> None:
    demo.enable_queue(db_dsn, "--language", language, "--announce-position")
    bed, agent = position_bed(asterisk, db_dsn, language)
    with agent:
        warm_up(bed)
        with callers_in_line(bed, [(PRESS_AT_S, "1")]) as (channel, third):
            call = third.wait()

    assert call.bye_received, call.summary()
    heard = sounds_before_the_1(bed, channel)
    names = [sound for sound, _ in heard]
    offers = [i for i, name in enumerate(names) if name == "qcb-offer"]
    assert len(offers) >= 2, f"the caller pressed 1 after the second offer; heard {names}"
    one = "digits/1n" if language == "ru" else "digits/1"  # Asterisk's Russian "one" for a minute
    first = names[: offers[0]]
    assert first == [
        "queue-thereare",
        "digits/3",
        "queue-callswaiting",
        "queue-holdtime",
        one,
        "queue-minute",
        "queue-thankyou",
    ], f"before the first offer: {names}"
    for previous, offer in zip(offers, offers[1:], strict=False):
        block = names[previous + 1 : offer]
        assert block[:3] == ["queue-thereare", "digits/3", "queue-callswaiting"], f"before an offer: {names}"
        assert block[-1] == "queue-thankyou", f"the position is said right before the offer: {names}"
    spoken = [(s, lang) for s, lang in heard if s.startswith(("queue-", "digits/", "qcb-offer"))]
    assert all(lang == language for _, lang in spoken), f"not all in {language}: {spoken}"
    assert f"Told {channel} in {QUEUE} their queue position (which was 3)" in bed.log_text()
    # the caller at the head of the line (announce-to-first-user): "your call is now first in line"
    heads = set(re.findall(rf"Told (\S+) in {QUEUE} their queue position \(which was 1\)", bed.log_text()))
    assert heads, "nobody at the head of the line was told"
    for head in heads:
        said = [sound for sound, _ in sounds_of(bed, head)]
        assert said[:3] == ["queue-youarenext", "queue-thankyou", "qcb-offer"], f"{head}: {said}"

    rows = wait_for(lambda: demo.requests(db_dsn), 10, message="the request row")
    assert [(r["queue"], r["number"], r["position"], r["status"]) for r in rows] == [
        (QUEUE, CALLER, 3, "pending")
    ], rows


def test_with_the_setting_off_only_the_offer_is_played(asterisk: NewBed, db_dsn: str) -> None:
    demo.enable_queue(db_dsn)
    bed, agent = position_bed(asterisk, db_dsn, "en")
    with agent, Caller(bed, QUEUE, [], hold_s=60, caller_id="2015550101"):
        wait_for(lambda: len(demo.waiting_callers(bed)) == 1, 15, 0.2, "the first caller in the queue")
        with Caller(bed, QUEUE, [(demo.PRESS_AFTER_S + 5, "1")], hold_s=30, caller_id=CALLER) as second:
            joined = bed.ami.wait_event(
                lambda e: e.get("Event") == "QueueCallerJoin" and e.get("Position") == "2", timeout=15
            )
            call = second.wait()

    assert call.bye_received, call.summary()
    heard = [sound for sound, _ in sounds_of(bed, joined["Channel"])]
    assert heard[:2] == ["qcb-offer", "qcb-offer"], heard
    extra = [line for line in bed.log_text().splitlines() if re.search(r"Playing '(queue-|digits/)", line)]
    assert extra == [], "\n".join(extra)
    assert "their queue position" not in bed.log_text()
    rows = wait_for(lambda: demo.requests(db_dsn), 10, message="the request row")
    assert [(r["number"], r["position"]) for r in rows] == [(CALLER, 2)], rows
