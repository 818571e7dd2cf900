"""Which OriginateResponse events prove an agent-first callback was never dialled (parser level)."""

from __future__ import annotations

from types import SimpleNamespace

from freepbx_callback.ami import Ami
from freepbx_callback.dialer import originate_failures


def kept(*events: dict[str, str]) -> Ami:
    return SimpleNamespace(events=list(events))  # type: ignore[return-value]


def response(result: str, channel: str, uniqueid: str) -> dict[str, str]:
    return {
        "Event": "OriginateResponse",
        "Response": result,
        "Channel": channel,
        "Uniqueid": uniqueid,
        "Reason": "0",
    }


def test_only_agent_first_failures_of_our_channels_count_and_are_consumed() -> None:
    other = {"Event": "QueueMemberStatus", "Queue": "400"}
    ami = kept(
        response("Failure", "Local/s@qcb-callback-agent-first/n", "qcb-7-1-abcdef"),
        response("Success", "Local/s@qcb-callback-agent-first-00000003;1", "qcb-8-1-123456"),
        response("Failure", "Local/s@qcb-callback-customer-first/n", "qcb-9-1-654321"),  # customer rang
        response("Failure", "Local/s@qcb-callback-agent-first/n", "<unknown>"),
        response("Failure", "PJSIP/201", "1700000000.5"),  # not ours
        other,
    )
    assert originate_failures(ami) == ["qcb-7-1-abcdef"]
    assert [e.get("Channel") for e in ami.events] == ["PJSIP/201", None]  # ours consumed
    assert originate_failures(ami) == []


def test_a_client_without_kept_events_gives_no_evidence() -> None:
    assert originate_failures(SimpleNamespace()) == []  # type: ignore[arg-type]
