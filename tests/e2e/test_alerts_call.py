"""Department alerts beside real calls: with the mail server down, a callback is still requested, dialled
and closed on a real Asterisk (the agent answers, the customer's line is busy: failed); its alerts wait
and are retried, and once the mail server is back each arrives exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.callbacks import CallbackBed
from tests.testbed.serve import ServeProcess
from tests.testbed.sipp import Uas
from tests.testbed.smtp import SmtpServer
from tests.testbed.wait import wait_for

Factory = Callable[..., AsteriskInstance]


def test_mail_down_never_holds_a_call_and_each_alert_arrives_once_it_is_back(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, attempts=1)
    service.set_alerts("400", ("sales@example.com",), ("new,failed",))
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent, customer = Uas(bed, "answer", ring_s=0.2), Uas(bed, "busy")
    CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    smtp = SmtpServer()  # not started yet: its port refuses connections
    env = {"QCB_SMTP": smtp.url, "QCB_MAIL_FROM": "pbx@example.com", "QCB_ALERT_RETRY": "2"}
    args = ["--ami", bed.ami_dsn, "--poll", "60", "--dial-template", "PJSIP/{number}@trunk", "--node", "mail"]
    with agent, customer, ServeProcess(dsn.url(), tmp_path / "spool", args, env=env) as serve:
        added = json.loads(serve.cli("request", "add", "400", "2015551234", "--json").stdout)
        request_id = int(added["request"]["id"])
        wait_for(lambda: customer.invites(), 30, message="the customer is dialled")
        wait_for(
            lambda: service.get(request_id).status is Status.FAILED, 40, message="the callback fails (busy)"
        )
        assert len(agent.invites()) == 1
        # The sender tried (and stops a pass at the first alert the server cannot be reached for).
        wait_for(lambda: service.alerts(request_id)[0]["tries"] >= 2, 40, message="the first alert retried")
        rows = service.alerts(request_id)
        assert [r["kind"] for r in rows] == ["new", "failed"] and {r["status"] for r in rows} == {"pending"}
        assert "127.0.0.1" in (rows[0]["last_error"] or "")
        smtp.start()
        try:
            messages = smtp.wait_for(2, 40)
            wait_for(
                lambda: {r["status"] for r in service.alerts(request_id)} == {"sent"}, 15, message="sent"
            )
            time.sleep(12)  # another pass of the sender: nothing is sent twice
            assert sorted(m["Subject"] for m in smtp.messages()) == [
                "Callback failed: 2015551234 (queue 400)",
                "Callback requested: 2015551234 (queue 400)",
            ]
            assert len(messages) == 2
            failed = next(m for m in messages if "failed" in m["Subject"]).get_payload(decode=True).decode()
            assert "Attempts:   1" in failed and "busy" in failed
        finally:
            smtp.stop()
    log = serve.read()
    assert "Traceback" not in log, log
