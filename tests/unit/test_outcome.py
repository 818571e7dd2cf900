"""What the outcome handler makes of a leg's channel variables (read from a dict here; the real legs are
driven in tests/e2e/test_talk_time.py and tests/e2e/test_cancel.py)."""

from __future__ import annotations

from freepbx_callback.agi.outcome import leg_outcome
from freepbx_callback.models import CONNECTED_AT, UNREACHED, Outcome

NOW = 1_800_000_100.0


def read(values: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda name: values.get(name, "")


def test_customer_leg_counts_from_the_customers_answer_not_the_channels() -> None:
    leg = {"DIALSTATUS": "ANSWER", "ANSWEREDTIME": "11", CONNECTED_AT: f"{NOW - 1.2:.3f}"}
    assert leg_outcome("customer", read(leg), NOW) == (Outcome.ANSWERED, 1, None)


def test_customer_leg_of_an_older_dialplan_keeps_answeredtime() -> None:
    assert leg_outcome("customer", read({"DIALSTATUS": "ANSWER", "ANSWEREDTIME": "11"}), NOW)[1] == 11


def test_customer_first_counts_from_the_agent_not_the_greeting() -> None:
    leg = {
        "QCB_PRESSED": "1",
        "MEMBERINTERFACE": "PJSIP/agent",
        "QCB_ANSWERED_AT": str(int(NOW - 20)),
        CONNECTED_AT: f"{NOW - 4.4:.3f}",
    }
    assert leg_outcome("greet", read(leg), NOW) == (Outcome.ANSWERED, 4, "PJSIP/agent")


def test_unanswered_customer_leg_has_no_talk_time() -> None:
    assert leg_outcome("customer", read({"DIALSTATUS": "NOANSWER"}), NOW) == (Outcome.NO_ANSWER, 0, None)


def test_customer_leg_answered_by_a_failing_route_is_failed() -> None:
    leg = {"DIALSTATUS": "ANSWER", "ANSWEREDTIME": "14", UNREACHED: "1"}
    assert leg_outcome("customer", read(leg), NOW) == (Outcome.FAILED, 0, None)
