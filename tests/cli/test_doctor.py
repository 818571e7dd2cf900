"""`freepbx-callback doctor` against the real database, real processes, real files and a real user.

The JSON shape is what the FreePBX page reads: ``{"ok", "checks": [{"check", "ok", "detail", ...}],
"journal": {"waiting", "oldest_age_s"}, "daemon": {"up", "last_tick_at", "ami_ok", "node"}}``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from freepbx_callback import __version__
from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from freepbx_callback.health import Account, file_access
from freepbx_callback.journal import Entry, Journal, LegEntry
from freepbx_callback.models import Heartbeat
from freepbx_callback.service import CallbackService, utcnow
from tests.conftest import Clock
from tests.testbed.wait import wait_for

PROJECT = Path(__file__).resolve().parents[2]
CHECKS = ["config", "database", "schema", "config_readable", "daemon", "journal", "alerts"]


def doctor(dsn: str | None, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    prefix = ["--dsn", dsn] if dsn else []
    result = CliRunner().invoke(cli, [*prefix, "doctor", "--json", *args], env=env, catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["checks"] if c["check"] == name]
    return found


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def beat(service: CallbackService, **changes: Any) -> None:
    values: dict[str, Any] = dict(
        node="pbx1",
        kind="serve",
        pid=4242,
        version=__version__,
        started_at=utcnow(),
        tick_seconds=2.0,
        ami_ok=True,
        ami_error=None,
    )
    service.heartbeat(Heartbeat(**(values | changes)))


# --- shape, daemon -------------------------------------------------------------------------------------


def test_shape_on_a_fresh_database(db_dsn: str, spool: Path) -> None:
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 0, report
    assert set(report) == {"ok", "checks", "journal", "daemon"} and report["ok"] is True
    assert [c["check"] for c in report["checks"]] == CHECKS
    assert all({"check", "ok", "detail"} <= set(c) for c in report["checks"])
    assert report["journal"] == {"waiting": 0, "oldest_age_s": None}
    assert report["daemon"] == {"up": False, "last_tick_at": None, "ami_ok": None, "node": None}
    assert "no queue offers callback" in check(report, "daemon")["detail"]
    assert "--dsn" in check(report, "config_readable")["detail"], "freepbx.conf is not used"


def test_daemon_check_follows_the_heartbeats(db_dsn: str, spool: Path, service: CallbackService) -> None:
    service.set_queue("400", enabled=True)
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 1 and report["ok"] is False
    daemon = check(report, "daemon")
    assert daemon["ok"] is False and "no dialer has run" in daemon["detail"]

    beat(service)
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 0, report
    assert report["daemon"]["up"] is True and report["daemon"]["ami_ok"] is True
    assert report["daemon"]["node"] == "pbx1" and report["daemon"]["last_tick_at"].endswith("Z")
    [node] = check(report, "daemon")["nodes"]
    assert (node["kind"], node["pid"], node["up"]) == ("serve", 4242, True)

    beat(service, ami_ok=False, ami_error="AMI login refused for qcb")
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 1 and report["daemon"]["up"] is True and report["daemon"]["ami_ok"] is False
    assert "AMI login refused for qcb" in check(report, "daemon")["detail"]

    beat(service)
    service.store._run("UPDATE qcb_nodes SET last_tick_at = last_tick_at - INTERVAL 7 SECOND")
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 1 and report["daemon"]["up"] is False and report["daemon"]["ami_ok"] is None
    assert report["daemon"]["node"] == "pbx1", "the last one seen"
    assert "last ticked" in check(report, "daemon")["detail"]

    beat(service, node="pbx1", kind="cron", pid=77, tick_seconds=60.0)  # cron's minute: still up
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 0 and report["daemon"]["up"] is True, report

    service.node_stopped("pbx1", "cron", 77)
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 1 and "stopped" in check(report, "daemon")["detail"]


def test_daemon_is_unknown_when_the_database_is_down(spool: Path) -> None:
    code, report = doctor("mysql://u:p@127.0.0.1:1/x", "--spool", str(spool))
    assert code == 1
    assert [c["check"] for c in report["checks"]] == ["config", "database", "config_readable", "journal"]
    assert report["daemon"] == {"up": None, "last_tick_at": None, "ami_ok": None, "node": None}


# --- the real dialers record heartbeats ----------------------------------------------------------------


@pytest.fixture
def closed_ami() -> str:
    return "ami://qcb:nothing@127.0.0.1:1"  # nothing listens there


def test_serve_beats_every_tick_and_says_when_it_stopped(
    db_dsn: str, tmp_path: Path, service: CallbackService, closed_ami: str
) -> None:
    service.set_queue("400", enabled=True)
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "freepbx_callback", "--dsn", db_dsn, "serve", "--port", "0", "--poll", "0.2"]
        + ["--ami", closed_ami, "--node", "node-a", "--spool", str(tmp_path / "spool")],
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        [node] = wait_for(service.nodes, 15, message=f"serve's first heartbeat ({log})")
        first = node.last_tick_at
        wait_for(lambda: service.nodes()[0].last_tick_at > first, 5, message="a later tick")
        code, report = doctor(db_dsn, "--spool", str(tmp_path / "spool"))
        [node] = service.nodes()
        assert (node.node, node.kind, node.pid, node.version) == ("node-a", "serve", proc.pid, __version__)
        assert node.tick_seconds == 0.2 and node.ami_ok is False and "127.0.0.1:1" in (node.ami_error or "")
        assert report["daemon"]["up"] is True and report["daemon"]["ami_ok"] is False
        assert code == 1 and "AMI" in check(report, "daemon")["detail"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, log.read_text()
    [node] = service.nodes()
    assert node.stopped_at is not None and not node.up
    assert "stopped" in check(doctor(db_dsn, "--spool", str(tmp_path / "spool"))[1], "daemon")["detail"]


def test_a_cron_dial_tick_beats_too(
    db_dsn: str, tmp_path: Path, service: CallbackService, closed_ami: str
) -> None:
    service.set_queue("400", enabled=True)
    result = CliRunner().invoke(
        cli, ["--dsn", db_dsn, "dial", "--ami", closed_ami, "--node", "cron-a", "--spool", str(tmp_path)]
    )
    assert result.exit_code == 5 and "AMI unavailable" in result.output, result.output  # cron sees it
    [node] = service.nodes()
    assert (node.node, node.kind, node.tick_seconds, node.ami_ok, node.up) == (
        "cron-a",
        "cron",
        60.0,
        False,
        True,
    )


# --- journal -------------------------------------------------------------------------------------------


def _age(path: Path, seconds: float) -> Path:
    """Journal files are named <creation time in ns>-<uuid>.json: make this one ``seconds`` older."""
    stamp, rest = path.name.split("-", 1)
    older = path.with_name(f"{int(stamp) - int(seconds * 1e9)}-{rest}")
    path.rename(older)
    return older


def test_journal_counts_what_waits_and_fails_past_a_minute(db_dsn: str, spool: Path) -> None:
    journal = Journal(spool)
    journal.append(Entry(queue="400", number="2015551234", requested_at="2025-01-01T00:00:00"))
    leg = journal.append(LegEntry(request_id=1, attempt_no=1, outcome="answered", talk_seconds=20))
    rejected = journal.append(Entry(queue="400", number="5550000", requested_at="2025-01-01T00:00:00"))
    journal.set_aside(rejected, "disabled")

    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 0, report
    assert report["journal"]["waiting"] == 2 and 0 <= report["journal"]["oldest_age_s"] < 30
    found = check(report, "journal")
    assert (found["ok"], found["requests"], found["outcomes"], found["rejected"]) == (True, 1, 1, 1)
    assert found["spool"] == str(spool)

    _age(leg, 90)
    code, report = doctor(db_dsn, "--spool", str(spool))
    assert code == 1 and report["ok"] is False
    assert report["journal"]["waiting"] == 2 and 90 <= report["journal"]["oldest_age_s"] < 120
    assert check(report, "journal")["ok"] is False and "journal replay" in check(report, "journal")["detail"]
    assert len(list(spool.glob("*.json"))) == 2, "doctor only looks: it moves and deletes nothing"


def test_journal_folder_comes_from_qcb_spool(db_dsn: str, spool: Path) -> None:
    Journal(spool).append(Entry(queue="400", number="2015551234", requested_at="2025-01-01T00:00:00"))
    code, report = doctor(db_dsn, env={"QCB_SPOOL": str(spool)})
    assert report["journal"]["waiting"] == 1 and check(report, "journal")["spool"] == str(spool)


# --- /etc/freepbx.conf readable by the user Asterisk runs as --------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners and becoming 'nobody' needs root")


def kernel_says_readable(path: Path, user: str = "nobody") -> bool:
    """Ask the kernel: can ``user`` (with exactly its own groups) open ``path`` for reading?"""
    import pwd

    entry = pwd.getpwnam(user)
    groups = os.getgrouplist(user, entry.pw_gid)
    done = subprocess.run(
        ["cat", str(path)],
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=groups,
        capture_output=True,
    )
    return done.returncode == 0


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder everybody may enter (pytest's own tmp folders are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="qcb-doctor-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=True)


NOBODY, NOGROUP = 65534, 65534


@needs_root
@pytest.mark.parametrize("owner", [(0, 0), (0, NOGROUP), (NOBODY, 0), (NOBODY, NOGROUP)], ids=str)
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o660, 0o400, 0o040, 0o004, 0o044, 0o000, 0o200])
def test_the_verdict_is_the_kernels(open_dir: Path, owner: tuple[int, int], mode: int) -> None:
    path = open_dir / "freepbx.conf"
    path.write_text("<?php\n")
    os.chown(path, *owner)
    path.chmod(mode)
    verdict = file_access(path, Account.lookup("nobody"))
    assert verdict.readable == kernel_says_readable(path), (oct(mode), owner, verdict)


@needs_root
def test_a_folder_the_user_cannot_enter_is_named(open_dir: Path) -> None:
    inner = open_dir / "private"
    inner.mkdir(mode=0o700)
    path = inner / "freepbx.conf"
    path.write_text("<?php\n")
    path.chmod(0o644)
    verdict = file_access(path, Account.lookup("nobody"))
    assert not verdict.readable and not kernel_says_readable(path)
    assert str(inner) in verdict.problem and verdict.fix == f"chmod o+x {inner}"


def _freepbx_conf(path: Path, dsn: Dsn) -> None:
    path.write_text(
        "<?php\n$amp_conf = array();\n"
        f"$amp_conf['AMPDBUSER'] = '{dsn.user}';\n$amp_conf['AMPDBPASS'] = '{dsn.password}';\n"
        f"$amp_conf['AMPDBHOST'] = '{dsn.host}';\n$amp_conf['AMPDBPORT'] = '{dsn.port}';\n"
        f"$amp_conf['AMPDBNAME'] = '{dsn.database}';\n"
    )


@needs_root
def test_freepbx_conf_unreadable_for_asterisks_user_fails_with_the_exact_fix(
    dsn: Dsn, open_dir: Path, spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = open_dir / "freepbx.conf"
    _freepbx_conf(conf, dsn)
    os.chown(conf, 0, 0)
    conf.chmod(0o600)  # what a hand-edited or restored file often ends up as
    monkeypatch.setattr("freepbx_callback.config.FREEPBX_CONF", conf)
    monkeypatch.delenv("QCB_DSN", raising=False)

    code, report = doctor(None, "--spool", str(spool), "--asterisk-user", "nobody")

    assert code == 1 and check(report, "database")["ok"] is True, "root itself can read it"
    found = check(report, "config_readable")
    assert found["ok"] is False and (found["path"], found["user"]) == (str(conf), "nobody")
    assert found["fix"] == f"chgrp nogroup {conf} && chmod 640 {conf}"
    assert found["fix"] in found["detail"]
    assert not kernel_says_readable(conf)

    subprocess.run(["sh", "-c", found["fix"]], check=True)

    assert kernel_says_readable(conf)
    code, report = doctor(None, "--spool", str(spool), env={"QCB_ASTERISK_USER": "nobody"})
    assert code == 0, report
    assert check(report, "config_readable")["ok"] is True and check(report, "config_readable")["fix"] is None


def test_an_unknown_asterisk_user_is_a_failure(
    dsn: Dsn, open_dir: Path, spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = open_dir / "freepbx.conf"
    _freepbx_conf(conf, dsn)
    monkeypatch.setattr("freepbx_callback.config.FREEPBX_CONF", conf)
    monkeypatch.delenv("QCB_DSN", raising=False)
    code, report = doctor(None, "--spool", str(spool), "--asterisk-user", "no-such-user-qcb")
    assert code == 1 and "no user 'no-such-user-qcb'" in check(report, "config_readable")["detail"]


def test_text_output_lists_every_check(db_dsn: str, spool: Path) -> None:
    result = CliRunner().invoke(cli, ["--dsn", db_dsn, "doctor", "--spool", str(spool)])
    assert result.exit_code == 0
    assert [line.split()[1] for line in result.output.splitlines()] == CHECKS


# --- department alerts --------------------------------------------------------------------------------


def test_alerts_given_up_are_a_warning_with_their_count(
    db_dsn: str, spool: Path, service: CallbackService, clock: Clock
) -> None:
    from freepbx_callback import alerts, mailer
    from tests.testbed.smtp import free_port

    service.set_queue("400", enabled=True)
    service.set_alerts("400", ("sales@example.com",), ("new",))
    service.request("400", "2015550124")
    found = check(doctor(db_dsn, "--spool", str(spool))[1], "alerts")
    assert found["ok"] and not found["warning"] and found["waiting"] == 1
    closed = mailer.MailConfig(alerts.parse_transport(f"smtp://127.0.0.1:{free_port()}"), "pbx@example.com")
    for _ in range(alerts.MAX_TRIES):  # the mail server never answers
        mailer.send_due(service, closed, "n")
        clock.advance(alerts.MAX_BACKOFF)
    code, report = doctor(db_dsn, "--spool", str(spool))
    found = check(report, "alerts")
    assert found["ok"] and found["warning"] and found["given_up"] == 1
    assert "1 alert(s) given up after 8 tries" in found["detail"] and "127.0.0.1" in found["detail"]
    text = CliRunner().invoke(cli, ["--dsn", db_dsn, "doctor", "--spool", str(spool)]).output
    assert "warn  alerts" in text
