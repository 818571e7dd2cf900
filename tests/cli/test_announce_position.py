"""The per-queue "position and estimated wait in the offer" setting: off by default, switched by
`queue set --announce-position/--no-announce-position`, shown by `queue show`/`queue list`, kept by
backup/restore and added to existing databases by migration 12 (real MariaDB)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from freepbx_callback.schema import MIGRATIONS
from freepbx_callback.service import utcnow
from freepbx_callback.store import Store


def run(dsn: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--dsn", dsn, *args], catch_exceptions=False)


def ok(dsn: str, *args: str) -> str:
    result = run(dsn, *args)
    assert result.exit_code == 0, result.output
    return result.output


def show(dsn: str, queue: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(ok(dsn, "queue", "show", queue, "--json"))
    return data


def test_off_by_default_switched_by_queue_set_and_shown(db_dsn: str) -> None:
    ok(db_dsn, "queue", "set", "400", "--enable")
    assert show(db_dsn, "400")["announce_position"] is False, "off keeps today's offer"

    ok(db_dsn, "queue", "set", "400", "--announce-position")
    assert show(db_dsn, "400")["announce_position"] is True
    listed = json.loads(ok(db_dsn, "queue", "list", "--json"))
    assert [(q["queue"], q["announce_position"]) for q in listed] == [("400", True)]
    table = ok(db_dsn, "queue", "list").splitlines()
    column = table[0].index("position")
    assert table[1][column:].split()[0] == "yes", table
    assert "announce_position" in ok(db_dsn, "queue", "show", "400")

    ok(db_dsn, "queue", "set", "400", "--attempts", "3")
    assert show(db_dsn, "400")["announce_position"] is True, "another change leaves it as it is"
    ok(db_dsn, "queue", "set", "400", "--no-announce-position")
    assert show(db_dsn, "400")["announce_position"] is False


def test_backup_and_restore_carry_it(db_dsn: str, mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok(db_dsn, "queue", "set", "400", "--enable", "--announce-position")
    ok(db_dsn, "queue", "set", "401", "--enable")
    doc = json.loads(ok(db_dsn, "backup", "--json"))
    assert [(q["queue"], q["announce_position"]) for q in doc["queues"]] == [("400", True), ("401", False)]
    file = tmp_path / "backup.json"
    file.write_text(json.dumps(doc))
    other = mariadb.create_database()
    try:
        store = Store.connect(other)
        store.migrate(utcnow())
        store.close()
        ok(other.url(), "restore", str(file))
        assert show(other.url(), "400")["announce_position"] is True
        assert show(other.url(), "401")["announce_position"] is False
        # a backup written before the setting existed restores with it off
        for q in doc["queues"]:
            del q["announce_position"]
        file.write_text(json.dumps(doc))
        ok(other.url(), "queue", "set", "400", "--announce-position")
        ok(other.url(), "restore", str(file))
        assert show(other.url(), "400")["announce_position"] is False
    finally:
        mariadb.drop_database(other.database)


def test_migration_12_adds_the_column_off_for_existing_queues(dsn: Dsn) -> None:
    """A database at the version before 12 with a configured queue: `db migrate` adds the column, off."""
    url = dsn.url()
    ok(url, "queue", "set", "400", "--enable", "--announce-position")
    store = Store.connect(dsn)
    try:
        store._run("ALTER TABLE qcb_queues DROP COLUMN announce_position")
        store._run("DELETE FROM qcb_schema WHERE version = 12")
        store.conn.commit()
    finally:
        store.close()
    [(_, description, statements)] = [m for m in MIGRATIONS if m[0] == 12]
    assert "position" in description and statements
    assert "[12]" in ok(url, "db", "migrate")
    ok(url, "db", "migrate")  # idempotent
    assert show(url, "400")["announce_position"] is False
    assert show(url, "400")["enabled"] is True
