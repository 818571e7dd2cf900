"""`apikey add/list/revoke` through click's runner, against the real database."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result

from freepbx_callback.cli import cli


def run(dsn: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--dsn", dsn, *args], catch_exceptions=False)


def test_add_prints_the_token_once_list_never_and_revoke(db_dsn: str) -> None:
    added = run(db_dsn, "apikey", "add", "web", "--queue", "400", "--queue", "401", "--per-minute", "30")
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert token.startswith("qcb_") and len(token) == 47
    listed = run(db_dsn, "apikey", "list")
    assert listed.exit_code == 0 and "web" in listed.output and "400 401" in listed.output
    assert token not in listed.output and token[:8] in listed.output
    [item] = json.loads(run(db_dsn, "apikey", "list", "--json").output)
    assert item["queues"] == ["400", "401"] and item["per_minute"] == 30 and item["per_number_hour"] == 3
    assert token not in json.dumps(item)
    as_json = json.loads(run(db_dsn, "apikey", "add", "crm", "--json").output)
    assert as_json["name"] == "crm" and as_json["token"].startswith("qcb_") and as_json["queues"] == []
    again = run(db_dsn, "apikey", "add", "web")
    assert again.exit_code == 4 and "exists" in again.output
    revoked = json.loads(run(db_dsn, "apikey", "revoke", "web", "--json").output)
    assert revoked["revoked_at"] is not None
    assert [k["name"] for k in json.loads(run(db_dsn, "apikey", "list", "--json").output)] == ["crm"]
    assert "web" in run(db_dsn, "apikey", "list", "--all").output
    missing = run(db_dsn, "apikey", "revoke", "web")
    assert missing.exit_code == 1 and "no active key web" in missing.output


def test_bad_arguments_are_clear_errors(db_dsn: str) -> None:
    bad_name = run(db_dsn, "apikey", "add", "a b")
    assert bad_name.exit_code == 1 and "key name" in bad_name.output
    bad_queue = run(db_dsn, "apikey", "add", "web", "--queue", "4 0")
    assert bad_queue.exit_code == 1 and "queue" in bad_queue.output
    bad_limit = run(db_dsn, "apikey", "add", "web", "--per-minute", "0")
    assert bad_limit.exit_code == 2 and "--per-minute" in bad_limit.output
    assert json.loads(run(db_dsn, "apikey", "list", "--json").output) == []
