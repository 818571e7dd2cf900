"""`queue set --hours/--timezone/--timegroup/--always-open`, and a request made out of hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.cli.test_cli import run


def test_hours_set_shown_and_cleared(db_dsn: str) -> None:
    shown = json.loads(
        run(
            db_dsn,
            "queue", "set", "400", "--enable",
            "--hours", "mon-fri 09:00-17:00", "--hours", "sat 10:00-14:00",
            "--timezone", "Europe/Moscow", "--json",
        ).output
    )  # fmt: skip
    assert shown["hours"] == ["mon-fri 09:00-17:00", "sat 10:00-14:00"]
    assert shown["timezone"] == "Europe/Moscow" and shown["timegroup"] is None
    text = run(db_dsn, "queue", "show", "400").output
    assert "mon-fri 09:00-17:00" in text and "Europe/Moscow" in text
    bad = run(db_dsn, "queue", "set", "400", "--hours", "weekdays 9-5")
    assert bad.exit_code != 0 and "weekdays 9-5" in bad.output
    cleared = json.loads(run(db_dsn, "queue", "set", "400", "--always-open", "--json").output)
    assert cleared["hours"] == [] and cleared["timegroup"] is None


def test_request_made_out_of_hours_is_due_at_the_opening(db_dsn: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    opens = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    closes = opens + timedelta(hours=1)
    rule = f"{opens:%H:%M}-{closes:%H:%M}"
    assert run(db_dsn, "queue", "set", "400", "--enable", "--hours", rule).exit_code == 0
    run(db_dsn, "request", "add", "400", "2015551234")
    [item] = json.loads(run(db_dsn, "request", "list", "--json").output)
    assert item["next_attempt_at"] == opens.isoformat(timespec="seconds") + "Z"


def test_time_groups_listed_and_chosen(db_dsn: str) -> None:
    from freepbx_callback.config import Dsn
    from freepbx_callback.store import Store

    assert json.loads(run(db_dsn, "queue", "time-groups", "--json").output) == []  # no FreePBX
    store = Store.connect(Dsn.parse(db_dsn))
    store._run("CREATE TABLE timegroups_groups (id INT AUTO_INCREMENT PRIMARY KEY, description VARCHAR(50))")
    store._run(
        "CREATE TABLE timegroups_details (id INT AUTO_INCREMENT PRIMARY KEY, timegroupid INT, "
        "time VARCHAR(100))"
    )
    store._run("INSERT INTO timegroups_groups (id, description) VALUES (3, 'Office')")
    store._run("INSERT INTO timegroups_details (timegroupid, time) VALUES (3, '09:00-17:00|mon-fri|*|*')")
    assert json.loads(run(db_dsn, "queue", "time-groups", "--json").output) == [
        {"id": 3, "description": "Office", "times": ["09:00-17:00|mon-fri|*|*"]}
    ]
    shown = json.loads(
        run(db_dsn, "queue", "set", "400", "--clear-hours", "--timegroup", "3", "--json").output
    )
    assert shown["timegroup"] == 3 and shown["hours"] == []
    shown = json.loads(
        run(db_dsn, "queue", "set", "400", "--no-timegroup", "--hours", "10:00-11:00", "--json").output
    )
    assert shown["timegroup"] is None and shown["hours"] == ["10:00-11:00"]
    refused = run(db_dsn, "queue", "set", "400", "--always-open", "--timegroup", "3")
    assert refused.exit_code == 2
