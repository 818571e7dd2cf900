"""Agent acceptance through the CLI, against the real database: `queue set --agent-accept`, `queue show`,
`queue list`, `backup` / `restore` and the rendered `dialplan`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from freepbx_callback.store import Store


def run(dsn: str, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--dsn", dsn, *args], input=stdin, catch_exceptions=False)


def ok(dsn: str, *args: str, stdin: str | None = None) -> str:
    result = run(dsn, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def shown(dsn: str, queue: str) -> dict[str, object]:
    return json.loads(ok(dsn, "queue", "show", queue, "--json"))


def test_switch_set_shown_listed_and_rendered(db_dsn: str, tmp_path: Path) -> None:
    ok(db_dsn, "queue", "set", "400", "--enable", "--did", "5551000")
    assert shown(db_dsn, "400")["agent_accept"] is False, "off by default"
    plain = ok(db_dsn, "dialplan", "--target", "asterisk", "--json")
    out = json.loads(ok(db_dsn, "queue", "set", "400", "--agent-accept", "--attempts", "3", "--json"))
    assert (out["agent_accept"], out["attempts"]) == (True, 3)
    assert shown(db_dsn, "400")["agent_accept"] is True
    assert any(
        line.split() == ["agent_accept", "True"] for line in ok(db_dsn, "queue", "show", "400").splitlines()
    )
    assert [q["agent_accept"] for q in json.loads(ok(db_dsn, "queue", "list", "--json"))] == [True]
    ok(db_dsn, "queue", "set", "400", "--window", "900")  # other changes keep it
    assert shown(db_dsn, "400")["agent_accept"] is True
    for target in ("asterisk", "freepbx"):
        text = json.loads(ok(db_dsn, "dialplan", "--target", target, "--json"))["dialplan"]
        assert "[qcb-callback-accept]" in text and "Read(QCB_ACCEPT_KEY,qcb-agent-accept,1,,1,10)" in text
    ok(db_dsn, "queue", "set", "400", "--no-agent-accept")
    assert shown(db_dsn, "400")["agent_accept"] is False
    assert ok(db_dsn, "dialplan", "--target", "asterisk", "--json") == plain, "off: exactly as before"


def test_switch_on_freepbx_raises_apply_config_and_survives_backup_and_restore(
    db_dsn: str, other_db: str
) -> None:
    store = Store.connect(Dsn.parse(db_dsn))
    store._run("CREATE TABLE admin (variable VARCHAR(20) NOT NULL PRIMARY KEY, value VARCHAR(80) NOT NULL)")
    store._run("INSERT INTO admin VALUES ('need_reload', 'false')")
    ok(db_dsn, "queue", "set", "400", "--enable")
    store._run("UPDATE admin SET value = 'false'")
    ok(db_dsn, "queue", "set", "400", "--agent-accept")
    assert store._all("SELECT value FROM admin") == [("true",)], "the dialplan changed: Apply Config"
    store.close()
    ok(db_dsn, "queue", "set", "500", "--enable")
    doc = json.loads(ok(db_dsn, "backup", "--json"))
    assert [(q["queue"], q["agent_accept"]) for q in doc["queues"]] == [("400", True), ("500", False)]
    assert doc["queues"] == [shown(db_dsn, q) for q in ("400", "500")]
    ok(other_db, "queue", "set", "500", "--agent-accept")  # restored settings replace the target's
    ok(other_db, "restore", "-", stdin=json.dumps(doc))
    assert [shown(other_db, q)["agent_accept"] for q in ("400", "500")] == [True, False]
    # A backup of an older version has no such field: the queue comes back with the switch off.
    for q in doc["queues"]:
        del q["agent_accept"]
    ok(other_db, "restore", "-", stdin=json.dumps(doc))
    assert shown(other_db, "400")["agent_accept"] is False
    bad = doc["queues"][0] | {"agent_accept": "yes"}
    result = run(other_db, "restore", "-", stdin=json.dumps(doc | {"queues": [bad]}))
    assert result.exit_code == 2 and "queues[0].agent_accept: expected bool" in result.output
