"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 in a thread, keeping every message it accepts.

``SmtpServer(port)`` may be stopped and started again on the same port (a mail server that goes down
and comes back); ``SmtpServer(login=(user, password))`` accepts mail only after that AUTH login."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Keep:
    def __init__(self, box: SmtpServer) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.box.lock:
            self.box.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int | None = None, login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.login = login
        self.received: list[tuple[list[str], Message]] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        auth: dict[str, Any] = {}
        if self.login is not None:
            auth = {"authenticator": self._check, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _check(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        return AuthResult(success=given == self.login, handled=False)

    def messages(self) -> list[Message]:
        with self.lock:
            return [m for _, m in self.received]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Message]:
        """Wait until ``count`` messages arrived (a sender in another process or thread); the messages."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.messages()
            if len(got) >= count:
                return got
            time.sleep(0.1)
        raise AssertionError(f"expected {count} message(s) within {timeout} s, got {len(self.messages())}")
