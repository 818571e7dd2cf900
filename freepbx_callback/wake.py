"""Waking the ``serve`` dialer loop: in-process (FastAGI) and from other processes (the CLI).

``serve`` binds a unix datagram socket ``serve.wake`` in its journal folder; ``request add`` and
``request retry`` send one byte to it after their commit (best-effort: no ``serve``, no harm; the
safety poll still comes). The loop waits on this socket, on its AMI connection and on an in-process
socket pair at once, so any of them ends the wait at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from pathlib import Path

SOCKET_NAME = "serve.wake"
_SUN_PATH_MAX = 107


def address(folder: Path) -> str:
    """The wake socket of the ``serve`` whose journal is ``folder``: a file there, or an abstract
    socket named after it where the path is too long for a unix socket."""
    path = str(Path(os.path.abspath(folder)) / SOCKET_NAME)
    if len(path.encode()) <= _SUN_PATH_MAX:
        return path
    return "\0qcb-wake-" + hashlib.sha256(path.encode()).hexdigest()[:32]


def wake(folder: Path) -> bool:
    """Tell the ``serve`` of journal ``folder`` to tick now; False when none listens."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(b"w", address(folder))
        return True
    except OSError:
        return False


class Waker(threading.Event):
    """A :class:`threading.Event` whose ``set()`` also ends a ``select()`` on :meth:`fileno`; with
    :meth:`listen` other processes can set it through the wake socket."""

    def __init__(self) -> None:
        super().__init__()
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self.listener: socket.socket | None = None
        self.bound: str | None = None

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):  # a full pipe already wakes the loop
            self._write.send(b"w")

    def listen(self, folder: Path) -> str:
        """Bind the wake socket of ``folder`` (created if missing); returns its address."""
        where = address(folder)
        if not where.startswith("\0"):
            folder.mkdir(mode=0o750, parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(where)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(where)
        sock.setblocking(False)
        if not where.startswith("\0"):
            os.chmod(where, 0o660)
        self.listener, self.bound = sock, where
        return where

    def filenos(self) -> list[int]:
        fds = [self._read.fileno()]
        if self.listener is not None:
            fds.append(self.listener.fileno())
        return fds

    def drain(self) -> bool:
        """Empty both sockets; True when another process asked for a tick."""
        woken = False
        with contextlib.suppress(OSError):
            while self._read.recv(4096):
                pass
        if self.listener is not None:
            with contextlib.suppress(OSError):
                while self.listener.recv(64):
                    woken = True
        if woken:
            super().set()
        return woken

    def close(self) -> None:
        for sock in (self._read, self._write, self.listener):
            if sock is not None:
                sock.close()
        if self.bound and not self.bound.startswith("\0"):
            with contextlib.suppress(OSError):
                os.unlink(self.bound)
