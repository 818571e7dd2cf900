"""`make demo`: a real caller waits in queue 400, presses 1, and a callback request is stored.

Run as ``python -m tests.testbed.demo``. It reuses (or builds) the cached Asterisk root, starts a private
MariaDB when none is running, creates a ``qcb_demo_*`` database, configures queue 400 through the CLI,
renders the dialplan with ``freepbx-callback dialplan --target asterisk``, starts Asterisk, places one
SIPp call that presses 1 after the offer, then prints what happened as a timeline and the
``request list`` table. Everything it started is stopped again, also on failure; the exit status is 1
when the story did not happen.

The bed pieces (the FreePBX-style queues.conf, the inbound context, the rendered includes) are shared
with the call-flow tests in ``tests/e2e/test_call_flow*.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import MySQLdb
import MySQLdb.cursors
from click.testing import CliRunner, Result

from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from freepbx_callback.dialplan.render import render
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.testbed.asterisk import AsteriskInstance

QUEUE = "400"
DID = "5551000"
CALLER = "5551234"
OFFER_EVERY_S = 5
# The offer starts 4-6 s after the caller joins (app_queue counts whole seconds and checks once a
# second) and lasts about 4.5 s, so a key 7 s after the answer lands while the offer plays.
PRESS_AFTER_S = 7.0

# queues.conf as FreePBX 17 writes it: the queue's own section first, with an empty `context=` and its
# own announce frequency, then the lines of other modules; ours come last through the include, whose
# `[400](+)` section adds to this one, and the later keys win.
QUEUES_CONF = f"""
[{QUEUE}]
strategy=ringall
context=
periodic-announce-frequency=0
joinempty=yes
leavewhenempty=no

#include queues_qcb.conf
"""

CALLER_CONTEXT = "qcb-test-in"
EXTENSIONS_CONF = f"""
[{CALLER_CONTEXT}]
exten => {QUEUE},1,Answer()
 same => n,Queue({QUEUE})
 same => n,Hangup()

#include extensions_qcb.conf
"""


# ------------------------------------------------------------------------------------ CLI and DB


def run_cli(dsn: str, *args: str, ok: Sequence[int] = (0,)) -> Result:
    """``freepbx-callback --dsn DSN ARGS...`` in process; raises when the exit status is not in ``ok``."""
    result = CliRunner().invoke(cli, ["--dsn", dsn, *args])
    if result.exit_code not in ok:
        raise RuntimeError(f"freepbx-callback {' '.join(args)} -> {result.exit_code}: {result.output}")
    return result


def enable_queue(dsn: str, *extra: str) -> Result:
    return run_cli(
        dsn, "queue", "set", QUEUE, "--enable", "--did", DID, "--offer-every", str(OFFER_EVERY_S), *extra
    )


def query(dsn: str, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
    d = Dsn.parse(dsn)
    conn = MySQLdb.connect(
        host=d.host, port=d.port, user=d.user, password=d.password, database=d.database, charset="utf8mb4"
    )
    try:
        cursor = conn.cursor(MySQLdb.cursors.DictCursor)
        cursor.execute(sql, tuple(args))
        return list(cursor.fetchall())
    finally:
        conn.close()


def requests(dsn: str) -> list[dict[str, Any]]:
    return query(dsn, "SELECT * FROM qcb_requests ORDER BY id")


# ------------------------------------------------------------------------------------------ bed


def render_dialplan(dsn: str, folder: Path, agi: str) -> list[Path]:
    """What ``freepbx-callback dialplan --target asterisk --agi AGI -o FOLDER`` writes."""
    service = CallbackService(Store.connect(Dsn.parse(dsn)))
    try:
        return render(service.queues(), "asterisk", agi).write(folder)
    finally:
        service.store.close()


def callback_bed(
    new: Callable[..., AsteriskInstance],
    dsn: str,
    agi: str | None = None,
    env: dict[str, str] | None = None,
) -> AsteriskInstance:
    """A started Asterisk whose queue 400 and exit context come from the rendered dialplan.

    ``new(start=False, **kwargs)`` makes the unstarted instance (the e2e ``asterisk`` fixture or
    :class:`AsteriskInstance` itself); ``agi`` defaults to the bed's agi-bin folder (the staged
    ``qcb-request.agi``); ``env`` adds to (or overrides) ``QCB_DSN=dsn`` for the AGI scripts.
    """
    bed = new(
        start=False,
        queues=QUEUES_CONF,
        extensions=EXTENSIONS_CONF,
        caller_context=CALLER_CONTEXT,
        env={"QCB_DSN": dsn, **(env or {})},
    )
    render_dialplan(dsn, bed.etc, agi or str(bed.agi_dir))
    return bed.start()
