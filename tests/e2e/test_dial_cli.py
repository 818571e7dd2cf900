"""`freepbx-callback dial` (the cron tick) when Asterisk's manager is not usable: it still replays the
journal and expires what is overdue, then exits 5 with a clear message, so cron reports it. A queue
module that is gone (Asterisk shutting down or reloading) is said so, not reported as an unknown queue."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService, utcnow
from tests.testbed.asterisk import PROJECT_ROOT, AsteriskInstance, free_port
from tests.testbed.serve import CLI
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
QUEUES = "[400]\nstrategy = ringall\nmember => PJSIP/agent\n"


def dial(dsn: Dsn, ami: str, spool: Path) -> subprocess.CompletedProcess[str]:
    cmd = [*CLI, "--dsn", dsn.url(), "dial", "--ami", ami, "--spool", str(spool)]
    return subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)


def overdue_and_journaled(service: CallbackService, spool: Path) -> int:
    """A request past its window, and one journaled request waiting in ``spool``; the overdue id."""
    service.set_queue("400", enabled=True, did="5551000", window=600)
    old = service.request("400", "2015551234", requested_at=utcnow() - timedelta(hours=1)).request
    assert old is not None
    # Its window passed (an explicit requested_at is taken as a replay, whose window starts when stored).
    service.store.update_request(old.id, None, expires_at=utcnow() - timedelta(minutes=1))
    spool.mkdir(parents=True)
    entry = {"queue": "400", "number": "2015551299", "requested_at": utcnow().isoformat(), "uniqueid": "j.1"}
    (spool / f"{time.time_ns()}-{uuid.uuid4().hex}.json").write_text(json.dumps(entry))
    return old.id


def test_closed_ami_port_exits_5_after_replaying_and_expiring(
    dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    overdue = overdue_and_journaled(service, spool)
    result = dial(dsn, f"ami://u:p@127.0.0.1:{free_port()}", spool)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "AMI unavailable" in result.stderr and "cannot reach AMI" in result.stderr, result.stderr
    assert service.get(overdue).status is Status.EXPIRED
    assert [r.number for r in service.list(Status.PENDING)] == ["2015551299"], "the journal was replayed"
    assert not list(spool.glob("*.json"))


def test_wrong_secret_exits_5_and_says_the_login_was_refused(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    bed = asterisk(queues=QUEUES)
    spool = tmp_path / "spool"
    overdue = overdue_and_journaled(service, spool)
    result = dial(dsn, f"ami://{bed.ami_user}:wrong@127.0.0.1:{bed.ami_port}", spool)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "login" in result.stderr and "refused" in result.stderr, result.stderr
    assert service.get(overdue).status is Status.EXPIRED
    ok = dial(dsn, bed.ami_dsn, spool)  # the right secret: a normal tick
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_queue_module_that_is_gone_is_not_an_unknown_queue(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    bed = asterisk(queues=QUEUES)
    service.set_queue("400", enabled=True, did="5551000")
    assert service.request("400", "2015551234").request is not None
    bed.cli("module unload app_queue.so")
    wait_for(lambda: "app_queue" not in bed.cli("module show like app_queue"), 10, message="app_queue gone")
    result = dial(dsn, bed.ami_dsn, tmp_path / "spool")
    output = result.stdout + result.stderr
    assert "is not known" not in output, output
    assert result.returncode == 5 and "no queue module loaded" in result.stderr, output
