"""Entry for the agi-bin scripts: one process per call, settings from the environment.

The scripts speak AGI over stdin/stdout with the same session as the FastAGI server
(:mod:`.protocol`), so a hang-up ends both transports the same way: the next command's reply (-1, 511,
end of input) raises :class:`~.protocol.Hangup` and the script ends quietly, with what it stored kept.
Asterisk's SIGHUP is ignored for that reason: the replies say the same, at a point where the handler can
stop cleanly. Everything the script writes to stderr lands in Asterisk's log.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from ..config import ConfigError, resolve_dsn
from ..service import CallbackService
from ..store import Store, StoreUnavailable
from .protocol import AgiSession, Hangup, SessionChannel

# Seconds one database read or write may take on a call: after a network partition the caller is
# journaled ("accepted") this long after the last answer instead of waiting in silence for TCP.
CALLER_IO_TIMEOUT = 4


def service_from_env(dsn_flag: str | None = None) -> CallbackService:
    """A service on the configured database; a missing config counts as an unreachable database."""
    try:
        dsn = resolve_dsn(dsn_flag)
    except ConfigError as exc:
        raise StoreUnavailable(str(exc)) from None
    return CallbackService(Store.connect(dsn, timeout=3, io_timeout=CALLER_IO_TIMEOUT))


def stdio_channel() -> SessionChannel:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return SessionChannel(AgiSession(sys.stdin.buffer, sys.stdout.buffer))


def run_call(handle: Callable[[SessionChannel], object]) -> int:
    """Run one call's handler; a hang-up at any point ends the script with status 0 and no output."""
    try:
        handle(stdio_channel())
    except Hangup:
        # Asterisk may have closed our stdout already: nothing must be flushed into it at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0


def request_main(argv: list[str]) -> int:
    from .request import handle_request  # each script loads only its own handler

    if not argv:
        print("usage: qcb-request.agi QUEUE", file=sys.stderr)

        def refuse(channel: SessionChannel) -> None:
            channel.set_variable("QCB_RESULT", "error")

        run_call(refuse)
        return 1
    return run_call(lambda channel: handle_request(channel, service_from_env, argv[0]))


def outcome_main(argv: list[str]) -> int:
    from .outcome import handle_outcome

    return run_call(lambda channel: handle_outcome(channel, service_from_env, argv[0] if argv else ""))
