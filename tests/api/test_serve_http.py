"""The HTTP API of a real `serve --no-dialer` process, driven over real HTTP (urllib): keys made with the
CLI, every answer an integrator relies on (201, 400, 401, 403, 404, 405, 409, 413, 422, 429), GET, DELETE,
idempotent retries, and the OpenAPI document covering every route the server answers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from freepbx_callback.http_api import ROUTES
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from tests.testbed.http_client import http
from tests.testbed.serve import ServeProcess


def token_of(serve: ServeProcess, *args: str) -> str:
    return str(json.loads(serve.cli("apikey", "add", *args, "--json").stdout)["token"])


def test_the_api_of_a_running_serve(db_dsn: str, service: CallbackService, tmp_path: Path) -> None:
    service.set_queue("400", enabled=True, did="5551000")
    service.set_queue("401", enabled=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCB_")}  # no AMI setting at all
    with ServeProcess(db_dsn, tmp_path / "spool", ["--no-dialer", "--poll", "3600"], env=env) as serve:
        base = serve.http_url()
        assert base.startswith("http://127.0.0.1:") and not base.endswith(":8573")
        crm = token_of(serve, "crm", "--per-number-hour", "2")
        web = token_of(serve, "web", "--queue", "401", "--per-minute", "2")
        callbacks = f"{base}/v1/callbacks"

        # 201: stored through the key press's policy
        status, created, headers = http(callbacks, "POST", {"queue": "400", "number": "2015550123"}, crm)
        assert status == 201, created
        assert created["status"] == "pending" and headers["Location"] == f"/v1/callbacks/{created['id']}"
        assert service.get(created["id"]).source == "api"
        assert [e["event"] for e in created["events"]] == ["requested"] and headers[
            "Server"
        ] == "freepbx-callback"
        # 409: a duplicate names the open request
        status, dup, _ = http(callbacks, "POST", {"queue": "400", "number": "+1 201-555-0123"}, crm)
        assert (status, dup["error"]["code"], dup["error"]["request_id"]) == (409, "duplicate", created["id"])
        # 422: a refused number, with its reason
        status, refused, _ = http(callbacks, "POST", {"queue": "400", "number": "9005550123"}, crm)
        assert (status, refused["error"]["code"], refused["error"]["reason"]) == (
            422,
            "number_refused",
            "premium",
        )
        # 429: the number's limit (2 per hour: the 201 and the 409 above)
        status, limited, headers = http(callbacks, "POST", {"queue": "400", "number": "2015550123"}, crm)
        assert (status, limited["error"]["code"]) == (429, "rate_limited") and int(headers["Retry-After"]) > 0
        # 401: no token, an unknown one, a revoked one
        status, no_token, headers = http(callbacks, "POST", {"queue": "400", "number": "2015550124"})
        assert (status, no_token["error"]["code"]) == (401, "unauthorized") and "Bearer" in headers[
            "WWW-Authenticate"
        ]
        assert http(callbacks, "POST", {"queue": "400", "number": "2015550124"}, "qcb_forged")[0] == 401
        # 403: a key limited to queue 401
        status, forbidden, _ = http(callbacks, "POST", {"queue": "400", "number": "2015550124"}, web)
        assert (status, forbidden["error"]["code"]) == (403, "queue_forbidden")
        assert http(f"{callbacks}/{created['id']}", token=web)[0] == 403
        # the key's own limit: 2 per minute
        assert http(callbacks, "POST", {"queue": "401", "number": "2015550125"}, web)[0] == 201
        assert http(callbacks, "POST", {"queue": "401", "number": "2015550126"}, web)[0] == 201
        status, over, _ = http(callbacks, "POST", {"queue": "401", "number": "2015550127"}, web)
        assert (status, over["error"]["code"], over["error"]["scope"]) == (429, "rate_limited", "key")
        # 400, 404, 405, 413
        assert http(callbacks, "POST", b"{not json", crm)[1]["error"]["code"] == "invalid_json"
        assert http(callbacks, "POST", {"queue": "400"}, crm)[0] == 400
        assert http(f"{callbacks}/999999", token=crm)[0] == 404
        assert http(f"{base}/v1/nothing", token=crm)[0] == 404
        status, _, headers = http(callbacks, "GET", token=crm)
        assert status == 405 and headers["Allow"] == "POST"
        assert (
            http(callbacks, "POST", b"{" + b" " * 20000 + b"}", crm)[1]["error"]["code"] == "body_too_large"
        )
        # Idempotency-Key: the same body again gets the first answer, not a 409
        body = {"queue": "400", "number": "2015550128", "name": "Ann"}
        first = http(callbacks, "POST", body, crm, Idempotency_Key="form-1")
        again = http(callbacks, "POST", body, crm, Idempotency_Key="form-1")
        assert first[0] == again[0] == 201 and first[1]["id"] == again[1]["id"]
        assert again[2]["Idempotent-Replayed"] == "true"
        # GET: the request with its attempts and history
        status, shown, _ = http(f"{callbacks}/{first[1]['id']}", token=crm)
        assert status == 200 and shown["name"] == "Ann" and shown["attempt_log"] == []
        assert [e["event"] for e in shown["events"]] == ["requested"]
        # DELETE: cancelled; again: 409
        status, cancelled, _ = http(f"{callbacks}/{created['id']}", "DELETE", token=crm)
        assert (status, cancelled["status"], cancelled["call"]) == (200, "cancelled", None)
        assert service.get(created["id"]).status is Status.CANCELLED
        assert http(f"{callbacks}/{created['id']}", "DELETE", token=crm)[1]["error"]["code"] == "not_open"
        # a revoked key stops at once
        serve.cli("apikey", "revoke", "web")
        assert http(f"{callbacks}/{first[1]['id']}", token=web)[1]["error"]["code"] == "invalid_token"
        # OpenAPI: every route the server answers is documented, and answers (no 404/405)
        status, document, _ = http(f"{base}/v1/openapi.json")
        assert status == 200 and document["openapi"].startswith("3.")
        for method, template, _, _ in ROUTES:
            assert method.lower() in document["paths"][template], (method, template)
            answered = http(base + template.replace("{id}", str(first[1]["id"])), method, {}, crm)[0]
            assert answered not in (404, 405), (method, template, answered)
        assert serve.stop() == 0
    log = serve.read()
    assert "Traceback" not in log, log
    assert "POST /v1/callbacks 201" in log


def test_a_bad_or_taken_http_address_is_a_clear_error(db_dsn: str) -> None:
    import socket

    from click.testing import CliRunner

    from freepbx_callback.cli import cli

    def serve(address: str) -> Any:
        args = ["--dsn", db_dsn, "serve", "--port", "0", "--no-dialer", "--http", address]
        return CliRunner().invoke(cli, args, env={"QCB_AMI": "ami://u:p@127.0.0.1:1"})

    bad = serve("nowhere")
    assert bad.exit_code == 2 and "--http 'nowhere': use HOST:PORT" in bad.output, bad.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = serve(f"127.0.0.1:{port}")
    assert busy.exit_code == 2 and f"cannot listen on 127.0.0.1:{port} (HTTP API)" in busy.output, busy.output
    assert "Traceback" not in busy.output
