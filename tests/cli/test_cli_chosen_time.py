"""`request add --when`, `request reschedule --at/--in`, `queue set --offer-times`: shown by list/show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.cli.test_cli import run


def _due(db_dsn: str, request_id: int) -> datetime:
    text = json.loads(run(db_dsn, "request", "show", str(request_id), "--json").output)["next_attempt_at"]
    return datetime.fromisoformat(text.removesuffix("Z"))


def test_chosen_time_shown_and_rescheduled(db_dsn: str) -> None:
    shown = json.loads(run(db_dsn, "queue", "set", "400", "--enable", "--offer-times", "--json").output)
    assert shown["offer_times"] is True
    before = datetime.now(UTC).replace(tzinfo=None)
    added = json.loads(run(db_dsn, "request", "add", "400", "2015551234", "--when", "hour", "--json").output)
    rid = added["request"]["id"]
    assert timedelta(minutes=59) < _due(db_dsn, rid) - before < timedelta(minutes=61)
    [listed] = json.loads(run(db_dsn, "request", "list", "--json").output)
    assert listed["next_attempt_at"] == added["request"]["next_attempt_at"]

    moved = run(db_dsn, "request", "reschedule", str(rid), "--in", "3h")
    assert moved.exit_code == 0 and "due" in moved.output, moved.output
    assert timedelta(minutes=179) < _due(db_dsn, rid) - before < timedelta(minutes=182)

    run(db_dsn, "queue", "set", "400", "--timezone", "Europe/Moscow")
    day = (before + timedelta(days=2)).date()
    assert run(db_dsn, "request", "reschedule", str(rid), "--at", f"{day} 10:30").exit_code == 0
    assert _due(db_dsn, rid) == datetime.combine(day, datetime.min.time()) + timedelta(hours=7, minutes=30)
    assert run(db_dsn, "request", "reschedule", str(rid), "--at", f"{day}T08:00:00Z").exit_code == 0
    assert _due(db_dsn, rid) == datetime.combine(day, datetime.min.time()) + timedelta(hours=8)
    events = json.loads(run(db_dsn, "request", "show", str(rid), "--json").output)["events"]
    assert [e["event"] for e in events].count("rescheduled") == 3

    assert run(db_dsn, "request", "reschedule", str(rid)).exit_code == 2
    assert run(db_dsn, "request", "reschedule", str(rid), "--at", "tomorrow").exit_code == 2
