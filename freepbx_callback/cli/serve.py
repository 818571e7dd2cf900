"""`dial` (one dialer tick, for cron), `serve` (FastAGI + the dialer loop) and `journal`."""

from __future__ import annotations

import gc
import logging
import select
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import freepbx, http_api, mailer, metrics
from ..agi.fastagi import CPU_SLOTS, DEFAULT_PORT, FastAgiServer
from ..agi.run import service_from_env
from ..ami import Ami, AmiConfig, AmiError
from ..api import DEFAULT_HTTP_PORT, parse_address
from ..dialer import CRON_INTERVAL, Dialer, DialerConfig
from ..journal import Journal
from ..loop import DialerLoop, sd_notify, watchdog_interval
from ..service import CallbackService, utcnow
from ..store import StoreUnavailable
from ..wake import Waker
from .alerts import mail_config, mail_options, send_once, sender_node
from .base import Context, Group, cli, emit, fail, json_option, service_of, table

log = logging.getLogger("freepbx_callback")
AMI_UNAVAILABLE = 5  # `dial`'s exit status when the manager cannot be reached or logged in to
spool_option = click.option(
    "--spool",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="QCB_SPOOL",
    help="Journal folder (default: $QCB_SPOOL or /var/spool/asterisk/qcb).",
)


def dialer_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--ami",
            "ami_url",
            envvar="QCB_AMI",
            metavar="URL",
            help="ami://user:secret@host:port (default: $QCB_AMI, else FreePBX's manager settings).",
        ),
        click.option(
            "--dial-template",
            envvar="QCB_DIAL_TEMPLATE",
            default=DialerConfig.dial_template,
            show_default=True,
            help="How the customer is dialled; {number} is replaced.",
        ),
        click.option(
            "--node", default=None, help="Name of this dialer in the attempt log (default: hostname)."
        ),
        click.option(
            "--agent-timeout",
            type=click.IntRange(5, 3600),
            default=60,
            show_default=True,
            help="Seconds a callback waits in the queue for an agent.",
        ),
        click.option(
            "--ring-timeout",
            type=click.IntRange(5, 300),
            default=30,
            show_default=True,
            help="Seconds the customer's phone rings.",
        ),
        click.option(
            "--lease",
            type=click.IntRange(2, 3600),
            default=120,
            show_default=True,
            help="Seconds a claim stays ours without a live call before it is given back.",
        ),
        click.option(
            "--queue-log/--no-queue-log",
            envvar="QCB_QUEUE_LOG",
            default=True,
            show_default=True,
            help="Write callback events to Asterisk's queue_log (AMI QueueLog; the manager user needs write "
            "agent). Off: the events wait until a dialer with it on writes them.",
        ),
        spool_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_dialer(
    ctx: click.Context,
    ami_url: str | None,
    dial_template: str,
    node: str | None,
    agent_timeout: int,
    ring_timeout: int,
    lease: int,
    queue_log: bool,
    spool: Path | None,
) -> Dialer:
    context = ctx.find_object(Context)
    assert context is not None
    values = freepbx.settings(service_of(ctx).store)
    try:
        ami_config = AmiConfig.resolve(ami_url, freepbx.ami_config(values))
    except AmiError as exc:
        fail(str(exc), 2)
    settings: dict[str, Any] = {
        "dial_template": dial_template,
        "agent_timeout": agent_timeout,
        "ring_timeout": ring_timeout,
        "lease": lease,
        "queue_log": queue_log,
    }
    config = DialerConfig(**settings, **({"node": node} if node else {}))
    config.dial_string("0")  # refuse a bad template before anything is claimed

    def fresh_service() -> CallbackService:
        return service_from_env(context.dsn_flag)

    return Dialer(fresh_service, lambda: Ami(ami_config), journal_of(values, spool), config)


def journal_of(values: dict[str, str], spool: Path | None) -> Journal:
    return Journal(spool or (freepbx.spool_dir(values) if values else None))


def replay_loop(
    stop: threading.Event, wake: Waker, journal: Journal, service: Callable[[], CallbackService], poll: float
) -> None:
    """`serve --no-dialer`: no AMI, no calls placed; only the journal is replayed, on each safety poll
    and whenever the wake socket is poked, and systemd's watchdog hears from this loop instead."""
    dog = watchdog_interval()
    while not stop.is_set():
        if journal.pending():
            try:
                svc = service()
                try:
                    counts = svc.replay(journal)
                finally:
                    svc.store.close()
                if any(counts.values()):
                    log.info("journal replayed: %s", counts)
            except StoreUnavailable as exc:
                log.warning("journal not replayed, database unavailable: %s", exc)
            except Exception:  # noqa: BLE001 - the next poll tries again
                log.exception("journal replay failed")
        if dog:
            sd_notify("WATCHDOG=1")
        select.select(wake.filenos(), [], [], min(poll, dog) if dog else poll)
        wake.drain()
        wake.clear()


@cli.command()
@dialer_options
@mail_options
@json_option
@click.pass_context
def dial(
    ctx: click.Context,
    as_json: bool,
    smtp_url: str | None,
    mail_from: str | None,
    alert_retry: int,
    **options: Any,
) -> None:
    """One dialer tick (run it from cron every minute): replay, recover, expire, call back, then send
    the alerts that are due. Exits 5 when Asterisk's manager cannot be reached or refuses the login
    (after replaying and expiring what it could), so that cron reports it."""
    dialer = make_dialer(ctx, **options)
    mail = mail_config(ctx, smtp_url, mail_from, alert_retry)
    started = utcnow()
    report = dialer.tick()
    dialer.beat("cron", CRON_INTERVAL, started, report)
    send_once(service_of(ctx), mail, dialer.config.node)  # after the calls: mail never holds one up
    emit(report.__dict__, as_json, lambda: click.echo(report.summary()))
    if report.ami_down:
        fail(f"no callback placed: AMI unavailable: {report.ami_down}", AMI_UNAVAILABLE)


@cli.command()
@click.option("--listen", default="127.0.0.1", show_default=True, help="Address of the FastAGI server.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="FastAGI port (not 4573: FreePBX core's FastAGI server listens there).",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Safety poll: seconds between dialer ticks when no queue event, request or due retry wakes it.",
)
@click.option("--no-dialer", is_flag=True, help="Only serve FastAGI (cron runs the dialer).")
@click.option(
    "--http",
    "http_address",
    envvar="QCB_HTTP",
    default=f"127.0.0.1:{DEFAULT_HTTP_PORT}",
    show_default=True,
    metavar="HOST:PORT",
    help="Address of the HTTP API (default: $QCB_HTTP, else loopback only).",
)
@click.option("--no-http", is_flag=True, help="No HTTP API.")
@click.option(
    "--metrics-token",
    envvar="QCB_METRICS_TOKEN",
    metavar="TOKEN",
    help="GET /metrics asks for this bearer token (default: $QCB_METRICS_TOKEN, else none).",
)
@click.option(
    "--cpu-slots",
    type=click.IntRange(1, 64),
    default=CPU_SLOTS,
    show_default=True,
    help="FastAGI calls computing (parsing, reading and writing the database) at once; a call waiting on "
    "its caller (a prompt, keys) holds none.",
)
@click.option(
    "--timings",
    type=click.Path(dir_okay=False, writable=True),
    help="Append each FastAGI call's handler time (ms, admission to connection closed) to this file.",
)
@dialer_options
@mail_options
@click.pass_context
def serve(
    ctx: click.Context,
    listen: str,
    port: int,
    poll: float,
    no_dialer: bool,
    cpu_slots: int,
    timings: str | None,
    http_address: str,
    no_http: bool,
    metrics_token: str | None,
    smtp_url: str | None,
    mail_from: str | None,
    alert_retry: int,
    **options: Any,
) -> None:
    """FastAGI server (agi://LISTEN:PORT/request, /outcome) and the dialer loop, woken by queue events
    and each new request. Exits 1 if the dialer loop dies; under systemd it sends READY and WATCHDOG."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    context = ctx.find_object(Context)
    assert context is not None

    def fresh_service() -> CallbackService:
        return service_from_env(context.dsn_flag)

    # Without the dialer nothing needs AMI: no manager setting is read or required.
    dialer = None if no_dialer else make_dialer(ctx, **options)
    mail = mail_config(ctx, smtp_url, mail_from, alert_retry)
    if dialer is not None:
        journal_ = dialer.journal
    else:
        journal_ = journal_of(freepbx.settings(service_of(ctx).store), options["spool"])
    try:
        server = FastAgiServer((listen, port), fresh_service, journal_, cpu_slots)
    except OSError as exc:
        fail(f"cannot listen on {listen}:{port}: {exc.strerror or exc}", 2)
    if timings:
        server.on_timing = _timing_writer(timings)
    stop, wake = threading.Event(), Waker()
    if dialer is not None:
        server.on_request = wake.set
    try:
        http = (
            None
            if no_http
            else _start_http(ctx, http_address, fresh_service, dialer, wake, options["ami_url"])
        )
    except SystemExit:  # it could not listen: nothing else stays open
        server.server_close()
        raise
    figures = metrics.Metrics()
    if http is not None:
        metrics.install(http, figures, journal_, server, metrics_token)
    died: list[BaseException] = []

    def shutdown(*_: Any) -> None:
        stop.set()
        wake.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
        if http is not None:
            threading.Thread(target=http.shutdown, daemon=True).start()

    def run_dialer() -> None:
        try:
            if dialer is None:
                replay_loop(stop, wake, journal_, fresh_service, poll)
            else:
                metrics.observe(DialerLoop(dialer, poll), figures).run(stop, wake)
        except BaseException as exc:
            log.critical(
                "the %s loop died; stopping serve", "replay" if dialer is None else "dialer", exc_info=True
            )
            died.append(exc)
            shutdown()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    sd_notify("READY=1")  # FastAGI listens (bound above); the loop's first WATCHDOG=1 comes after this
    try:
        where = wake.listen(journal_.folder)
    except OSError as exc:
        fail(f"cannot bind the wake socket in {journal_.folder}: {exc.strerror or exc}", 2)
    loop = threading.Thread(target=run_dialer, name="replay" if dialer is None else "dialer", daemon=True)
    loop.start()
    if mail is not None:  # a thread of its own: a slow mail server never holds up a tick or a call
        node = dialer.config.node if dialer is not None else options["node"]
        mailer.AlertSender(fresh_service, mail, sender_node(node)).start(stop)
        log.info("alerts by mail through %s from %s", mail.transport.describe(), mail.sender)
    else:
        log.info("alerts: no mail settings (--smtp or $QCB_SMTP): alerts wait in the outbox")
    if http is not None:
        log.info("HTTP API on http://%s:%d/v1/", *http.server_address[:2])
    log.info(
        "FastAGI on agi://%s:%d, dialer %s, journal %s (wake socket %r)",
        listen,
        server.server_address[1],
        "off (journal replay only)" if dialer is None else f"node {dialer.config.node}",
        journal_.folder,
        where,
    )
    # What is loaded by now (modules, phone number metadata, settings) lives as long as serve. Frozen, it is
    # left out of the cycle collector's full collections, which otherwise walk it all (13 ms measured on a
    # 2-core host) while a call in flight waits: the calls' p99 and max.
    gc.freeze()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        sd_notify("STOPPING=1")
        stop.set()
        wake.set()
        loop.join(timeout=10)
        server.server_close()
        if http is not None:
            http.shutdown()
            http.server_close()
        wake.close()
        log.info(
            "stopped after %d FastAGI call(s); %d slot(s) opened over a stall",
            server.calls,
            server.gate.stalls,
        )
    if died:
        fail(f"the {loop.name} loop died: {type(died[0]).__name__}: {died[0]}", 1)


def _start_http(
    ctx: click.Context,
    address: str,
    service: Callable[[], CallbackService],
    dialer: Dialer | None,
    wake: Waker,
    ami_url: str | None,
) -> http_api.ApiServer:
    """The HTTP API in a thread of its own. A new request wakes the dialer; a cancel hangs up its call
    over a fresh AMI connection (the dialer's settings; with --no-dialer, --ami or FreePBX's, read when
    needed: without them the dialer that runs hangs it up at its next tick)."""
    try:
        host, port = parse_address(address)
    except ValueError as exc:
        fail(f"--http {exc}", 2)
    if dialer is not None:
        connect = dialer.ami_factory
    else:

        def connect() -> Ami:
            values = freepbx.settings(service_of(ctx).store)
            return Ami(AmiConfig.resolve(ami_url, freepbx.ami_config(values)))

    on_created = wake.set if dialer is not None else None
    try:
        server, _ = http_api.start((host, port), service, on_created, http_api.ami_hangup(connect))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} (HTTP API): {exc.strerror or exc}", 2)
    return server


def _timing_writer(path: str) -> Callable[[float], None]:
    out = open(path, "a", buffering=1, encoding="ascii")  # noqa: SIM115 - open while serve runs
    lock = threading.Lock()

    def write(ms: float) -> None:
        with lock:
            out.write(f"{ms:.3f}\n")

    return write


@cli.group(cls=Group)
def journal() -> None:
    """Requests kept in the local spool while the database was unreachable."""


@journal.command("list")
@spool_option
@json_option
def journal_list(spool: Path | None, as_json: bool) -> None:
    """Journaled requests and call outcomes not yet in the database."""
    rows = [{"file": p.name, **e.__dict__} for p, e in Journal(spool).pending()]
    emit(rows, as_json, lambda: table(["file", "kind"], [[r["file"], r["kind"]] for r in rows]))


@journal.command("replay")
@spool_option
@click.pass_context
def journal_replay(ctx: click.Context, spool: Path | None) -> None:
    """Store journaled requests and outcomes in the database (each exactly once)."""
    counts = service_of(ctx).replay(Journal(spool))
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))
