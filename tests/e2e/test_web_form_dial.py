"""The web form end to end: a visitor fills in contrib/web-form in headless Chromium, its proxy.py posts
to a running `serve` on a real Asterisk, the page says it worked, the row appears, the agent's phone rings
with the customer's number and the customer is called back. serve's GET /metrics, scraped before and
after, moved with it: the request by status, the attempt's outcome, the dialer's ticks, the HTTP 201."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.api.test_metrics import scrape
from tests.testbed.asterisk import AsteriskInstance
from tests.testbed.browser import chromium
from tests.testbed.callbacks import CallbackBed
from tests.testbed.prometheus import value
from tests.testbed.serve import ServeProcess
from tests.testbed.sipp import Uas
from tests.testbed.wait import wait_for
from tests.testbed.web_form import FormProxy, Visitor

Factory = Callable[..., AsteriskInstance]
POLL = "60"  # the safety poll: the ring comes well before it, woken by the POST


def test_a_form_request_is_dialled_and_counted_in_metrics(
    asterisk: Factory, dsn: Dsn, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000", notify_agents=False, min_talk=1)
    bed = asterisk(start=False, env={"QCB_DSN": dsn.url()})
    agent = Uas(bed, "answer", ring_s=0.2)
    customer = Uas(bed, "answer", ring_s=0.2, hangup_after_s=2)
    CallbackBed.start(bed, dsn, service, {"agent": agent}, customer)
    args = ["--ami", bed.ami_dsn, "--poll", POLL, "--dial-template", "PJSIP/{number}@trunk", "--node", "form"]
    with agent, customer, ServeProcess(dsn.url(), tmp_path / "spool", args) as serve:
        token = json.loads(serve.cli("apikey", "add", "website", "--queue", "400", "--json").stdout)["token"]
        wait_for(service.nodes, 15, message="serve's first tick (its heartbeat)")
        before = scrape(serve)
        assert value(before, "qcb_requests", status="pending", queue="400") == 0
        driver = chromium()
        try:
            with FormProxy(serve.http_url(), token, tmp_path / "proxy.log") as proxy:
                visitor = Visitor(driver, proxy.url)
                visitor.fill("+1 201 555 1234", name="Ann Smith")
                kind, message = visitor.submit()
                assert kind == "created", message
        finally:
            driver.quit()
        [row] = service.list()
        assert (row.e164, row.source) == ("+12015551234", "api")
        [invite] = wait_for(agent.invites, 20, interval=0.05, message="the agent's phone rings")
        assert "2015551234" in (invite.header("From") or "")
        wait_for(customer.invites, 20, message="the customer is called back")
        wait_for(lambda: service.get(row.id).status is Status.DONE, 40, message="the callback done")
        after = wait_for(
            lambda: (m := scrape(serve)) and value(m, "qcb_attempts_total", outcome="answered") == 1 and m,
            10,
            message="the answered attempt counted",
        )
        assert value(after, "qcb_requests", status="done", queue="400") == 1
        assert value(after, "qcb_requests", status="pending", queue="400") == 0
        assert value(after, "qcb_http_requests_total", code="201") == 1
        assert value(after, "qcb_dialer_tick_seconds_count") > value(before, "qcb_dialer_tick_seconds_count")
        assert value(after, "qcb_ami_errors_total", kind="connect") == 0
    log = serve.read()
    assert "Traceback" not in log, log
