"""`serve` (the FastAGI server) and `journal` (requests kept while the database was down)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click

from ..agi.fastagi import DEFAULT_PORT, FastAgiServer
from ..agi.run import service_from_env
from ..journal import Journal
from ..store import StoreError
from .base import Context, Group, cli, emit, json_option, service_of, table

log = logging.getLogger("freepbx_callback")
spool_option = click.option(
    "--spool",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="QCB_SPOOL",
    help="Journal folder (default: $QCB_SPOOL or /var/spool/asterisk/qcb).",
)


@cli.group(cls=Group)
def journal() -> None:
    """Requests kept in the local spool while the database was unreachable."""


@journal.command("list")
@spool_option
@json_option
def journal_list(spool: Path | None, as_json: bool) -> None:
    """Journaled requests not yet in the database."""
    items = Journal(spool).pending()
    rows = [
        {"file": p.name, "queue": e.queue, "number": e.number, "requested_at": e.requested_at}
        for p, e in items
    ]
    emit(
        rows,
        as_json,
        lambda: table(["file", "queue", "number", "requested_at"], [list(r.values()) for r in rows]),
    )


@journal.command("replay")
@spool_option
@click.pass_context
def journal_replay(ctx: click.Context, spool: Path | None) -> None:
    """Store journaled requests in the database (each exactly once)."""
    counts = service_of(ctx).replay(Journal(spool))
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


def _replay_loop(ctx: Context, journal_: Journal, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            service = service_from_env(ctx.dsn_flag)
            try:
                counts = service.replay(journal_)
            finally:
                service.store.close()
            if any(counts.values()):
                log.info("journal replay: %s", counts)
        except StoreError as exc:
            log.warning("journal replay postponed: %s", exc)


@cli.command()
@click.option("--listen", default="127.0.0.1", show_default=True, help="Address of the FastAGI server.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--replay-every", type=float, default=15.0, show_default=True, help="Seconds between journal replays."
)
@spool_option
@click.pass_context
def serve(ctx: click.Context, listen: str, port: int, replay_every: float, spool: Path | None) -> None:
    """Run the FastAGI server (agi://LISTEN:PORT/request) and replay the journal in the background."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    context = ctx.find_object(Context)
    assert context is not None
    journal_ = Journal(spool)
    server = FastAgiServer((listen, port), lambda: service_from_env(context.dsn_flag), journal_)
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    replayer = threading.Thread(
        target=_replay_loop, args=(context, journal_, stop, replay_every), daemon=True
    )
    replayer.start()
    log.info(
        "FastAGI listening on agi://%s:%d (journal %s)", listen, server.server_address[1], journal_.folder
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        stop.set()
        server.server_close()
        log.info("stopped after %d call(s)", server.calls)
