"""`serve` under load, on the real MariaDB and a real Asterisk 22 (the test bed's cached root):

1. resident memory of the `serve` process every 1,000 callbacks, over 10,000 callbacks, with AMI events
   on (the loop's queue-member subscription; every callback makes several). The callbacks are cheap but
   real: Local-channel agents in a real queue answer, the customer (a Local channel) answers and hangs
   up at once, both legs' outcomes go to serve's own FastAGI server;
2. the AMI actions serve sends while a backlog waits and nothing happens (every agent paused), counted
   by a TCP proxy in front of AMI.

Prints tables; asserts nothing. ``QCB_BENCH_CALLBACKS`` changes the number of callbacks (default 10000).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freepbx_callback.ami import Ami, AmiConfig  # noqa: E402
from freepbx_callback.config import Dsn  # noqa: E402
from freepbx_callback.dialplan.render import render  # noqa: E402
from freepbx_callback.service import CallbackService, utcnow  # noqa: E402
from freepbx_callback.store import Store  # noqa: E402
from tests.testbed.asterisk import AsteriskInstance, free_port  # noqa: E402
from tests.testbed.asterisk_root import ensure_root  # noqa: E402
from tests.testbed.mariadb import MariaDB, ensure_server  # noqa: E402
from tests.testbed.proxy import TcpProxy  # noqa: E402
from tests.testbed.serve import ServeProcess  # noqa: E402
from tests.testbed.wait import wait_for  # noqa: E402

CALLBACKS = int(os.environ.get("QCB_BENCH_CALLBACKS", "10000"))
STEP = min(1000, CALLBACKS)
AGENTS = 12
IDLE_S = 30

QUEUES = """
[general]
persistentmembers = no

[400]
strategy = rrmemory
timeout = 10
retry = 0
wrapuptime = 0
joinempty = yes
leavewhenempty = no
ringinuse = no
context =
periodic-announce-frequency = 0
{members}
#include queues_qcb.conf
"""

EXTENSIONS = """
; agents: answer and stay until the callback ends (one extension each: letters in a pattern are not
; literal, N matches a digit)
[qcb-bench-agent]
{agents}

; customers: a Dial that a phone answers and hangs up at once (a Local channel answered by its own
; dialplan would count as a failed route, not a customer reached)
[qcb-bench-customer]
exten => _X.,1,Dial(Local/${{EXTEN}}@qcb-bench-phone,10)
 same => n,Hangup()

[qcb-bench-phone]
exten => _X.,1,Answer()
 same => n,Wait(0.2)
 same => n,Hangup()

#include extensions_qcb.conf
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def closed(service: CallbackService) -> int:
    rows = service.store._all("SELECT COUNT(*) FROM qcb_requests WHERE status NOT IN ('pending', 'dialing')")
    return int(rows[0][0])


def add_requests(service: CallbackService, start: int, count: int) -> None:
    for n in range(start, start + count):
        result = service.request("400", f"212{2000000 + n:07d}")
        if result.request is None:
            raise SystemExit(f"request {n} refused: {result.message}")


def pause_all(bed: AsteriskInstance, paused: bool) -> None:
    control = Ami(AmiConfig.parse(bed.ami_dsn))  # no events: the bed's own client may be stale by now
    for i in range(1, AGENTS + 1):
        interface = f"Local/agent{i}@qcb-bench-agent/n"
        control.action({"Action": "QueuePause", "Interface": interface, "Paused": str(paused).lower()})
    control.close()


def run(server: MariaDB, root: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    dsn: Dsn = server.create_database("qcb_bench")
    store = Store.connect(dsn)
    store.migrate(utcnow())
    service = CallbackService(store)
    service.set_queue("400", enabled=True, did="5551000", window=86400, notify_agents=False, min_talk=0)
    port = free_port()
    bed = AsteriskInstance(root, env={"QCB_DSN": dsn.url()})
    members = "\n".join(f"member => Local/agent{i}@qcb-bench-agent/n" for i in range(1, AGENTS + 1))
    bed.queues = QUEUES.format(members=members)
    bed.extensions = EXTENSIONS.format(
        agents="\n".join(
            f"exten => agent{i},1,Answer()\n same => n,Wait(20)\n same => n,Hangup()"
            for i in range(1, AGENTS + 1)
        )
    )
    render(service.queues(), "asterisk", f"agi://127.0.0.1:{port}").write(bed.etc)
    bed.start()
    spool = Path(tempfile.mkdtemp(prefix="qcb-bench-")) / "spool"
    rss_rows: list[tuple[str, ...]] = []
    idle_rows: list[tuple[str, ...]] = []
    try:
        with TcpProxy(bed.ami_port) as proxy:
            ami = f"ami://{bed.ami_user}:{bed.ami_secret}@127.0.0.1:{proxy.port}"
            args = ["--port", str(port), "--ami", ami, "--poll", "30", "--node", "bench"]
            args += ["--dial-template", "Local/{number}@qcb-bench-customer", "--agent-timeout", "30"]
            with ServeProcess(
                dsn.url(), spool, args
            ) as serve:  # this --port follows (and wins over) --port 0
                time.sleep(2)
                start = time.monotonic()
                rss_rows.append(("0", f"{rss_kib(serve.pid) / 1024:.1f}", "0", "0"))
                for done in range(STEP, CALLBACKS + 1, STEP):
                    add_requests(service, done - STEP, STEP)
                    wait_for(lambda d=done: closed(service) >= d, 3600, 1.0, f"{done} callbacks closed")
                    elapsed = time.monotonic() - start
                    actions = len(proxy.actions_between(0, time.monotonic()))
                    rss_rows.append(
                        (f"{done:,}", f"{rss_kib(serve.pid) / 1024:.1f}", f"{elapsed:.0f}", f"{actions:,}")
                    )
                    print(f"  {rss_rows[-1]}", file=sys.stderr, flush=True)
                statuses = service.store._all("SELECT status, COUNT(*) FROM qcb_requests GROUP BY status")
                print(f"  statuses: {dict(statuses)}", file=sys.stderr)
                # The idle rate: a backlog, every agent paused, nothing happening.
                pause_all(bed, True)
                add_requests(service, CALLBACKS, 50)
                time.sleep(5)  # the wake ticks for the new requests and their follow-ups
                begin = time.monotonic()
                time.sleep(IDLE_S)
                sent = proxy.actions_between(begin, time.monotonic())
                idle_rows.append(
                    (
                        "50 due requests, all 12 agents paused",
                        f"{IDLE_S} s",
                        str(len(sent)),
                        f"{len(sent) / IDLE_S:.2f}",
                    )
                )
                pause_all(bed, False)
                t0 = time.monotonic()
                wait_for(lambda: closed(service) >= CALLBACKS + 1, 60, 0.05, "released after unpause")
                idle_rows.append(
                    (
                        "the agents unpaused: first callback closed after",
                        f"{time.monotonic() - t0:.1f} s",
                        "",
                        "",
                    )
                )
    finally:
        bed.stop()
        bed.remove_run_dir()
        server.drop_database(dsn.database)
    return rss_rows, idle_rows


def show(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    root = ensure_root()
    server = ensure_server()
    try:
        rss, idle = run(server, root)
        show(
            f"serve RSS over {CALLBACKS:,} callbacks ({AGENTS} Local agents, AMI queue events on)",
            ("callbacks closed", "RSS MiB", "elapsed s", "AMI actions sent"),
            rss,
        )
        show(
            "serve's AMI actions with a backlog and no events", ("state", "window", "actions", "per s"), idle
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
