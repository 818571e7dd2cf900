"""``GET /metrics`` of a real ``serve`` process, scraped over HTTP: the database's figures move after a
request (over the API and over FastAGI), the dialer's ticks and AMI errors are counted, HTTP answers are
counted by code, the journal backlog shows what waits in the spool, and --metrics-token guards it."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from freepbx_callback.journal import Entry, Journal
from freepbx_callback.service import CallbackService
from freepbx_callback.wake import wake
from tests.agi.test_serve_fastagi import env_without_ami, play_asterisk, port_of
from tests.testbed.http_client import http
from tests.testbed.prometheus import Family, parse, value
from tests.testbed.serve import ServeProcess
from tests.testbed.wait import wait_for


def scrape(serve: ServeProcess, token: str | None = None) -> dict[str, Family]:
    request = urllib.request.Request(f"{serve.http_url()}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse(response.read().decode())


def scrape_until(
    serve: ServeProcess, ok: Callable[[dict[str, Family]], bool], message: str, token: str | None = None
) -> dict[str, Family]:
    def attempt() -> dict[str, Family] | None:
        families = scrape(serve, token)
        return families if ok(families) else None

    return wait_for(attempt, 20, interval=0.2, message=message)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_move_with_requests_ticks_and_ami_errors(
    db_dsn: str, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000")
    ami = f"ami://qcb:secret@127.0.0.1:{closed_port()}"  # nothing listens: every connect fails
    args = ["--ami", ami, "--poll", "3600", "--metrics-token", "scrape-me"]
    with ServeProcess(db_dsn, tmp_path / "spool", args, env=env_without_ami()) as serve:
        url = f"{serve.http_url()}/metrics"
        # the token is asked for, and an API key is not it
        for token in (None, "wrong"):
            try:
                urllib.request.urlopen(
                    urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
                )
                raise AssertionError("scraped without the metrics token")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401 and "Bearer" in exc.headers["WWW-Authenticate"]
        before = scrape_until(
            serve,
            lambda m: value(m, "qcb_dialer_tick_seconds_count") >= 1
            and value(m, "qcb_ami_errors_total", kind="connect") >= 1,
            "the start-up tick and a failed AMI connect, counted",
            "scrape-me",
        )
        assert value(before, "qcb_database_up") == 1
        assert value(before, "qcb_requests", status="pending", queue="400") == 0
        assert value(before, "qcb_http_requests_total", code="401") == 2
        assert value(before, "qcb_fastagi_calls_total") == 0
        assert {h for f in before.values() for h in [f.help]} and all(f.type for f in before.values())

        key = json.loads(serve.cli("apikey", "add", "crm", "--json").stdout)["token"]
        status, created, _ = http(
            f"{serve.http_url()}/v1/callbacks", "POST", {"queue": "400", "number": "2015550123"}, key
        )
        assert status == 201, created
        ticks = value(before, "qcb_dialer_tick_seconds_count")
        after = scrape_until(
            serve,
            lambda m: value(m, "qcb_dialer_tick_seconds_count") > ticks,
            "the POST woke the dialer: one more tick",
            "scrape-me",
        )
        assert value(after, "qcb_requests", status="pending", queue="400") == 1
        assert value(after, "qcb_http_requests_total", code="201") == 1
        assert value(after, "qcb_ami_errors_total", kind="tick") >= 1  # the tick found no manager

        with socket.create_connection(("127.0.0.1", port_of(serve)), timeout=10) as sock:
            play_asterisk(sock, 7)  # a caller presses 1: FastAGI request
        served = scrape_until(
            serve, lambda m: value(m, "qcb_fastagi_calls_total") == 1, "the FastAGI call counted", "scrape-me"
        )
        assert value(served, "qcb_requests", status="pending", queue="400") == 2
        assert value(served, "qcb_http_requests_total", code="200") >= 2  # the earlier scrapes
    assert serve.stop() == 0


def test_journal_backlog_and_a_scrape_without_token(
    db_dsn: str, service: CallbackService, tmp_path: Path
) -> None:
    service.set_queue("400", enabled=True, did="5551000")
    spool = tmp_path / "spool"
    with ServeProcess(db_dsn, spool, ["--no-dialer", "--poll", "3600"], env=env_without_ami()) as serve:
        first = scrape(serve)  # no token asked for by default
        assert value(first, "qcb_journal_backlog", kind="request") == 0
        assert "qcb_ami_errors_total" in first and value(first, "qcb_dialer_tick_seconds_count") == 0
        # serve froze what it loaded once started: the cycle collector's full collections skip it
        assert value(first, "python_gc_frozen_objects") > 10_000
        assert {g for (_, labels) in first["python_gc_collections_total"].samples for _, g in labels} == {
            "0",
            "1",
            "2",
        }
        now = datetime.now(UTC).replace(tzinfo=None).isoformat()
        Journal(spool).append(Entry(queue="400", number="2015550177", requested_at=now, uniqueid="metrics.1"))
        waiting = scrape(serve)
        assert value(waiting, "qcb_journal_backlog", kind="request") == 1
        assert value(waiting, "qcb_requests", status="pending", queue="400") == 0
        assert wake(spool)  # as the CLI pokes serve
        replayed = scrape_until(
            serve, lambda m: value(m, "qcb_journal_backlog", kind="request") == 0, "the journal replayed"
        )
        assert value(replayed, "qcb_requests", status="pending", queue="400") == 1
        _, document, _ = http(f"{serve.http_url()}/v1/openapi.json")
        assert "get" in document["paths"]["/metrics"]
    assert serve.stop() == 0
