"""Database connections (each a CallbackService) that finished calls give back for the next ones: the
FastAGI server and the HTTP API keep a few open instead of logging in to the database on every call."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .service import CallbackService


class ServicePool:
    def __init__(self, factory: Callable[[], CallbackService], keep: int) -> None:
        self.factory, self.keep = factory, keep
        self._lock = threading.Lock()
        self._idle: list[CallbackService] = []  # newest last

    def checkout(self) -> CallbackService:
        """A service for one call: a connection a finished call gave back (its first statement checks it,
        see Store.verify_on_first_use: one the server closed meanwhile is replaced), else a new one."""
        with self._lock:
            svc = self._idle.pop() if self._idle else None
        if svc is None:
            return self.factory()
        svc.store.verify_on_first_use()
        return svc

    def give_back(self, svc: CallbackService, clean: bool) -> None:
        """Keep the connection of a call that ended cleanly outside any transaction for the next call."""
        if clean and svc.store.idle():
            with self._lock:
                if len(self._idle) < self.keep:
                    self._idle.append(svc)
                    return
        svc.store.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for svc in idle:
            svc.store.close()
