"""Agent acceptance, pure parts: which queues ask the agent, the rendered dialplan on both targets, and
what the queue leg's hangup handler makes of a try the agent did not accept. The calls themselves are
driven in tests/e2e/test_agent_accept.py."""

from __future__ import annotations

import re

import pytest

from freepbx_callback import policy
from freepbx_callback.agi.outcome import leg_outcome
from freepbx_callback.dialplan.render import render
from freepbx_callback.models import Mode, Outcome, QueueSettings

AGENT_FIRST = QueueSettings("400", enabled=True, did="5551000")
CUSTOMER_FIRST = QueueSettings("401", enabled=True, mode=Mode.CUSTOMER_FIRST)
DISABLED = QueueSettings("402")
QUEUES = [AGENT_FIRST, CUSTOMER_FIRST, DISABLED]
NOW = 1_800_000_100.0


def _context(text: str, name: str) -> list[str]:
    match = re.search(rf"^\[{re.escape(name)}\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    assert match, f"no [{name}]"
    return [
        line.strip() for line in match.group(1).splitlines() if line.strip().startswith(("exten", "same"))
    ]


def read(values: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda name: values.get(name, "")


def test_only_an_enabled_agent_first_queue_with_the_switch_asks_the_agent() -> None:
    assert policy.asks_agent(AGENT_FIRST, True)
    assert not policy.asks_agent(AGENT_FIRST, False)
    assert not policy.asks_agent(CUSTOMER_FIRST, True)  # the customer is already on the line
    assert not policy.asks_agent(DISABLED, True)


@pytest.mark.parametrize("target", ["asterisk", "freepbx"])
@pytest.mark.parametrize("accept", [(), ("401", "402"), ("999",)])
def test_without_an_accepting_queue_the_dialplan_is_unchanged(target: str, accept: tuple[str, ...]) -> None:
    plain = render(QUEUES, target, "agi://127.0.0.1:4577", "22", "/var/lib/asterisk/agi-bin")
    other = render(QUEUES, target, "agi://127.0.0.1:4577", "22", "/var/lib/asterisk/agi-bin", accept=accept)
    assert other == plain
    assert "QCB_ACCEPT" not in plain.extensions and "qcb-callback-accept" not in plain.extensions


@pytest.mark.parametrize("target", ["asterisk", "freepbx"])
@pytest.mark.parametrize("version", ["18", "22"])
def test_an_accepting_queue_gets_the_press_1_gate(target: str, version: str) -> None:
    text = render(QUEUES, target, "/var/lib/asterisk/agi-bin", version, accept=("400",)).extensions
    plain = render(QUEUES, target, "/var/lib/asterisk/agi-bin", version).extensions
    # The queue leg names itself for the agent's channel (inherited), before it enters the queue.
    queue_leg = _context(text, "qcb-callback-agent-first")
    named = queue_leg.index("same => n,Set(__QCB_QUEUE_LEG=${CHANNEL})")
    assert named < next(i for i, line in enumerate(queue_leg) if "Queue(${QCB_QUEUE}" in line)
    assert _context(plain, "qcb-callback-agent-first") == [
        line for i, line in enumerate(queue_leg) if i != named
    ]
    # The whisper's gosub (same Queue() line, same slot per version) hands accepting callbacks over.
    whisper = _context(text, "qcb-callback-whisper")
    assert whisper[0] == 'exten => s,1,GotoIf($["${QCB_ACCEPT}" = "1"]?qcb-callback-accept,s,1)'
    assert (
        whisper[1:]
        == ["same => n," + _context(plain, "qcb-callback-whisper")[0].split(",", 2)[2]]
        + (_context(plain, "qcb-callback-whisper")[1:])
    )
    accept = _context(text, "qcb-callback-accept")
    joined = "\n".join(accept)
    assert "Playback(${QCB_PROMPT_CALLBACK_FOR})" in joined and "SayDigits(${QCB_NUMBER})" in joined
    read_line = next(line for line in accept if "Read(" in line)
    assert read_line.endswith(f"Read(QCB_ACCEPT_KEY,qcb-agent-accept,1,,1,{policy.ACCEPT_SECONDS})")
    assert policy.ACCEPT_SECONDS == 10
    assert 'GotoIf($["${QCB_ACCEPT_KEY}" != "1"]?declined)' in joined
    # Accepted: noted on both halves of the callback's Local channel, then back to Queue().
    assert "Set(SHARED(QCB_ACCEPTED,${QCB_QUEUE_LEG})=1)" in joined
    assert "Set(SHARED(QCB_ACCEPTED,${CUT(QCB_QUEUE_LEG,\\;,1)}\\;1)=1)" in joined
    # Not accepted: the queue leg is hung up before Queue() answers it, then the agent's leg.
    declined = accept.index(next(line for line in accept if line.startswith("same => n(declined)")))
    assert accept[declined + 1 :] == ["same => n,SoftHangup(${QCB_QUEUE_LEG})", "same => n,Hangup()"]
    # A Local member (FreePBX's Local/<ext>@from-queue) hears it in its phone's language, as the whisper.
    assert "IMPORT(${QCB_AGENT_PHONE},CHANNEL(language))" in joined
    # The customer is dialled only after the 1: the check comes before anything else on that half.
    customer = _context(text, "qcb-callback-customer")
    assert (
        customer[1]
        == 'same => n,GotoIf($["${QCB_ACCEPT}" = "1" & "${SHARED(QCB_ACCEPTED)}" != "1"]?declined)'
    )
    assert customer.index(next(line for line in customer if "Dial(${QCB_DIAL}" in line)) < customer.index(
        next(line for line in customer if line.startswith("same => n(declined)"))
    )
    assert customer[-1] == "same => n,Hangup()"
    # Customer-first is untouched.
    for name in ("qcb-callback-customer-first", "qcb-callback-greet"):
        assert _context(text, name) == _context(plain, name)


def test_queue_leg_of_a_try_the_agent_did_not_accept_does_not_count() -> None:
    took = {"MEMBERINTERFACE": "PJSIP/agent"}
    assert leg_outcome("agent", read(took), NOW) == (None, 0, "PJSIP/agent")  # switch off: as before
    asked = {**took, "QCB_ACCEPT": "1"}
    assert leg_outcome("agent", read(asked), NOW) == (Outcome.NO_AGENT, 0, "PJSIP/agent")
    accepted = {**asked, "SHARED(QCB_ACCEPTED)": "1"}
    assert leg_outcome("agent", read(accepted), NOW) == (None, 0, "PJSIP/agent")
    assert leg_outcome("agent", read({"QCB_ACCEPT": "1"}), NOW) == (Outcome.NO_AGENT, 0, None)
    assert not Outcome.NO_AGENT.counted
