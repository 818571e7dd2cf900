"""The pure reports: queue_log lines of our events, percentiles, figures per queue and day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from freepbx_callback.reports import (
    EventRow,
    LoggedAttempt,
    RequestFigure,
    by_queue_and_day,
    percentile,
    queue_log_line,
)

T = datetime(2026, 12, 1, 9, 0, 0)


def row(event: str, detail: str = "", **kw: object) -> EventRow:
    base: dict[str, object] = dict(
        event_id=1,
        request_id=7,
        event=event,
        detail=detail,
        queue="400",
        number="2015550123",
        caller_uniqueid="1764579600.12",
        requested_at=T,
    )
    base.update(kw)
    return EventRow(**base)  # type: ignore[arg-type]


def test_request_line() -> None:
    line = queue_log_line(row("requested", "agi 2015550123", position=3, waited=95, source="agi"))
    assert line is not None
    assert (line.queue, line.event, line.uniqueid, line.interface) == (
        "400",
        "CALLBACKREQUEST",
        "1764579600.12",
        "NONE",
    )
    assert line.message == "7|2015550123|3|95|agi"


def test_a_request_without_a_call_is_named_by_its_id() -> None:
    line = queue_log_line(row("requested", caller_uniqueid=None, source="cli"))
    assert line is not None and line.uniqueid == "qcb-7" and line.message == "7|2015550123|||cli"


def test_attempt_line_names_the_try_and_skips_a_refused_originate() -> None:
    sent = (LoggedAttempt(1, originate="sent"), LoggedAttempt(2, originate="refused"))
    line = queue_log_line(row("claimed", "try 1 by node-a", attempt_list=sent))
    assert line is not None and (line.event, line.message) == ("CALLBACKATTEMPT", "7|2015550123|1")
    assert queue_log_line(row("claimed", "try 2 by node-a", attempt_list=sent)) is None


def test_answered_line_has_the_agent_the_wait_and_the_talk_time() -> None:
    answered = LoggedAttempt(2, agent="PJSIP/agent", ended_at=T + timedelta(seconds=400), talk_seconds=100)
    line = queue_log_line(row("done", "try 2: answered (agent PJSIP/agent)", attempt_list=(answered,)))
    assert line is not None
    assert (line.event, line.interface, line.message) == (
        "CALLBACKANSWERED",
        "PJSIP/agent",
        "7|2015550123|2|300|100",
    )


@pytest.mark.parametrize(("event", "name"), [("failed", "CALLBACKFAILED"), ("expired", "CALLBACKEXPIRED")])
def test_closing_lines(event: str, name: str) -> None:
    line = queue_log_line(row(event, "x", attempts=2, last_outcome="no_answer"))
    assert line is not None and (line.event, line.message) == (name, "7|2015550123|2|no_answer")


@pytest.mark.parametrize("event", ["note", "retry", "pending", "cancelled", "restored", "rescheduled"])
def test_other_events_make_no_line(event: str) -> None:
    assert queue_log_line(row(event, "try 1: no_answer")) is None


def test_no_field_can_add_a_field_or_a_line() -> None:
    line = queue_log_line(row("failed", attempts=1, last_outcome="a|b\nc", caller_uniqueid="x|y"))
    assert line is not None and line.message == "7|2015550123|1|a/b c" and line.uniqueid == "x/y"


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([60, 500, 180], 90) == 500
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 21)), 90) == 18


def test_by_queue_and_day() -> None:
    d1, d2 = date(2026, 12, 1), date(2026, 12, 2)
    figures = [
        RequestFigure("400", d1, "done", 10),
        RequestFigure("400", d1, "done", 30),
        RequestFigure("400", d1, "pending", 5),  # answered too briefly: no callback yet
        RequestFigure("400", d1, "expired"),
        RequestFigure("400", d2, "failed"),
        RequestFigure("300", d2, "dialing"),
    ]
    got = {(d.queue, d.day): d.to_dict() for d in by_queue_and_day(figures)}
    assert list(got) == [("300", d2), ("400", d1), ("400", d2)]
    first = got[("400", d1)]
    assert (first["accepted"], first["answered"], first["expired"], first["open"]) == (4, 2, 1, 1)
    assert (first["median_seconds_to_callback"], first["p90_seconds_to_callback"]) == (20.0, 30.0)
    assert got[("300", d2)]["open"] == 1 and got[("400", d2)]["failed"] == 1
