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

import argparse
import contextlib
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import MySQLdb
import MySQLdb.cursors
from click.testing import CliRunner, Result

from freepbx_callback.agi.fastagi import FastAgiServer
from freepbx_callback.cli import cli
from freepbx_callback.config import Dsn
from freepbx_callback.dialplan.render import render
from freepbx_callback.journal import Journal
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.testbed import demo_dialer
from tests.testbed.asterisk import AsteriskInstance, TestbedError
from tests.testbed.asterisk_root import AsteriskRootUnavailable, ensure_root
from tests.testbed.mariadb import ensure_server
from tests.testbed.sipp import CallResult, call_with_keys
from tests.testbed.wait import wait_for

QUEUE = "400"
DID = "5551000"
CALLER = "2015551234"
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
        rows = list(cursor.fetchall())
        conn.commit()
        return rows
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
    start: bool = True,
) -> AsteriskInstance:
    """A started Asterisk whose queue 400 and exit context come from the rendered dialplan.

    ``new(start=False, **kwargs)`` makes the unstarted instance (the e2e ``asterisk`` fixture or
    :class:`AsteriskInstance` itself); ``agi`` defaults to the bed's agi-bin folder (the staged
    ``qcb-request.agi``); ``env`` adds to (or overrides) ``QCB_DSN=dsn`` for the AGI scripts.
    With ``start=False`` the configured bed is returned unstarted (``bed.env`` can still change).
    """
    bed = new(
        start=False,
        queues=QUEUES_CONF,
        extensions=EXTENSIONS_CONF,
        caller_context=CALLER_CONTEXT,
        env={"QCB_DSN": dsn, **(env or {})},
    )
    render_dialplan(dsn, bed.etc, agi or str(bed.agi_dir))
    return bed.start() if start else bed


@contextlib.contextmanager
def fastagi(dsn: str, spool: Path) -> Iterator[FastAgiServer]:
    """The project's FastAGI server on a free 127.0.0.1 port in a thread of this process."""
    server = FastAgiServer(
        ("127.0.0.1", 0), lambda: CallbackService(Store.connect(Dsn.parse(dsn), timeout=3)), Journal(spool)
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def agi_url(server: FastAgiServer) -> str:
    return f"agi://127.0.0.1:{server.server_address[1]}"


# ------------------------------------------------------------------------------- Asterisk's log

_LOG_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\] (?P<level>\w+)\[\d+\](?:\[(?P<call>[^\]]+)\])? "
    r"(?P<source>[^:]+): (?P<text>.*)$"
)


@dataclass(frozen=True)
class LogLine:
    at: datetime  # naive UTC (the bed runs Asterisk with TZ=UTC)
    level: str
    call: str  # Asterisk's call id, e.g. C-00000001, or ""
    text: str


def log_lines(bed: AsteriskInstance) -> list[LogLine]:
    lines = []
    for raw in bed.log_text().splitlines():
        match = _LOG_LINE.match(raw)
        if match:
            at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S.%f")
            lines.append(LogLine(at, match["level"], match["call"] or "", match["text"]))
    return lines


def played(bed: AsteriskInstance, prompt: str) -> list[LogLine]:
    """Every start of the sound ``prompt`` (any format), in order."""
    return [line for line in log_lines(bed) if f"Playing '{prompt}." in line.text]


def keys_received(bed: AsteriskInstance, key: str = "") -> list[LogLine]:
    """Every RFC 2833 key Asterisk received (the end of the event), optionally only ``key``."""
    return [
        line
        for line in log_lines(bed)
        if line.level == "DTMF" and line.text.startswith(f"DTMF end '{key}") and " received on " in line.text
    ]


def key_of(line: LogLine) -> str:
    match = re.search(r"DTMF end '(.)'", line.text)
    return match.group(1) if match else ""


def waiting_callers(bed: AsteriskInstance, queue: str = QUEUE) -> list[dict[str, str]]:
    """The callers waiting in ``queue`` right now (AMI QueueStatus, its QueueEntry events)."""
    reply = bed.ami_action({"Action": "QueueStatus", "Queue": queue})
    return [m for m in reply if m.get("Event") == "QueueEntry" and m.get("Queue") == queue]


# -------------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Step:
    """One thing that happened, in plain words; ``what`` names it for the completeness check."""

    at: datetime  # naive UTC
    what: str
    words: str


# What `make demo` must show for the caller's half, in this order.
CALLER_STORY = ("joined", "offer", "pressed", "stored", "confirmed", "ended")


def _first(
    lines: list[LogLine], test: Callable[[LogLine], bool], after: datetime | None = None
) -> LogLine | None:
    return next((line for line in lines if test(line) and (after is None or line.at >= after)), None)


def caller_steps(bed: AsteriskInstance, queue: str = QUEUE) -> list[Step]:
    """The caller's side as Asterisk logged it: joined the queue, heard the offer, pressed 1, heard
    the confirmation."""
    lines = log_lines(bed)
    steps = []
    joined = _first(lines, lambda ln: f"@{CALLER_CONTEXT}:" in ln.text and 'Queue("' in ln.text)
    if joined:
        steps.append(Step(joined.at, "joined", f"caller joined queue {queue}"))
    offer = _first(lines, lambda ln: "Playing 'qcb-offer." in ln.text)
    if offer:
        words = 'offer played: "If you want us to call you back as soon as possible, press 1."'
        steps.append(Step(offer.at, "offer", words))
    pressed = _first(
        lines,
        lambda ln: ln.level == "DTMF" and ln.text.startswith("DTMF end '1' received"),
        after=offer.at if offer else None,
    )
    if pressed:
        steps.append(Step(pressed.at, "pressed", "caller pressed 1 (the key took them out of the queue)"))
    accepted = _first(lines, lambda ln: "Playing 'qcb-accepted." in ln.text)
    if accepted:
        words = 'caller heard the confirmation: "Thank you. Your callback request is accepted..."'
        steps.append(Step(accepted.at, "confirmed", words))
    return steps


def request_steps(dsn: str) -> list[Step]:
    """The qcb_events rows, each with its request."""
    rows = query(
        dsn,
        "SELECT e.at, e.event, e.detail, r.id, r.number, r.did, r.queue, r.source FROM qcb_events e "
        "JOIN qcb_requests r ON r.id = e.request_id ORDER BY e.id",
    )
    steps = []
    for row in rows:
        if row["event"] == "requested":
            words = (
                f"request stored as #{row['id']} for {row['number']} with DID {row['did']} ({row['source']})"
            )
            steps.append(Step(row["at"], "stored", words))
        else:
            steps.append(
                Step(row["at"], row["event"], f"request #{row['id']}: {row['event']} {row['detail']}")
            )
    return steps


def hangup_steps(call: CallResult) -> list[Step]:
    """Who ended the call, from SIPp's message trace."""
    for message in call.messages:
        if message.method == "BYE" and message.stamp:
            at = datetime.fromisoformat(message.stamp).astimezone(UTC).replace(tzinfo=None)
            who = (
                "Asterisk hung up, the caller got the BYE"
                if message.direction == "received"
                else "caller hung up"
            )
            return [Step(at, "ended", f"call ended: {who}")]
    return []


def timeline(*groups: list[Step]) -> list[Step]:
    return sorted((step for group in groups for step in group), key=lambda s: s.at)


def format_timeline(steps: list[Step]) -> str:
    if not steps:
        return "  (nothing happened)\n"
    start = steps[0].at
    lines = []
    for step in steps:
        offset = f"+{(step.at - start).total_seconds():.1f} s"
        lines.append(f"  {step.at:%H:%M:%S}.{step.at.microsecond // 1000:03d}  {offset:>8}  {step.words}\n")
    return "".join(lines)


def missing(steps: list[Step], story: Sequence[str] = CALLER_STORY) -> list[str]:
    """The parts of ``story`` that did not happen, or happened out of order."""
    seen = [s.what for s in steps if s.what in story]
    gaps = [what for what in story if what not in seen]
    order = [what for what in story if what in seen]
    firsts = [next(s.at for s in steps if s.what == what) for what in order]
    return gaps + ([f"order: {order}"] if firsts != sorted(firsts) else [])


# ------------------------------------------------------------------------------------------ main


def _new_bed(root: Path) -> Callable[..., AsteriskInstance]:
    def new(start: bool = True, **kwargs: Any) -> AsteriskInstance:
        bed = AsteriskInstance(root, **kwargs)
        return bed.start() if start else bed

    return new


def _stop_bed(bed: AsteriskInstance, ok: Callable[[], bool]) -> None:
    bed.stop()
    if ok():
        bed.remove_run_dir()
    else:
        print(f"Asterisk logs and SIPp traces kept in {bed.run_dir}")


def run_demo(fastagi_handler: bool = False) -> int:
    print("== Asterisk 22 test root (built once, then reused)")
    root = ensure_root(verbose=True)
    result = {"ok": False}
    with contextlib.ExitStack() as stack:
        server = ensure_server()
        stack.callback(server.stop)
        dsn = server.create_database("qcb_demo").url()
        run_cli(dsn, "db", "migrate")
        print(f"== demo queue {QUEUE}: callback on, DID {DID}, offer every {OFFER_EVERY_S} s")
        enable_queue(dsn)
        print(run_cli(dsn, "queue", "show", QUEUE).output, end="")
        agi = None
        if fastagi_handler:
            agi = agi_url(stack.enter_context(fastagi(dsn, Path(tempfile.mkdtemp(prefix="qcb-demo-spool-")))))
        bed = callback_bed(_new_bed(root), dsn, agi, start=False)
        agent, customer = demo_dialer.add_phones(bed, QUEUE)
        bed.start()
        stack.callback(_stop_bed, bed, lambda: result["ok"])
        stack.enter_context(agent)
        stack.enter_context(customer)
        print(f"== Asterisk up in {bed.boot_seconds:.2f} s; handler: {agi or 'agi-bin/qcb-request.agi'}")
        print("== the only agent is busy (paused) while the caller waits")
        demo_dialer.pause_agent(bed, True)
        print(f"== calling queue {QUEUE} from {CALLER}; the caller presses 1 {PRESS_AFTER_S:.0f} s in")
        call = call_with_keys(bed, QUEUE, [(PRESS_AFTER_S, "1")], hold_s=30, caller_id=CALLER)
        with contextlib.suppress(AssertionError):
            wait_for(lambda: requests(dsn), 10, message="a request row")
        print("== the agent is free again; the dialer (the loop of `freepbx-callback serve`) calls back")
        demo_dialer.pause_agent(bed, False)
        spool = Path(tempfile.mkdtemp(prefix="qcb-demo-spool-"))
        with demo_dialer.running_dialer(bed, dsn, spool), contextlib.suppress(AssertionError):
            wait_for(lambda: any(r["status"] == "done" for r in requests(dsn)), 60, 0.2, "request done")
        lines = [(line.at, line.text) for line in log_lines(bed)]
        company = [
            Step(*s) for s in demo_dialer.phone_steps(agent, customer) + demo_dialer.whisper_steps(lines)
        ]
        steps = timeline(caller_steps(bed), request_steps(dsn), hangup_steps(call), company)
        print("\n== what happened (UTC)")
        print(format_timeline(steps), end="")
        print("\n== freepbx-callback request list")
        print(run_cli(dsn, "request", "list").output, end="")
        gaps = missing(steps, CALLER_STORY + demo_dialer.DIALER_STORY)
        result["ok"] = not gaps
        if gaps:
            print(f"\nFAILED: the story is incomplete, missing {', '.join(gaps)}", file=sys.stderr)
    return 0 if result["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testbed.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--fastagi", action="store_true", help="run the handler in the FastAGI server")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop Asterisk and MariaDB
    try:
        return run_demo(args.fastagi)
    except (AsteriskRootUnavailable, TestbedError) as exc:
        print(f"demo: the test bed could not start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
