"""FastAGI server: the same handlers as the agi-bin scripts, served at agi://host:port/<route>.

A thread per call (the handlers block on the database and on the caller), taken from the threads that
finished a call before (a few are kept waiting; a burst starts more): starting a thread is about a tenth
of a call's own time. Each call gets a database connection of its own for its duration: one a finished
call gave back (a few are kept open), else a new one.

Bursts: a hundred callers pressing 1 at once must neither wait on a full listen queue (the backlog below)
nor make every call slow. A hundred threads computing at once under the GIL would each take a hundred
times its own CPU time, and a call is only as quick as its slowest step. So a call computes (parses,
reads and writes the database) only while it holds one of a few CPU slots (:class:`Gate`); it gives the
slot back while it waits on the caller (a prompt, keys: seconds in a real call, see
``protocol.WAITING_COMMANDS``), so a slow caller never holds up the others, and a call coming back from
a prompt goes before calls not yet started. The calls not yet admitted wait with their environment
unread (the kernel holds it); once admitted a call runs through at the speed of a few, not of a hundred.
A connection is admitted only once its first byte arrived: a silent one (a port probe) holds no slot.

The first command on every call the server takes sets ``QCB_SERVED_BY``: a dialplan rendered with
``--agi-fallback`` runs the agi-bin script only when that mark is missing.
"""

from __future__ import annotations

import logging
import queue
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from ..config import FASTAGI_PORT
from ..journal import Journal
from ..pool import ServicePool
from ..service import CallbackService
from .outcome import handle_outcome
from .protocol import AgiError, AgiSession, Hangup, SessionChannel
from .request import handle_request

log = logging.getLogger(__name__)
DEFAULT_PORT = FASTAGI_PORT  # never 4573: FreePBX core's FastAGI server owns it
SERVED_MARK = "QCB_SERVED_BY"
IDLE_CONNECTIONS = 8  # database connections kept open between calls (a burst opens more, then closes them)
IDLE_WORKERS = 16  # threads kept waiting for the next call (a burst starts more; they end once it is over)
# Calls computing at once. One: under the GIL a second one mostly waits for the first anyway, and each
# admitted call then finishes in about its own time (measured with bench/agi_cost.py: 1,000 calls at 100
# in flight, the handler time's p50 4.4 ms with one slot, 6.1 ms with two). Two overlap more database
# waits (more calls per second, a shorter wait to be admitted): serve --cpu-slots.
CPU_SLOTS = 1
Route = Callable[[SessionChannel, Callable[[], CallbackService], list[str], Journal], Any]


def _request(
    channel: SessionChannel, service: Callable[[], CallbackService], args: list[str], journal: Journal
) -> Any:
    if not args:
        channel.set_variable("QCB_NEXT", "queue")
        raise AgiError("route request needs the queue as its first argument")
    return handle_request(channel, service, args[0], journal)


def _outcome(
    channel: SessionChannel, service: Callable[[], CallbackService], args: list[str], journal: Journal
) -> Any:
    return handle_outcome(channel, service, args[0] if args else "", journal)


ROUTES: dict[str, Route] = {"request": _request, "outcome": _outcome}


class Gate:
    """At most ``slots`` calls compute at once. A new call is admitted only when a slot is free and no
    call coming back from a prompt is waiting for one: calls under way finish first.

    A slot nobody gave back for STALL_S is not held by computing: its call waits on something (a database
    that does not answer, until its timeout). Then one more slot opens, and one more each STALL_S while
    that lasts, so the callers behind it are served (or journaled) on their own clocks, not one after
    another; the extra slots close again as calls give theirs back. One watcher thread looks (:meth:`watch`);
    the waiting calls sleep until woken, first come first served."""

    STALL_S = 0.2  # far above a call's own computing (a few ms), even on a busy machine

    def __init__(self, slots: int) -> None:
        lock = threading.Lock()
        self._resumers = threading.Condition(lock)
        self._newcomers = threading.Condition(lock)
        self._free = slots
        self._extra = 0  # slots opened over a stall, closed again at the next releases
        self._resuming = 0
        self._waiting = 0  # new calls waiting to be admitted
        self._moved = time.monotonic()  # the last time a slot was taken, given back or opened
        self._closed = threading.Event()
        self.stalls = 0  # slots opened over a stall

    def admit(self) -> None:
        with self._newcomers:
            self._waiting += 1
            while self._free == 0 or self._resuming:
                self._newcomers.wait()
            self._waiting -= 1
            self._free -= 1
            self._moved = time.monotonic()
            self._pass_on()

    def resume(self) -> None:
        with self._resumers:
            self._resuming += 1
            while self._free == 0:
                self._resumers.wait()
            self._resuming -= 1
            self._free -= 1
            self._moved = time.monotonic()
            self._pass_on()

    def watch(self) -> None:
        """Open a slot when calls wait and none moved for STALL_S (runs until :meth:`close`)."""
        while not self._closed.wait(self.STALL_S):
            with self._resumers:
                self._unstall()

    def close(self) -> None:
        self._closed.set()

    def release(self) -> None:
        with self._resumers:
            self._moved = time.monotonic()
            if self._extra:
                self._extra -= 1
            else:
                self._free += 1
            self._pass_on()

    def _unstall(self) -> None:
        now = time.monotonic()
        if self._free == 0 and (self._waiting or self._resuming) and now - self._moved >= self.STALL_S:
            self._free += 1
            self._extra += 1
            self.stalls += 1
            self._moved = now
            self._pass_on()

    def _pass_on(self) -> None:
        """Wake one waiter for a free slot: a call under way if one waits, else a new call."""
        if self._free:
            (self._resumers if self._resuming else self._newcomers).notify()


class FastAgiServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen queue is 5: a burst of callers pressing 1 at once would overflow it and
    # wait for TCP's SYN retransmits (1 s, 3 s, 7 s...) in silence. The kernel caps it at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        service: Callable[[], CallbackService],
        journal: Journal | None = None,
        cpu_slots: int = CPU_SLOTS,
    ) -> None:
        self.service_factory = service
        self.journal = journal or Journal()
        self.gate = Gate(cpu_slots)
        threading.Thread(target=self.gate.watch, name="fastagi-gate", daemon=True).start()
        self.on_request: Callable[[], None] | None = None  # wake the dialer after a request or an outcome
        # Each call's handler time in ms (from admission, before the first byte of its environment is
        # read, to its connection closed); serve --timings writes them to a file.
        self.on_timing: Callable[[float], None] | None = None
        self.calls = 0
        self._lock = threading.Lock()
        self.pool = ServicePool(service, IDLE_CONNECTIONS)
        self._accepted: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._workers = threading.Lock()
        self._idle = 0  # workers waiting (or about to wait) for a call that none of them was promised
        self._closing = False
        self.workers_started = 0
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a worker that waits for one; start a worker only when none does."""
        with self._workers:
            start = not self._idle
            if start:
                self.workers_started += 1
            else:
                self._idle -= 1
        self._accepted.put((request, client_address))
        if start:
            name = f"fastagi:{self.server_address[1]}"  # the port: one server's threads among others
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        # Each connection put is matched by a worker: a new one, or an idle one counted off. So the
        # workers waiting in get() are always at least the connections queued, and none waits unserved.
        while (accepted := self._accepted.get()) is not None:
            self.process_request_thread(*accepted)  # the handler, then the connection closed
            with self._workers:
                if self._closing or self._idle >= IDLE_WORKERS:
                    return
                self._idle += 1

    def count(self) -> None:
        with self._lock:
            self.calls += 1

    def checkout(self) -> CallbackService:
        return self.pool.checkout()

    def give_back(self, svc: CallbackService, clean: bool) -> None:
        self.pool.give_back(svc, clean)

    def server_close(self) -> None:
        super().server_close()
        with self._workers:
            self._closing, idle, self._idle = True, self._idle, 0
        for _ in range(idle):
            self._accepted.put(None)
        self.gate.close()
        self.pool.close()


class _Handler(socketserver.StreamRequestHandler):
    server: FastAgiServer
    started = 0.0
    session: AgiSession | None = None

    def setup(self) -> None:
        with suppress(OSError):
            self.request.recv(1, socket.MSG_PEEK)  # until Asterisk sends (or closes): no slot held meanwhile
        self.server.gate.admit()  # released in finish(), and while the call waits on the caller
        self.started = time.perf_counter()
        try:
            super().setup()
        except BaseException:
            self.server.gate.release()
            raise

    def finish(self) -> None:
        try:
            super().finish()
            self.connection.close()
        finally:
            if self.session is None or self.session.holding:  # else the handler gave its slot back already
                self.server.gate.release()
            if self.server.on_timing is not None:
                self.server.on_timing((time.perf_counter() - self.started) * 1000)

    def handle(self) -> None:
        opened: list[CallbackService] = []
        clean = False

        def service() -> CallbackService:
            svc = self.server.checkout()
            opened.append(svc)
            return svc

        try:
            session = self.session = AgiSession(self.rfile, self.wfile, self.server.gate)
            route = session.env.get("agi_network_script", "").strip("/").split("?")[0]
            args = [v for k, v in sorted(session.env.items(), key=lambda kv: _arg_no(kv[0])) if _arg_no(k)]
            handler = ROUTES.get(route)
            if handler is None:
                raise AgiError(f"no FastAGI route {route!r} (known: {', '.join(ROUTES)})")
            channel = SessionChannel(session)
            # set before any work, with the call's first command: the fallback must not run
            session.mark = (SERVED_MARK, "fastagi")
            handler(channel, service, args, self.server.journal)
            clean = True
            if self.server.on_request is not None:  # a new request, or a leg that ended
                self.server.on_request()
        except Hangup:
            pass
        except Exception:  # a broken call must not take the server down
            log.exception("FastAGI call failed")
        finally:
            self.server.count()
            for svc in opened:
                self.server.give_back(svc, clean)


def _arg_no(key: str) -> int:
    return int(key[len("agi_arg_") :]) if key.startswith("agi_arg_") and key[8:].isdigit() else 0
