"""A TCP proxy in front of Asterisk's AMI that holds Asterisk's answer to an Originate.

Everything the client writes reaches Asterisk at once (so Asterisk really places the call); what
Asterisk writes back after an ``Action: Originate`` passed through is held for ``hold_s`` seconds,
which is what a slow or stalled manager looks like to the client: its answer comes after the client's
timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class HoldingAmiProxy:
    def __init__(self, upstream_port: int, hold_s: float, host: str = "127.0.0.1") -> None:
        self.upstream = (host, upstream_port)
        self.hold_s = hold_s
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self.originates = 0
        self._hold_until = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = [self.listener]

    def start(self) -> HoldingAmiProxy:
        self._spawn(self._accept)
        return self

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            self._spawn(self._client_to_server, client, server)
            self._spawn(self._server_to_client, server, client)

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                if b"Action: Originate" in data:
                    self.originates += 1
                    self._hold_until = time.monotonic() + self.hold_s
                server.sendall(data)
        except OSError:
            pass
        finally:
            _shut(server)

    def _server_to_client(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while data := server.recv(65536):
                wait = self._hold_until - time.monotonic()
                if wait > 0 and b"ActionID" in data:
                    time.sleep(wait)
                client.sendall(data)
        except OSError:
            pass
        finally:
            _shut(client)

    def stop(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            _shut(sock)
            sock.close()

    def __enter__(self) -> HoldingAmiProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
