"""`backup --json` and `restore FILE` through the CLI, against the real database (two of them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from freepbx_callback.models import Outcome
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store


def run(dsn: str, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--dsn", dsn, *args], input=stdin, catch_exceptions=False)


def ok(dsn: str, *args: str, stdin: str | None = None) -> str:
    result = run(dsn, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def service_for(url: str) -> CallbackService:
    return CallbackService(Store.connect(Dsn.parse(url)))


def rows(url: str) -> list[dict[str, Any]]:
    return json.loads(ok(url, "request", "list", "--json"))


def queues(url: str) -> list[dict[str, Any]]:
    return json.loads(ok(url, "queue", "list", "--json"))


def populate(url: str) -> dict[str, int]:
    """Two queues; in 400 one pending, one dialing (after a no-answer), one done; in 500 one pending."""
    ok(url, "queue", "set", "400", "--enable", "--did", "5551000", "--attempts", "3", "--block", "_900X.")
    ok(url, "queue", "set", "400", "--prompt", "offer=custom/our-offer", "--language", "ru")
    ok(url, "queue", "set", "500", "--disable", "--mode", "customer-first", "--max-pending", "7")
    svc = service_for(url)
    try:
        ids = {}
        for name, number in (("dialing", "2015552222"), ("done", "2015553333"), ("pending", "2015551111")):
            result = svc.request(
                "400", number, uniqueid=f"1764.{number}", position=2, waited=40, source="agi"
            )
            assert result.request is not None
            ids[name] = result.request.id
        [(_, first)] = svc.claim("400", 1, "n1")  # the oldest: "dialing"
        svc.record_outcome(ids["dialing"], first.attempt_no, Outcome.NO_ANSWER)
        due_again = svc.get(ids["dialing"]).requested_at  # due again, and first in line
        svc.store.update_request(ids["dialing"], None, next_attempt_at=due_again)
        claimed = {r.id: a for r, a in svc.claim("400", 2, "n1")}
        assert set(claimed) == {ids["dialing"], ids["done"]}
        svc.record_outcome(ids["done"], claimed[ids["done"]].attempt_no, Outcome.ANSWERED, talk_seconds=30)
        svc.set_queue("500", enabled=True)
        ids["other"] = svc.request("500", "2015554444", source="cli").request.id  # type: ignore[union-attr]
        svc.set_queue("500", enabled=False)
        return ids
    finally:
        svc.store.close()


def test_backup_holds_every_queue_and_every_open_request(db_dsn: str) -> None:
    ids = populate(db_dsn)
    doc = json.loads(ok(db_dsn, "backup", "--json"))
    assert set(doc) == {"version", "queues", "requests"} and doc["version"] == 1
    assert doc["queues"] == [json.loads(ok(db_dsn, "queue", "show", q, "--json")) for q in ("400", "500")]
    shown = {r["id"]: r for r in rows(db_dsn)}
    assert [r["id"] for r in doc["requests"]] == sorted([ids["pending"], ids["dialing"], ids["other"]])
    for item in doc["requests"]:
        assert item == shown[item["id"]], "each request with all its fields"
    dialing = next(r for r in doc["requests"] if r["id"] == ids["dialing"])
    assert (dialing["status"], dialing["attempts"], dialing["claimed_by"]) == ("dialing", 1, "n1")


def test_restore_into_an_empty_database_then_again_changes_nothing(
    db_dsn: str, other_db: str, tmp_path: Path
) -> None:
    ids = populate(db_dsn)
    file = tmp_path / "backup.json"
    file.write_text(ok(db_dsn, "backup", "--json"))

    first = json.loads(ok(other_db, "restore", str(file), "--json"))
    assert (first["queues"], len(first["created"]), first["already_open"], first["already_stored"]) == (
        2,
        3,
        0,
        0,
    )
    assert queues(other_db) == queues(db_dsn), "queue settings come back exactly"
    source = {(r["queue"], r["number"]): r for r in rows(db_dsn)}
    restored = rows(other_db)
    assert sorted((r["queue"], r["number"]) for r in restored) == [
        ("400", "2015551111"),
        ("400", "2015552222"),
        ("500", "2015554444"),
    ]
    for row in restored:
        before = source[(row["queue"], row["number"])]
        assert row["status"] == "pending", "a call being placed at backup time comes back as pending"
        same = ("did", "e164", "language", "attempts", "caller_uniqueid", "position", "waited", "source")
        assert {k: row[k] for k in same} == {k: before[k] for k in same}
        assert (row["requested_at"], row["next_attempt_at"]) == (
            before["requested_at"],
            before["next_attempt_at"],
        )
        assert row["claimed_by"] is None and row["lease_until"] is None
    events = json.loads(ok(other_db, "request", "show", str(first["created"][0]), "--json"))["events"]
    assert [e["event"] for e in events] == ["restored"]
    was_dialing = next(r for r in restored if r["number"] == "2015552222")
    shown = json.loads(ok(other_db, "request", "show", str(was_dialing["id"]), "--json"))
    assert f"request {ids['dialing']} (was dialing)" in shown["events"][0]["detail"]

    second = run(other_db, "restore", str(file))
    assert second.exit_code == 0 and "re-created 0 open request(s)" in second.output, second.output
    assert "skipped 3 already open" in second.output
    assert rows(other_db) == restored and queues(other_db) == queues(db_dsn)


def test_restore_from_stdin_onto_the_same_database_brings_back_nothing_finished(db_dsn: str) -> None:
    ids = populate(db_dsn)
    backup = ok(db_dsn, "backup")
    ok(db_dsn, "request", "cancel", str(ids["pending"]))  # handled since the backup was made
    ok(db_dsn, "queue", "set", "400", "--attempts", "1")  # a setting changed since

    out = ok(db_dsn, "restore", "-", stdin=backup)

    assert (
        "restored 2 queue(s); re-created 0 open request(s); skipped 2 already open, 1 already stored" in out
    )
    assert json.loads(ok(db_dsn, "request", "show", str(ids["pending"]), "--json"))["status"] == "cancelled"
    assert json.loads(ok(db_dsn, "queue", "show", "400", "--json"))["attempts"] == 3, "settings are upserted"


def test_restored_request_without_a_call_id_is_matched_by_number_and_time(db_dsn: str) -> None:
    ok(db_dsn, "queue", "set", "400", "--enable")
    ok(db_dsn, "request", "add", "400", "2015551111")  # from the CLI: no caller uniqueid
    backup = ok(db_dsn, "backup")
    ok(db_dsn, "request", "cancel", "1")
    assert "re-created 0 open request(s); skipped 0 already open, 1 already stored" in ok(
        db_dsn, "restore", "-", stdin=backup
    )
    ok(db_dsn, "request", "add", "400", "2015552222")
    later = json.loads(backup)
    later["requests"][0]["requested_at"] = "2030-01-01T00:00:00Z"  # another request for that number
    assert "re-created 1 open request(s)" in ok(db_dsn, "restore", "-", stdin=json.dumps(later))


def test_restore_on_freepbx_raises_apply_config(db_dsn: str, other_db: str) -> None:
    populate(db_dsn)
    store = Store.connect(Dsn.parse(other_db))
    store._run("CREATE TABLE admin (variable VARCHAR(20) NOT NULL PRIMARY KEY, value VARCHAR(80) NOT NULL)")
    store._run("INSERT INTO admin VALUES ('need_reload', 'false')")
    ok(other_db, "restore", "-", stdin=ok(db_dsn, "backup"))
    assert store._all("SELECT value FROM admin") == [("true",)]
    store.close()


def _doc(db_dsn: str) -> dict[str, Any]:
    populate(db_dsn)
    return json.loads(ok(db_dsn, "backup"))


BAD: list[tuple[str, Any, str]] = [
    ("not JSON", "{", "not JSON"),
    ("a list", [], "expected dict"),
    ("version 2", lambda d: d.update(version=2), "version 2"),
    ("no requests", lambda d: d.pop("requests"), "missing requests"),
    ("extra key", lambda d: d.update(extra=1), "unknown field(s) extra"),
    ("queues not a list", lambda d: d.update(queues={}), "queues: expected list"),
    ("attempts as text", lambda d: d["queues"][1].update(attempts="3"), "queues[1].attempts: expected int"),
    ("attempts out of range", lambda d: d["queues"][1].update(attempts=0), "attempts must be between"),
    ("bool as number", lambda d: d["queues"][0].update(window=True), "queues[0].window: expected int"),
    ("hostile recording", lambda d: d["queues"][0]["prompts"].update(offer="x,Dial(1)"), "recording"),
    ("hostile queue name", lambda d: d["queues"][1].update(queue="5;x"), "queue '5;x'"),
    ("queue twice", lambda d: d["queues"].append(d["queues"][0]), "400 appear more than once"),
    ("hostile number", lambda d: d["requests"][1].update(number="555)\nDial(1"), "not a phone number"),
    ("spaced number", lambda d: d["requests"][1].update(number="555 1111"), "not a stored number"),
    ("closed request", lambda d: d["requests"][1].update(status="done"), "only open requests"),
    ("bad time", lambda d: d["requests"][1].update(requested_at="yesterday"), "not an ISO 8601 time"),
    ("zoned time", lambda d: d["requests"][1].update(requested_at="2025-01-01T10:00:00+03:00"), "a UTC time"),
    ("hostile uniqueid", lambda d: d["requests"][1].update(caller_uniqueid="1;2"), "caller_uniqueid"),
    ("negative attempts", lambda d: d["requests"][1].update(attempts=-1), "must not be negative"),
    ("unknown language", lambda d: d["requests"][1].update(language="xx"), "en or ru"),
    # Found only while writing: the queue was written already, and must be rolled back with the rest.
    ("request without its queue", lambda d: d["requests"][1].update(queue="999"), "queue 999"),
    ("bad alert address", lambda d: d["queues"][0].update(alert_to=["sales"]), "not an e-mail address"),
    ("bad alert kind", lambda d: d["queues"][0].update(alert_on=["answered"]), "alert kind(s) answered"),
]


@pytest.mark.parametrize(("name", "change", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_malformed_backup_is_exit_2_and_writes_nothing(
    db_dsn: str, other_db: str, name: str, change: Any, message: str
) -> None:
    doc = _doc(db_dsn)
    doc["queues"].append(dict(doc["queues"][0], queue="600"))  # would be written first
    if isinstance(change, str):
        text = change
    elif callable(change):
        change(doc)
        text = json.dumps(doc)
    else:
        text = json.dumps(change)

    result = run(other_db, "restore", "-", stdin=text)

    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output, result.output
    assert result.output.startswith("error: <stdin>: ") and result.output.count("\n") == 1, result.output
    assert queues(other_db) == [] and rows(other_db) == [], "nothing half-written"


def test_missing_file_is_exit_2(other_db: str, tmp_path: Path) -> None:
    result = run(other_db, "restore", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and "nope.json" in result.output


def test_alert_settings_travel_with_the_backup(db_dsn: str, other_db: str) -> None:
    ok(db_dsn, "queue", "set", "400", "--enable", "--alert-to", "sales@example.com", "--alert-on", "failed")
    ok(db_dsn, "queue", "set", "401", "--enable")
    doc = json.loads(ok(db_dsn, "backup", "--json"))
    by_queue = {q["queue"]: q for q in doc["queues"]}
    assert (by_queue["400"]["alert_to"], by_queue["400"]["alert_on"]) == (["sales@example.com"], ["failed"])
    assert (by_queue["401"]["alert_to"], by_queue["401"]["alert_on"]) == ([], [])
    ok(other_db, "queue", "set", "401", "--enable", "--alert-to", "old@example.com")
    ok(other_db, "restore", "-", stdin=json.dumps(doc))
    shown = json.loads(ok(other_db, "queue", "show", "400", "--json"))
    assert (shown["alert_to"], shown["alert_on"]) == (["sales@example.com"], ["failed"])
    assert json.loads(ok(other_db, "queue", "show", "401", "--json"))["alert_to"] == []  # as in the backup
    # A backup written before alerts existed leaves a queue's alerts as they are.
    for queue in doc["queues"]:
        del queue["alert_to"], queue["alert_on"]
    ok(db_dsn, "restore", "-", stdin=json.dumps(doc))
    assert json.loads(ok(db_dsn, "queue", "show", "400", "--json"))["alert_to"] == ["sales@example.com"]
