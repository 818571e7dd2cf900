"""contrib/web-form in headless Chromium, through its proxy.py, against a running `serve`: the browser's
checks, then every answer a visitor can get (created, the same form sent twice, duplicate, refused with
the API's reason, rate limited, a scheduled time in the visitor's time zone), each with the row it left
in the database. The API token stays in the proxy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.agi.test_serve_fastagi import env_without_ami
from tests.testbed.browser import chromium
from tests.testbed.http_client import http
from tests.testbed.serve import ServeProcess
from tests.testbed.web_form import FORM_DIR, FormProxy, Visitor

VISITOR_TZ = "Europe/Berlin"


def test_the_form_through_its_proxy(db_dsn: str, service: CallbackService, tmp_path: Path) -> None:
    service.set_queue("400", enabled=True, did="5551000")
    with ServeProcess(
        db_dsn, tmp_path / "spool", ["--no-dialer", "--poll", "3600"], env=env_without_ami()
    ) as serve:
        token = json.loads(
            serve.cli("apikey", "add", "website", "--queue", "400", "--per-number-hour", "2", "--json").stdout
        )["token"]
        driver = chromium(tz=VISITOR_TZ)
        try:
            with FormProxy(serve.http_url(), token, tmp_path / "proxy.log", queues="400") as proxy:
                visitor = Visitor(driver, proxy.url)
                assert token not in driver.page_source
                assert all(token not in p.read_text() for p in FORM_DIR.iterdir() if p.is_file())

                # the browser's own checks: nothing is sent
                visitor.fill("call me")
                assert visitor.submit()[0] == "invalid"
                visitor.fill("+1 201 555 0123", at="2020-01-01T10:00")
                kind, message = visitor.submit()
                assert kind == "invalid" and "past" in message
                assert service.list() == []

                # created: the row is there, from the API, with the visitor's name
                visitor.fill("+1 (201) 555-0123", name="Ann Smith")
                kind, message = visitor.submit()
                assert kind == "created" and "call you back" in message, message
                shot = visitor.screenshot("created.png")
                [row] = service.list()
                assert (row.queue, row.e164, row.source, row.status) == (
                    "400",
                    "+12015550123",
                    "api",
                    Status.PENDING,
                )
                _, shown, _ = http(f"{serve.http_url()}/v1/callbacks/{row.id}", token=token)
                assert shown["name"] == "Ann Smith"
                # the same form sent again (a double click): the first answer, no second row
                assert visitor.submit()[0] == "created"
                assert len(service.list()) == 1
                # another body for the same number: the open request is named
                visitor.fill("2015550123", name="Ann")
                kind, message = visitor.submit()
                assert kind == "duplicate" and "already" in message, message
                # refused, with the API's reason
                visitor.fill("900 555 0123")
                kind, message = visitor.submit()
                assert kind == "refused" and "premium" in message, message
                # rate limited: 2 per number and hour (the created and the duplicate above)
                visitor.fill("201 555 0123", name="Ann S.")
                kind, message = visitor.submit()
                assert kind == "rate_limited" and "try again in" in message, message
                assert len(service.list()) == 1

                # a time: the visitor's own clock (Berlin), stored in UTC
                local = (datetime.now(ZoneInfo(VISITOR_TZ)) + timedelta(days=1)).replace(
                    hour=10, minute=0, second=0, microsecond=0
                )
                visitor.fill("2015550150", name="Bob", at=local.strftime("%Y-%m-%dT%H:%M"))
                kind, message = visitor.submit()
                assert kind == "created" and "call you back at" in message and "10:00" in message, message
                [scheduled] = [r for r in service.list() if r.number.endswith("2015550150")]
                assert scheduled.next_attempt_at.replace(tzinfo=UTC) == local.astimezone(UTC)
        finally:
            driver.quit()
        print(f"\nscreenshot of the filled form and its answer: {shot}")
    log = serve.read()
    assert "Traceback" not in log, log


def test_the_proxy_forwards_only_its_queues_and_says_when_the_api_is_down(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there once closed
    with FormProxy(down, "qcb_secret", tmp_path / "proxy.log", queues="400") as proxy:
        post = f"{proxy.url}callback"
        status, answer, _ = http(post, "POST", {"queue": "401", "number": "2015550123"})
        assert (status, answer["error"]["code"]) == (403, "queue_forbidden")
        status, answer, _ = http(post, "POST", {"queue": "400", "number": "2015550123"})
        assert (status, answer["error"]["code"]) == (502, "api_unreachable")
        assert http(post, "POST", b"{not json")[0] == 400
        assert http(f"{proxy.url}proxy.py")[0] == 404  # only the form's own files are served
        with urllib.request.urlopen(proxy.url, timeout=10) as page:
            assert b'class="qcb-form"' in page.read()
