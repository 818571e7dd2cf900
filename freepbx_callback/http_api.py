"""The HTTP API server ``serve`` runs beside FastAGI and the dialer loop (standard library only).

Thin: a route table (method, path template, handler), JSON in and out, errors as
``{"error": {"code", "message"}}``. The work is in :mod:`.api_service`. Another route (``GET /metrics``)
is added with :meth:`ApiServer.add_route` (:mod:`.metrics`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .api import MAX_BODY, ApiError, check_idempotency_key
from .api_service import ApiService
from .openapi import DOCUMENT
from .pool import ServicePool
from .service import CallbackService
from .store import StoreError, StoreUnavailable

log = logging.getLogger("freepbx_callback.http")
IDLE_CONNECTIONS = 4  # database connections kept open between HTTP requests
# Requests handled at once; the others wait for a slot (up to SLOT_WAIT s, then 503). A flood of clients
# costs threads waiting on a semaphore, never database connections or memory beyond that.
SLOTS = 16
SLOT_WAIT = 10.0
READ_TIMEOUT = 30  # seconds a client may take to send its request (a silent connection is dropped)
PURGE_EVERY = 600.0  # seconds between purges of ended rate windows and old idempotent answers

# (status, body, headers): a dict body is sent as JSON; bytes as they are (with Content-Type in headers).
Response = tuple[int, "dict[str, Any] | bytes", dict[str, str]]


@dataclass
class Call:
    """One HTTP request as a handler sees it."""

    method: str
    path: str
    params: dict[str, str]
    headers: Any  # http.client.HTTPMessage
    body: bytes
    api: ApiService


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/v1/callbacks/{id}"
    handler: Handler
    auth: bool = True  # a bearer token is required
    regex: re.Pattern[str] = re.compile("")

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        return found.groupdict() if found else None


def _regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(pattern)


# --- the API's routes ---------------------------------------------------------------------------------


def _authenticated(call: Call) -> Any:
    return call.api.authenticate(call.headers.get("Authorization"))


def post_callback(call: Call) -> Response:
    key = _authenticated(call)
    idempotency_key = check_idempotency_key(call.headers.get("Idempotency-Key"))
    return call.api.create(key, call.body, idempotency_key)


def get_callback(call: Call) -> Response:
    return call.api.show(_authenticated(call), call.params["id"])


def delete_callback(call: Call) -> Response:
    return call.api.cancel(_authenticated(call), call.params["id"])


def get_openapi(call: Call) -> Response:
    return 200, DOCUMENT, {}


ROUTES = [
    ("POST", "/v1/callbacks", post_callback, True),
    ("GET", "/v1/callbacks/{id}", get_callback, True),
    ("DELETE", "/v1/callbacks/{id}", delete_callback, True),
    ("GET", "/v1/openapi.json", get_openapi, False),
]


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        service: Callable[[], CallbackService],
        on_created: Callable[[], None] | None = None,
        end_call: Callable[[str], str] | None = None,
    ) -> None:
        self.service_factory, self.on_created, self.end_call = service, on_created, end_call
        self.routes: list[Route] = []
        for method, template, handler, auth in ROUTES:
            self.add_route(method, template, handler, auth)
        self._lock = threading.Lock()
        self.pool = ServicePool(service, IDLE_CONNECTIONS)
        self._purged = 0.0
        self.requests = 0
        self.responses: dict[int, int] = {}  # answers by status code (GET /metrics)
        self.slots = threading.BoundedSemaphore(SLOTS)
        super().__init__(address, _Handler)

    def add_route(self, method: str, template: str, handler: Handler, auth: bool = True) -> None:
        self.routes.append(Route(method, template, handler, auth, _regex(template)))

    def response_counts(self) -> dict[int, int]:
        with self._lock:
            return dict(self.responses)

    def find(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """(the route, its path parameters, the methods the path allows)."""
        allowed: list[str] = []
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, params, [route.method]
            allowed.append(route.method)
        return None, {}, allowed

    # --- database connections ------------------------------------------------------------------------

    def checkout(self) -> CallbackService:
        return self.pool.checkout()

    def give_back(self, svc: CallbackService, clean: bool) -> None:
        self.pool.give_back(svc, clean)

    def housekeeping(self, api: ApiService) -> None:
        """Now and then: drop ended rate windows and expired idempotent answers."""
        now = time.monotonic()
        with self._lock:
            if self._purged and now - self._purged < PURGE_EVERY:
                return
            self._purged = now
        try:
            api.purge()
        except StoreError as exc:
            log.warning("API housekeeping failed: %s", exc)

    def server_close(self) -> None:
        super().server_close()
        self.pool.close()


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "freepbx-callback"
    sys_version = ""
    timeout = READ_TIMEOUT

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("http %s " + format, self.address_string(), *args)

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path
        route, params, allowed = self.server.find(method, path)
        svc: CallbackService | None = None
        clean = False
        slot = False
        try:
            if route is None:
                self.close_connection = True  # its body (if any) is not read
                if allowed:
                    raise ApiError(
                        405,
                        "method_not_allowed",
                        f"{method} is not allowed on {path}",
                        headers={"Allow": ", ".join(allowed)},
                    )
                raise ApiError(404, "not_found", f"no such resource: {path}")
            body = self._body()
            slot = self.server.slots.acquire(timeout=SLOT_WAIT)
            if not slot:
                raise ApiError(503, "busy", "too many requests at once", headers={"Retry-After": "1"})
            if route.auth or route.method != "GET":
                svc = self.server.checkout()
            api = ApiService(svc, self.server.on_created, self.server.end_call) if svc else None
            status, data, headers = route.handler(Call(method, path, params, self.headers, body, api))  # type: ignore[arg-type]
            clean = True
            if api is not None and method == "POST":
                self.server.housekeeping(api)
        except ApiError as exc:
            status, data, headers = exc.status, exc.body(), exc.headers
            clean = True
        except StoreError as exc:  # unreachable, or a race lost to another writer: try again
            log.warning("HTTP %s %s: %s", method, path, exc)
            code = "database_unavailable" if isinstance(exc, StoreUnavailable) else "conflict_retry"
            status, data, headers = 503, ApiError(503, code, str(exc)).body(), {"Retry-After": "1"}
        except Exception:
            log.exception("HTTP %s %s failed", method, path)
            status, data, headers = 500, ApiError(500, "internal_error", "internal error").body(), {}
        finally:
            if svc is not None:
                self.server.give_back(svc, clean)
            if slot:
                self.server.slots.release()
        self._send(method, status, data, headers)
        with self.server._lock:
            self.server.requests += 1
            self.server.responses[status] = self.server.responses.get(status, 0) + 1
        log.info("HTTP %s %s %d %.1f ms", method, path, status, (time.perf_counter() - started) * 1000)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            self.close_connection = True
            raise ApiError(411, "length_required", "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "invalid_length", "bad Content-Length") from None
        if length > MAX_BODY:
            self.close_connection = True  # the body is not read
            raise ApiError(413, "body_too_large", f"the body is over {MAX_BODY} bytes")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, method: str, status: int, data: dict[str, Any] | bytes, headers: dict[str, str]) -> None:
        if isinstance(data, bytes):
            payload, content_type = data, headers.pop("Content-Type", "application/octet-stream")
        else:
            payload = json.dumps(data, indent=1, sort_keys=True, default=str).encode() + b"\n"
            content_type = "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)


def start(
    address: tuple[str, int],
    service: Callable[[], CallbackService],
    on_created: Callable[[], None] | None = None,
    end_call: Callable[[str], str] | None = None,
) -> tuple[ApiServer, threading.Thread]:
    """Bind (OSError if the address is taken) and serve in a thread of its own."""
    server = ApiServer(address, service, on_created, end_call)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="http")
    thread.daemon = True
    thread.start()
    return server, thread


def ami_hangup(connect: Callable[[], Any]) -> Callable[[str], str]:
    """``end_call`` over a fresh AMI connection per cancel (the dialer loop's own is not shared)."""
    from .dialer import end_cancelled_call

    def end(channel_id: str) -> str:
        ami = connect()
        try:
            return end_cancelled_call(ami, channel_id)
        finally:
            ami.close()

    return end
