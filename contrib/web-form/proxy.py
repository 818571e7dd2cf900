#!/usr/bin/env python3
"""A minimal back end for the "call me back" form (Python standard library only).

It serves the form (index.html, callback-form.js, callback-form.css from its own folder) and forwards
``POST /callback`` to freepbx-callback's ``POST /v1/callbacks`` with the API token from its environment,
so the token never reaches a browser. It passes on only the form's fields and the Idempotency-Key, and
hands back only what the page needs (the request's id and status, or the API's error).

    QCB_API_TOKEN=qcb_...            the token of `freepbx-callback apikey add website --queue 400`
    QCB_API_URL=http://127.0.0.1:8573  serve's HTTP API (the default)
    QCB_FORM_QUEUES=400,401          optional: the only queues this form may ask for
    python3 proxy.py [--listen 127.0.0.1:8080]

On a real site, put the same forwarding into the site's own back end (or run this behind its web server).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/callback-form.js": ("callback-form.js", "text/javascript; charset=utf-8"),
    "/callback-form.css": ("callback-form.css", "text/css; charset=utf-8"),
}
FIELDS = ("queue", "number", "name", "at")
MAX_BODY = 4096


class Proxy(BaseHTTPRequestHandler):
    server_version = "callback-form"
    sys_version = ""
    api_url = os.environ.get("QCB_API_URL", "http://127.0.0.1:8573").rstrip("/")
    token = os.environ.get("QCB_API_TOKEN", "")
    queues = {q.strip() for q in os.environ.get("QCB_FORM_QUEUES", "").split(",") if q.strip()}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        found = FILES.get(self.path.split("?")[0])
        if found is None:
            self._json(404, {"error": {"code": "not_found", "message": "no such page"}})
            return
        name, content_type = found
        self._send(200, (HERE / name).read_bytes(), content_type)

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/callback":
            self._json(404, {"error": {"code": "not_found", "message": "no such page"}})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._json(400, {"error": {"code": "invalid_json", "message": "empty or too large"}})
            return
        try:
            data = json.loads(self.rfile.read(length))
        except ValueError:
            self._json(400, {"error": {"code": "invalid_json", "message": "the body is not JSON"}})
            return
        if not isinstance(data, dict):
            self._json(400, {"error": {"code": "invalid_json", "message": "the body is not an object"}})
            return
        body = {k: data[k] for k in FIELDS if k in data}
        if self.queues and body.get("queue") not in self.queues:
            self._json(
                403, {"error": {"code": "queue_forbidden", "message": "this form may not use that queue"}}
            )
            return
        self._forward(body)

    def _forward(self, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.api_url}/v1/callbacks", data=json.dumps(body).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.token}")
        key = self.headers.get("Idempotency-Key")
        if key:
            request.add_header("Idempotency-Key", key[:100])
        headers: dict[str, str] = {}
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                answer = json.loads(exc.read() or b"{}")
            except ValueError:
                answer = {}
            if exc.headers.get("Retry-After"):
                headers["Retry-After"] = exc.headers["Retry-After"]
        except (OSError, ValueError) as exc:
            self.log_error("API unreachable: %s", exc)
            self._json(502, {"error": {"code": "api_unreachable", "message": "try again later"}})
            return
        if status in (401, 403) and answer.get("error", {}).get("code") != "queue_forbidden":
            self.log_error("the API refused this proxy's token: %s", answer)
            self._json(502, {"error": {"code": "misconfigured", "message": "try again later"}})
            return
        if "error" in answer:
            error = answer["error"]
            kept = {k: error[k] for k in ("code", "message", "reason", "scope") if k in error}
            self._json(status, {"error": kept}, headers)
        else:
            self._json(status, {k: answer.get(k) for k in ("id", "status", "next_attempt_at")}, headers)

    def _json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _send(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT (port 0: any free port)")
    args = parser.parse_args()
    if not Proxy.token:
        sys.exit("set QCB_API_TOKEN to a token of `freepbx-callback apikey add`")
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Proxy)
    print(f"the form is on http://{server.server_address[0]}:{server.server_address[1]}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
