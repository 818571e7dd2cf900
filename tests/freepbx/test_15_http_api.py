"""The HTTP API on the real FreePBX host: `serve --no-dialer` beside FreePBX's per-minute `dial` job, its
database found through /etc/freepbx.conf as the module's other commands find it. A client's key limited
to queue 400 asks for a callback; the request goes through queue 400's rules and FreePBX dials it (the
agent is extension 1002 behind its Local/…@from-queue member, the customer is reached through the
outbound route)."""

from __future__ import annotations

import subprocess

from tests.testbed.asterisk import free_port
from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.http_client import http
from tests.testbed.wait import wait_for

from .calls import cli, phones, tick, wait_status
from .test_03_calls import configure


def test_a_callback_posted_to_serve_on_the_freepbx_host_is_dialled(fpbx: FreePbx) -> None:
    configure(fpbx, "400", "--mode", "agent-first", "--no-notify-agents", "--min-talk", "1", "--no-did")
    token = cli(fpbx, "apikey", "add", "crm-freepbx-bed", "--queue", "400")["token"]
    port = free_port()
    log = fpbx.run_dir / "serve-http.log"
    with log.open("wb") as out:
        serve = fpbx.popen(
            ["freepbx-callback", "serve", "--no-dialer", "--port", "0", "--http", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for(lambda: "HTTP API on" in log.read_text(errors="replace"), 60, 0.3, f"serve up ({log})")
        status, body, _ = http(f"{base}/callbacks", "POST", {"queue": "400", "number": "5551311"}, token)
        assert status == 201 and body["status"] == "pending" and body["source"] == "api", (status, body)
        request_id = int(body["id"])
        status, body, _ = http(f"{base}/callbacks", "POST", {"queue": "401", "number": "5551312"}, token)
        assert status == 403 and body["error"]["code"] == "queue_forbidden", (status, body)
        status, body, _ = http(f"{base}/callbacks", "POST", {"queue": "400", "number": "5551311"}, token)
        assert status == 409 and body["error"]["request_id"] == request_id, (status, body)

        agent, customer = phones(fpbx, customer_hangup_after_s=4)
        with agent, customer:
            assert request_id in tick(fpbx)["dialled"]  # FreePBX's per-minute job, run now
            assert wait_status(fpbx, request_id, {"done", "failed", "pending"}, timeout=60) == "done"
            assert len(customer.invites()) == 1
        status, body, _ = http(f"{base}/callbacks/{request_id}", token=token)
        assert status == 200 and body["status"] == "done" and body["attempt_log"], (status, body)
    finally:
        serve.terminate()
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
        cli(fpbx, "apikey", "revoke", "crm-freepbx-bed", check=False)
        cli(fpbx, "queue", "set", "400", "--notify-agents")
