"""A TCP proxy in front of a real server (Asterisk's AMI, MariaDB) for fault injection and counting.

- ``partition()``: stop forwarding both ways while keeping every connection open (a network partition:
  no RST, no FIN, bytes just vanish); ``heal()`` forwards again (what was dropped stays dropped).
- ``drop_replies``: for AMI, drop every response to an action (``Response:`` messages) while events
  keep flowing to the client.
- ``actions``: AMI actions the client sent (one ``Action:`` header per action), with their time.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import threading
import time
from types import TracebackType

_ACTION = re.compile(rb"^Action:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.partitioned = False
        self.drop_replies = False
        self.actions: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    # ---------------------------------------------------------------- control

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def partition(self) -> None:
        self.partitioned = True

    def heal(self) -> None:
        self.partitioned = False

    def actions_between(self, start: float, end: float) -> list[str]:
        with self._lock:
            return [name for at, name in self.actions if start <= at < end]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in [self.listener, *self._socks]:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- forwarding

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, None)
        pending: dict[socket.socket, bytes] = {}  # server->client bytes not yet split into messages
        while not self._stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                if key.data is None:
                    client, _ = self.listener.accept()
                    try:
                        server = socket.create_connection(self.target, timeout=5)
                    except OSError:
                        client.close()
                        continue
                    self._socks += [client, server]
                    sel.register(client, selectors.EVENT_READ, ("up", server))
                    sel.register(server, selectors.EVENT_READ, ("down", client))
                    pending[server] = b""
                    continue
                direction, peer = key.data
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    for s in (sock, peer):
                        with contextlib.suppress(KeyError, ValueError):
                            sel.unregister(s)
                        s.close()
                    continue
                if self.partitioned:
                    continue
                try:
                    if direction == "up":
                        now = time.monotonic()
                        with self._lock:
                            self.actions += [(now, m.decode()) for m in _ACTION.findall(data)]
                        peer.sendall(data)
                    else:
                        peer.sendall(self._down(pending, sock, data))
                except OSError:
                    continue
        sel.close()

    def _down(self, pending: dict[socket.socket, bytes], server: socket.socket, data: bytes) -> bytes:
        if not self.drop_replies:
            return data
        buffer = pending.get(server, b"") + data
        *messages, pending[server] = buffer.split(b"\r\n\r\n")
        kept = [m for m in messages if not m.startswith(b"Response:")]
        return b"".join(m + b"\r\n\r\n" for m in kept)
