"""Entry for the agi-bin scripts: one process per call, settings from the environment."""

from __future__ import annotations

import sys

from ..config import ConfigError, resolve_dsn
from ..service import CallbackService
from ..store import Store, StoreUnavailable
from .channel import PystChannel

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


def request_main(argv: list[str]) -> int:
    from .request import handle_request  # each script loads only its own handler

    channel = PystChannel()
    if not argv:
        channel.set_variable("QCB_RESULT", "error")
        print("usage: qcb-request.agi QUEUE", file=sys.stderr)
        return 1
    handle_request(channel, service_from_env, argv[0])
    return 0


def outcome_main(argv: list[str]) -> int:
    from .outcome import handle_outcome

    channel = PystChannel()
    handle_outcome(channel, service_from_env, argv[0] if argv else "")
    return 0
