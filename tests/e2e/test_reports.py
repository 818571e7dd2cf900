"""Reports in Asterisk's own files: one callback in the bed writes its queue_log lines (once each, also
when serve restarts between the request and the attempt) and carries its mark on both legs' CDRs."""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from freepbx_callback.ami import Ami, AmiConfig
from freepbx_callback.config import Dsn
from freepbx_callback.dialer import Dialer, DialerConfig
from freepbx_callback.journal import Journal
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.testbed.asterisk import NOLOAD_MODULES, PROJECT_ROOT, AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.serve import CLI
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]
CALLER_UNIQUEID = "1764579600.42"  # the caller's queue call that pressed 1
# CDRs on: cdr_custom writes the fields read below to cdr-custom/Master.csv in the log folder.
CDR_CONFIGS = {
    "modules.conf": "[modules]\nautoload = yes\n"
    + "".join(f"noload => {name}\n" for name in NOLOAD_MODULES if name != "cdr_custom.so"),
    "cdr.conf": "[general]\nenable = yes\nunanswered = yes\n",
    "cdr_custom.conf": "[mappings]\nMaster.csv => ${CSV_QUOTE(${CDR(accountcode)})},"
    "${CSV_QUOTE(${CDR(channel)})},${CSV_QUOTE(${CDR(dstchannel)})},${CSV_QUOTE(${CDR(userfield)})}\n",
}


def callback_lines(bed: AsteriskInstance) -> list[list[str]]:
    path = bed.log_dir / "queue_log"
    if not path.exists():
        return []
    rows = [line.split("|") for line in path.read_text().splitlines()]
    return [row for row in rows if len(row) > 4 and row[4].startswith("CALLBACK")]


def test_one_callback_in_queue_log_once_and_marked_in_cdr(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=1)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()}, extra_configs=CDR_CONFIGS)
    (bed.log_dir / "cdr-custom").mkdir(parents=True)  # cdr_custom writes only into an existing folder
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=3)
    cb = CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        stored = service.request(
            "400", "2015551234", uniqueid=CALLER_UNIQUEID, source="agi", position=2, waited=40
        )
        request = stored.request
        assert request is not None
        # Not due yet: the first serve sees the request (stored where there is no AMI) and logs it.
        service.reschedule(request.id, service.clock() + timedelta(hours=1))
        first = cb.dialer(tmp_path / "spool")
        assert first.tick().logged == 1
        first.drop_service()
        wait_for(lambda: len(callback_lines(bed)) == 1, 10, message="the request's queue_log line")
        # serve restarts (a new process: nothing in memory) and the request falls due.
        service.retry(request.id)
        second = cb.dialer(tmp_path / "spool")
        report = second.tick()
        assert report.dialled == [request.id] and report.logged == 1  # the attempt, not the request again
        done = wait_for(
            lambda: (r := service.get(request.id)).status is not Status.DIALING and r,
            40,
            message="the outcome",
        )
        assert done.status is Status.DONE, done
        second.drop_service()
        third = cb.dialer(tmp_path / "spool")
        assert third.tick().logged == 1  # the answer
        assert third.tick().logged == 0
        third.drop_service()
        wait_for(lambda: len(callback_lines(bed)) >= 3, 10, message="the three queue_log lines")
        lines = callback_lines(bed)
        [attempt] = service.history(request.id)[0]

    assert [row[4] for row in lines] == ["CALLBACKREQUEST", "CALLBACKATTEMPT", "CALLBACKANSWERED"], lines
    assert {(row[1], row[2]) for row in lines} == {(CALLER_UNIQUEID, "400")}
    rid = str(request.id)
    assert lines[0][3:] == ["NONE", "CALLBACKREQUEST", rid, "2015551234", "2", "40", "agi"]
    assert lines[1][3:] == ["NONE", "CALLBACKATTEMPT", rid, "2015551234", "1"]
    answered = lines[2]
    assert answered[3] == (attempt.agent or "NONE") and answered[5:8] == [rid, "2015551234", "1"], answered
    assert int(answered[8]) >= 0 and int(answered[9]) == attempt.talk_seconds, (answered, attempt)

    # CDR: both legs of the callback (to the agent, to the customer) carry qcb:<request id>.
    master = bed.log_dir / "cdr-custom" / "Master.csv"

    def legs() -> set[str]:
        records = list(csv.reader(master.read_text().splitlines())) if master.exists() else []
        marked = [r for r in records if r[0] == f"qcb:{request.id}"]
        return {r[1].split("-")[0] for r in marked} | {r[2].split("-")[0] for r in marked}

    wait_for(lambda: {"PJSIP/agent", "PJSIP/trunk"} <= legs(), 10, message="both legs marked in CDR")


def test_a_queue_log_that_asterisk_refuses_never_holds_up_a_callback(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """A manager user without the ``agent`` write class may not use QueueLog: the callback is dialled
    all the same, and the tick goes on without the lines."""
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=1)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    bed.extra_configs["manager.conf"] = (
        f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = {bed.ami_port}\n\n"
        f"[{bed.ami_user}]\nsecret = {bed.ami_secret}\npermit = 127.0.0.1/255.255.255.255\n"
        "read = all\nwrite = all\n\n"
        f"[nolog]\nsecret = {bed.ami_secret}\npermit = 127.0.0.1/255.255.255.255\n"
        "read = all\nwrite = system,call,originate,reporting\n"
    )
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=2)
    CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    with agent, customer:
        request = service.request("400", "2015551234", uniqueid=CALLER_UNIQUEID, source="agi").request
        assert request is not None
        dialer = Dialer(
            lambda: CallbackService(Store.connect(dsn)),
            lambda: Ami(AmiConfig("nolog", bed.ami_secret, "127.0.0.1", bed.ami_port)),
            Journal(tmp_path / "spool"),
            DialerConfig(dial_template="PJSIP/{number}@trunk", agent_timeout=15, ring_timeout=8, node="n"),
        )
        report = dialer.tick()
        assert (report.dialled, report.logged, report.ami_down) == ([request.id], 0, "")
        done = wait_for(
            lambda: (r := service.get(request.id)).status is not Status.DIALING and r,
            40,
            message="the outcome",
        )
        assert done.status is Status.DONE, done
        assert dialer.tick().ami_down == ""
    assert callback_lines(bed) == []


def test_dial_writes_the_queue_log_unless_switched_off(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    """The cron tick writes the lines too; ``--no-queue-log`` leaves the events waiting (none lost)."""
    bed = asterisk(queues="[400]\nstrategy = ringall\nmember => PJSIP/agent\n")  # no agent reachable
    service.set_queue("400", enabled=True, did="5551000")
    request = service.request("400", "2015551234", uniqueid=CALLER_UNIQUEID).request
    late = service.request("400", "2015551299").request
    assert request is not None and late is not None
    service.store.update_request(late.id, None, expires_at=service.clock() - timedelta(minutes=1))

    def dial(*flags: str) -> None:
        cmd = [*CLI, "--dsn", dsn.url(), "dial", "--ami", bed.ami_dsn, "--spool", str(tmp_path), *flags]
        result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    dial("--no-queue-log")  # expires the late one
    assert [row.event for row in service.queue_log_pending()] == ["requested", "requested", "expired"]
    dial()
    wait_for(lambda: len(callback_lines(bed)) == 3, 10, message="the three lines")
    assert service.queue_log_pending() == []
    lines = callback_lines(bed)
    assert [(row[1], row[4]) for row in lines] == [
        (CALLER_UNIQUEID, "CALLBACKREQUEST"),
        (f"qcb-{late.id}", "CALLBACKREQUEST"),
        (f"qcb-{late.id}", "CALLBACKEXPIRED"),
    ]
    assert lines[2][5:] == [str(late.id), "2015551299", "0", "not dialled within the window"]
