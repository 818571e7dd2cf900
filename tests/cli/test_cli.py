"""The freepbx-callback command through click's runner, against the real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freepbx_callback.cli import cli
from freepbx_callback.store import Store


def run(dsn: str | None, *args: str, env: dict[str, str] | None = None) -> Result:
    prefix = ["--dsn", dsn] if dsn else []
    return CliRunner().invoke(cli, [*prefix, *args], env=env, catch_exceptions=False)


def count_rows(db_dsn: str) -> int:
    from freepbx_callback.config import Dsn

    return int(Store.connect(Dsn.parse(db_dsn))._all("SELECT COUNT(*) FROM qcb_requests")[0][0])


def test_the_operator_story(db_dsn: str) -> None:
    assert run(db_dsn, "db", "migrate").output.startswith("schema is up to date")
    assert run(db_dsn, "queue", "set", "400", "--enable", "--did", "5551000").exit_code == 0
    added = run(db_dsn, "request", "add", "400", "2015551234")
    assert added.exit_code == 0 and "request 1" in added.output
    listed = json.loads(run(db_dsn, "request", "list", "--json").output)
    assert len(listed) == 1
    item = listed[0]
    assert {"id", "queue", "number", "did", "status", "attempts", "requested_at", "next_attempt_at"} <= set(
        item
    )
    assert (item["queue"], item["number"], item["did"], item["status"], item["attempts"]) == (
        "400",
        "2015551234",
        "5551000",
        "pending",
        0,
    )
    cancelled = run(db_dsn, "request", "cancel", str(item["id"]))
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    assert json.loads(run(db_dsn, "request", "show", "1", "--json").output)["status"] == "cancelled"


def test_hostile_number_is_refused_and_writes_nothing(db_dsn: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable")
    result = run(db_dsn, "request", "add", "400", "x;Dial(1)")
    assert result.exit_code == 1
    assert "not a phone number" in result.output and "Traceback" not in result.output
    assert count_rows(db_dsn) == 0


def test_duplicate_names_the_open_request(db_dsn: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable")
    run(db_dsn, "request", "add", "400", "2015551234")
    result = run(db_dsn, "request", "add", "400", "2015551234")
    assert result.exit_code == 4 and "request 1 is already open" in result.output
    assert count_rows(db_dsn) == 1


def test_add_to_disabled_queue(db_dsn: str) -> None:
    result = run(db_dsn, "request", "add", "401", "2015551234")
    assert result.exit_code == 1 and "not enabled for queue 401" in result.output


def test_queue_set_show_list_json(db_dsn: str) -> None:
    result = run(
        db_dsn,
        "queue",
        "set",
        "400",
        "--enable",
        "--attempts",
        "3",
        "--retry-interval",
        "5m",
        "--window",
        "900s",
        "--offer-every",
        "45",
        "--no-notify-agents",
        "--mode",
        "customer-first",
        "--max-pending",
        "20",
        "--language",
        "ru",
        "--region",
        "ru",
        "--block",
        "_8809.",
        "--json",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(run(db_dsn, "queue", "show", "400", "--json").output)
    assert shown == json.loads(result.output)
    assert (shown["attempts"], shown["retry_interval"], shown["window"], shown["offer_every"]) == (
        3,
        300,
        900,
        45,
    )
    assert (
        shown["notify_agents"],
        shown["mode"],
        shown["max_pending"],
        shown["language"],
        shown["region"],
    ) == (False, "customer-first", 20, "ru", "RU")
    assert shown["block_patterns"] == ["_8809."]
    run(db_dsn, "queue", "set", "400", "--block", "_8803.", "--no-max-pending")
    shown = json.loads(run(db_dsn, "queue", "show", "400", "--json").output)
    assert shown["block_patterns"] == ["_8809.", "_8803."] and shown["max_pending"] is None
    listed = json.loads(run(db_dsn, "queue", "list", "--json").output)
    assert [q["queue"] for q in listed] == ["400"]
    assert "customer-first" in run(db_dsn, "queue", "list").output


@pytest.mark.parametrize(
    "args,message",
    [
        (["queue", "set", "400", "--retry-interval", "soon"], "duration"),
        (["queue", "set", "400", "--attempts", "0"], "0 is not in the range"),
        (["queue", "set", "400", "--mode", "robot"], "robot"),
        (["queue", "set", "400", "--did", "55;1"], "DID"),
        (["queue", "set", "4 00", "--enable"], "queue"),
        (["queue", "set", "400", "--block", "_55;"], "pattern"),
        (["queue", "show", "999"], "no callback settings"),
        (["request", "show", "999"], "no request 999"),
        (["request", "cancel", "abc"], "not a valid integer"),
        (["request", "list", "--status", "lost"], "lost"),
        (["request", "purge"], "--older-than"),
    ],
)
def test_bad_arguments_are_one_clear_line(db_dsn: str, args: list[str], message: str) -> None:
    result = run(db_dsn, *args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert count_rows(db_dsn) == 0


def test_list_filters_and_text_table(db_dsn: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable")
    run(db_dsn, "queue", "set", "500", "--enable")
    run(db_dsn, "request", "add", "400", "2015551111")
    run(db_dsn, "request", "add", "500", "2015552222")
    run(db_dsn, "request", "cancel", "1")
    assert [
        r["id"] for r in json.loads(run(db_dsn, "request", "list", "--status", "pending", "--json").output)
    ] == [2]
    assert [
        r["id"] for r in json.loads(run(db_dsn, "request", "list", "--queue", "400", "--json").output)
    ] == [1]
    text = run(db_dsn, "request", "list").output.splitlines()
    assert text[0].split() == [
        "id",
        "queue",
        "number",
        "did",
        "status",
        "attempts",
        "requested_at",
        "next_attempt_at",
    ]
    assert len(text) == 3


def test_retry_purge_stats(db_dsn: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable")
    run(db_dsn, "request", "add", "400", "2015551111")
    run(db_dsn, "request", "cancel", "1")
    assert "now pending" in run(db_dsn, "request", "retry", "1").output
    run(db_dsn, "request", "cancel", "1")
    assert "purged 0" in run(db_dsn, "request", "purge", "--older-than", "1d").output
    assert "purged 1" in run(db_dsn, "request", "purge", "--older-than", "0").output
    run(db_dsn, "request", "add", "400", "2015552222")
    stats = json.loads(run(db_dsn, "stats", "--since", "1h", "--json").output)
    assert stats["requested"] == 1 and stats["by_status"] == {"pending": 1}
    assert "median time to callback" in run(db_dsn, "stats").output


def test_doctor(db_dsn: str) -> None:
    result = run(db_dsn, "doctor", "--json")
    assert result.exit_code == 0
    checks = [c["check"] for c in json.loads(result.output)["checks"]]
    assert checks == ["config", "database", "schema", "config_readable", "daemon", "journal", "alerts"]


def test_doctor_reports_an_unmigrated_database(mariadb) -> None:  # type: ignore[no-untyped-def]
    empty = mariadb.create_database()
    result = run(empty.url(), "doctor")
    assert result.exit_code == 1 and "FAIL  schema" in result.output and "db migrate" in result.output
    mariadb.drop_database(empty.database)


def test_missing_config_is_exit_2_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QCB_DSN", raising=False)
    monkeypatch.setattr("freepbx_callback.config.FREEPBX_CONF", tmp_path / "freepbx.conf")
    result = run(None, "request", "list")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "tried --dsn, $QCB_DSN and" in result.output


def test_database_down_is_a_clear_error() -> None:
    result = run("mysql://u:p@127.0.0.1:1/x", "request", "list")
    assert result.exit_code == 3 and "cannot use database u@127.0.0.1:1/x" in result.output


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["db", "migrate", "--help"],
        ["queue", "set", "--help"],
        ["request", "add", "--help"],
        ["request", "purge", "--help"],
        ["stats", "--help"],
        ["doctor", "--help"],
    ):
        result = run(None, *args)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_clear_did_and_delete_queue(db_dsn: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable", "--did", "5551000")
    assert json.loads(run(db_dsn, "queue", "set", "400", "--no-did", "--json").output)["did"] is None
    run(db_dsn, "request", "add", "400", "2015551111")
    deleted = run(db_dsn, "queue", "delete", "400")
    assert deleted.exit_code == 0 and "1 open request(s) cancelled" in deleted.output
    assert json.loads(run(db_dsn, "request", "show", "1", "--json").output)["status"] == "cancelled"
    assert run(db_dsn, "queue", "delete", "400").exit_code == 1
    assert json.loads(run(db_dsn, "queue", "list", "--json").output) == []


def test_keep_place_flag(db_dsn: str) -> None:
    shown = json.loads(run(db_dsn, "queue", "set", "400", "--keep-place", "--json").output)
    assert shown["keep_place"] is True
    assert (
        json.loads(run(db_dsn, "queue", "set", "400", "--no-keep-place", "--json").output)["keep_place"]
        is False
    )


def test_dialplan_with_a_fastagi_fallback(db_dsn: str) -> None:
    run(db_dsn, "queue", "set", "400", "--enable")
    args = ["dialplan", "--agi", "agi://127.0.0.1:4577", "--agi-fallback", "/var/lib/asterisk/agi-bin"]
    text = run(db_dsn, *args).output
    assert "AGI(agi://127.0.0.1:4577/request,400)" in text
    assert "AGI(/var/lib/asterisk/agi-bin/qcb-request.agi,400)" in text
    assert "AGI(/var/lib/asterisk/agi-bin/qcb-outcome.agi,${ARG1})" in text
    refused = run(db_dsn, "dialplan", "--agi", "/var/lib/asterisk/agi-bin", "--agi-fallback", "/tmp")
    assert refused.exit_code == 2 and "--agi-fallback" in refused.output
    freepbx = run(db_dsn, "dialplan", "--target", "freepbx", "--agi", "agi://127.0.0.1:4573")
    assert freepbx.exit_code == 2 and "4573" in freepbx.output


def test_serve_defaults_to_port_4577_and_says_when_the_port_is_taken(db_dsn: str) -> None:
    import socket

    assert "4577" in run(None, "serve", "--help").output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            db_dsn, "serve", "--port", str(port), "--no-dialer", env={"QCB_AMI": "ami://u:p@127.0.0.1:1"}
        )
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "Traceback" not in result.output


def test_queue_commands_raise_freepbx_apply_config(db_dsn: str) -> None:
    from freepbx_callback.config import Dsn

    store = Store.connect(Dsn.parse(db_dsn))
    store._run("CREATE TABLE admin (variable VARCHAR(20) NOT NULL PRIMARY KEY, value VARCHAR(80) NOT NULL)")
    store._run("INSERT INTO admin VALUES ('need_reload', 'false')")

    def need_reload() -> str:
        flag = str(store._all("SELECT value FROM admin WHERE variable = 'need_reload'")[0][0])
        store._run("UPDATE admin SET value = 'false'")
        return flag

    assert run(db_dsn, "queue", "set", "400", "--enable").exit_code == 0
    assert need_reload() == "true"
    assert run(db_dsn, "request", "add", "400", "2015551111").exit_code == 0
    assert run(db_dsn, "queue", "set", "400", "--attempts", "3").exit_code == 0
    assert need_reload() == "false"
    assert run(db_dsn, "queue", "set", "400", "--offer-every", "1m").exit_code == 0
    assert need_reload() == "true"
    assert run(db_dsn, "queue", "delete", "400").exit_code == 0
    assert need_reload() == "true"
    store.close()


def test_dialplan_uses_fastagi_only_while_serve_is_up(db_dsn: str) -> None:
    import json
    import os

    from freepbx_callback import __version__
    from freepbx_callback.config import Dsn
    from freepbx_callback.models import Heartbeat
    from freepbx_callback.service import CallbackService, utcnow
    from freepbx_callback.store import Store

    run(db_dsn, "queue", "set", "400", "--enable")
    agi = ["--agi", "/var/lib/asterisk/agi-bin", "--serve-fastagi", "4577"]
    args = ["dialplan", "--target", "freepbx", *agi[:-1]]
    before = json.loads(run(db_dsn, *args, "--json").output)
    assert before["fastagi"] is False and "agi://" not in before["dialplan"]
    assert "AGI(/var/lib/asterisk/agi-bin/qcb-request.agi,400)" in before["dialplan"]

    service = CallbackService(Store.connect(Dsn.parse(db_dsn)))
    for kind in ("cron", "serve"):
        service.heartbeat(Heartbeat("pbx1", kind, os.getpid(), __version__, utcnow(), 2.0, True))
        after = json.loads(run(db_dsn, *args, "--json").output)
        if kind == "cron":  # a cron tick serves no FastAGI
            assert after["fastagi"] is False
    assert after["fastagi"] is True
    assert "AGI(agi://127.0.0.1:4577/request,400)" in after["dialplan"]
    assert "AGI(/var/lib/asterisk/agi-bin/qcb-request.agi,400)" in after["dialplan"], "the fallback stays"
    mixed = run(db_dsn, "dialplan", "--agi", "agi://127.0.0.1:4577", "--serve-fastagi", "4577")
    assert mixed.exit_code == 2 and "--serve-fastagi" in mixed.output


def test_dialplan_json_gives_freepbx_the_queue_language_entry(db_dsn: str) -> None:
    import json

    run(db_dsn, "queue", "set", "400", "--enable")
    run(db_dsn, "queue", "set", "401", "--enable", "--language", "ru")
    data = json.loads(run(db_dsn, "dialplan", "--target", "freepbx", "--json").output)
    assert data["queue_entry"] == {
        "401": ['ExecIf($["${CHANNEL(language)}" = "en"]?Set(CHANNEL(language)=ru))']
    }
    plain = json.loads(run(db_dsn, "dialplan", "--json").output)
    assert plain["queue_entry"] == {}


def test_queue_show_defaults_for_a_queue_never_configured(db_dsn: str) -> None:
    import json

    fresh = json.loads(run(db_dsn, "queue", "show", "777", "--defaults", "--json").output)
    assert fresh["configured"] is False and fresh["enabled"] is False
    assert (fresh["attempts"], fresh["notify_agents"], fresh["mode"]) == (2, True, "agent-first")
    assert run(db_dsn, "queue", "show", "777").exit_code != 0, "without --defaults: still an error"
    run(db_dsn, "queue", "set", "777", "--attempts", "4")
    stored = json.loads(run(db_dsn, "queue", "show", "777", "--defaults", "--json").output)
    assert stored["configured"] is True and stored["attempts"] == 4
    bad = run(db_dsn, "queue", "show", "7;7", "--defaults")
    assert bad.exit_code == 1 and "7;7" in bad.output, bad.output
