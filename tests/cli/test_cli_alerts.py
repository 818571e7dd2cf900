"""Alerts through the command line against the real database and a real SMTP server: `queue set
--alert-to/--alert-on/--no-alerts` and `queue show`; `alert test`; the sender of a real `serve` process
and of the cron `dial` deliver the outbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner, Result

from freepbx_callback.cli import cli
from freepbx_callback.service import CallbackService
from tests.testbed.serve import ServeProcess
from tests.testbed.smtp import SmtpServer

NO_QCB = {k: v for k, v in os.environ.items() if not k.startswith("QCB_")}


def run(dsn: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--dsn", dsn, *args], env=env, catch_exceptions=False)


def test_queue_set_and_show_alerts(db_dsn: str) -> None:
    out = run(db_dsn, "queue", "set", "400", "--enable", "--alert-to", "a@example.com", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["alert_on"] == ["new", "failed", "expired"]  # all, by default
    args = ["queue", "set", "400", "--alert-to", "sales@example.com", "--alert-to", "boss@example.com"]
    assert run(db_dsn, *args, "--alert-on", "failed,expired").exit_code == 0
    shown = json.loads(run(db_dsn, "queue", "show", "400", "--json").output)
    assert shown["alert_to"] == ["sales@example.com", "boss@example.com"]
    assert shown["alert_on"] == ["failed", "expired"]
    text = run(db_dsn, "queue", "show", "400").output
    assert "sales@example.com boss@example.com" in text and "failed expired" in text
    # Bad input: one line, exit 2, nothing changed.
    bad_args = (["--alert-to", "sales"], ["--alert-on", "new,answered"], ["--no-alerts", "--alert-on", "new"])
    for bad in bad_args:
        result = run(db_dsn, "queue", "set", "400", "--attempts", "5", *bad)
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    after = json.loads(run(db_dsn, "queue", "show", "400", "--json").output)
    assert after["attempts"] != 5 and after["alert_to"] == shown["alert_to"]
    assert run(db_dsn, "queue", "set", "400", "--no-alerts").exit_code == 0
    cleared = json.loads(run(db_dsn, "queue", "show", "400", "--json").output)
    assert (cleared["alert_to"], cleared["alert_on"]) == ([], [])


def test_alert_test_sends_through_the_given_server(db_dsn: str) -> None:
    smtp = SmtpServer().start()
    try:
        args = ["alert", "test", "ops@example.com", "--smtp", smtp.url, "--mail-from", "pbx@example.com"]
        result = run(db_dsn, *args, env=NO_QCB)
        assert result.exit_code == 0, result.output
        [(rcpt, msg)] = smtp.received
        assert rcpt == ["ops@example.com"] and msg["From"] == "pbx@example.com"
    finally:
        smtp.stop()
    down = run(db_dsn, *args, env=NO_QCB)  # the server is gone now
    assert down.exit_code == 1 and "not sent" in down.output


def test_serve_and_dial_deliver_the_outbox(db_dsn: str, service: CallbackService, tmp_path: Path) -> None:
    service.set_queue("400", enabled=True)
    service.set_alerts("400", ("sales@example.com",), ("new",))
    smtp = SmtpServer().start()
    try:
        service.request("400", "2015550123")
        env = {**NO_QCB, "QCB_SMTP": smtp.url, "QCB_MAIL_FROM": "pbx@example.com"}
        with ServeProcess(db_dsn, tmp_path / "spool", ["--no-dialer", "--poll", "3600"], env=env) as serve:
            [msg] = smtp.wait_for(1)
            assert msg["Subject"] == "Callback requested: 2015550123 (queue 400)"
            assert "alerts by mail through smtp://127.0.0.1" in serve.text()
        assert service.alerts()[0]["status"] == "sent"
        # The cron `dial` sends after its tick, even when Asterisk cannot be reached (exit 5 all the same).
        service.request("400", "2015550124")
        dial = ["dial", "--ami", "ami://u:p@127.0.0.1:1", "--spool", str(tmp_path / "spool")]
        result = run(db_dsn, *dial, env={**env})
        assert result.exit_code == 5, result.output
        assert [m["Subject"] for m in smtp.messages()][1:] == ["Callback requested: 2015550124 (queue 400)"]
        assert len(smtp.messages()) == 2  # the first one was not sent again
    finally:
        smtp.stop()
