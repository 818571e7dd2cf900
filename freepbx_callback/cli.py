"""The ``freepbx-callback`` command: parse, call the service, print text or ``--json``. Nothing else."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

import click

from . import __version__, numbers
from .config import ConfigError, resolve_dsn
from .models import Mode, QueueSettings, Request, Status
from .policy import PolicyError, parse_duration
from .service import CallbackService, NotFound
from .store import Store, StoreError

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, dsn: str | None) -> None:
        self.dsn_flag = dsn
        self._service: CallbackService | None = None

    @property
    def service(self) -> CallbackService:
        if self._service is None:
            self._service = CallbackService(Store.connect(resolve_dsn(self.dsn_flag)))
        return self._service


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Duration(click.ParamType):
    name = "DUR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except PolicyError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def emit(data: Any, as_json: bool, text: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        text()


def table(headers: list[str], rows: Iterable[list[Any]]) -> None:
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def service_of(ctx: click.Context) -> CallbackService:
    return ctx.find_object(Context).service  # type: ignore[union-attr]


class Group(click.Group):
    """Turns the errors every command can meet into one line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(str(exc), 2)
        except StoreError as exc:
            fail(str(exc), 3)
        except (PolicyError, NotFound, numbers.InvalidNumber) as exc:
            fail(str(exc), 1)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dsn",
    envvar="QCB_DSN",
    metavar="URL",
    help="mysql://user:pass@host:port/db (default: $QCB_DSN, else /etc/freepbx.conf).",
)
@click.version_option(__version__, prog_name="freepbx-callback")
@click.pass_context
def cli(ctx: click.Context, dsn: str | None) -> None:
    """Queue callback for FreePBX and Asterisk: settings, requests and the database."""
    ctx.obj = Context(dsn)


# --- db -----------------------------------------------------------------------------------------------


@cli.group(cls=Group)
def db() -> None:
    """Database schema."""


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Create or upgrade the qcb_* tables (safe to run again)."""
    service = service_of(ctx)
    applied = service.store.migrate(service.clock())
    version = service.store.schema_version()
    click.echo(
        f"applied migrations {applied}; schema version {version}"
        if applied
        else f"schema is up to date (version {version})"
    )


# --- queues -------------------------------------------------------------------------------------------


@cli.group(cls=Group)
def queue() -> None:
    """Per-queue callback settings."""


def queue_rows(items: list[QueueSettings]) -> list[list[Any]]:
    return [
        [
            q.queue,
            "on" if q.enabled else "off",
            q.did,
            q.mode.value,
            q.attempts,
            q.retry_interval,
            q.window,
            q.offer_every,
            "yes" if q.notify_agents else "no",
            q.language,
            q.max_pending,
        ]
        for q in items
    ]


QUEUE_HEADERS = [
    "queue",
    "callback",
    "did",
    "mode",
    "attempts",
    "retry_s",
    "window_s",
    "offer_s",
    "notify",
    "lang",
    "max_pending",
]


@queue.command("list")
@json_option
@click.pass_context
def queue_list(ctx: click.Context, as_json: bool) -> None:
    """Queues that have callback settings."""
    items = service_of(ctx).queues()
    emit([q.to_dict() for q in items], as_json, lambda: table(QUEUE_HEADERS, queue_rows(items)))


@queue.command("show")
@click.argument("queue_name", metavar="Q")
@json_option
@click.pass_context
def queue_show(ctx: click.Context, queue_name: str, as_json: bool) -> None:
    """One queue's settings."""
    settings = service_of(ctx).queue(queue_name)
    emit(settings.to_dict(), as_json, lambda: show_mapping(settings.to_dict()))


def show_mapping(data: dict[str, Any]) -> None:
    width = max(len(k) for k in data)
    for key, value in data.items():
        if isinstance(value, list):
            value = " ".join(value) or "-"
        click.echo(f"{key.ljust(width)}  {'-' if value is None else value}")


@queue.command("set")
@click.argument("queue_name", metavar="Q")
@click.option("--enable/--disable", "enabled", default=None, help="Offer callback in this queue.")
@click.option("--did", help="Company number shown to the customer (digits, optional +).")
@click.option("--attempts", type=click.IntRange(1, 10), help="Calls to the customer before giving up.")
@click.option("--retry-interval", type=DURATION, help="Pause between attempts (300, 300s, 5m).")
@click.option("--window", type=DURATION, help="How long an attempt may wait for a free agent.")
@click.option("--offer-every", type=DURATION, help="How often callers hear the offer.")
@click.option("--notify-agents/--no-notify-agents", default=None, help="Agent hears 'callback for <number>'.")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), help="Who is called first.")
@click.option("--max-pending", type=click.IntRange(0, 100000), help="Open requests allowed in this queue.")
@click.option("--no-max-pending", is_flag=True, help="Remove the open-request limit.")
@click.option("--language", type=click.Choice(["ru", "en"]), help="Language of the prompts.")
@click.option("--region", help="Home country for number checks (ISO code, e.g. US, RU).")
@click.option("--allow-international/--block-international", default=None)
@click.option("--allow-premium/--block-premium", default=None)
@click.option("--block", "block_patterns", multiple=True, help="Block pattern (_900X. or a prefix); repeat.")
@click.option("--allow", "allow_patterns", multiple=True, help="Allow pattern; when set only these may ask.")
@click.option("--clear-patterns", is_flag=True, help="Remove all block and allow patterns first.")
@click.option("--min-talk", type=DURATION, help="Talk time that counts as a delivered callback.")
@json_option
@click.pass_context
def queue_set(
    ctx: click.Context,
    queue_name: str,
    as_json: bool,
    no_max_pending: bool,
    clear_patterns: bool,
    **options: Any,
) -> None:
    """Create or change a queue's callback settings."""
    changes = {k: v for k, v in options.items() if v is not None and v != ()}
    if no_max_pending:
        changes["max_pending"] = None
    service = service_of(ctx)
    current = (
        service.store.get_queue(queue_name) if changes.keys() & {"block_patterns", "allow_patterns"} else None
    )
    for key in ("block_patterns", "allow_patterns"):
        if clear_patterns:
            changes.setdefault(key, ())
        elif key in changes and current is not None:
            changes[key] = tuple(dict.fromkeys(getattr(current, key) + tuple(changes[key])))
    settings = service.set_queue(queue_name, **changes)
    emit(settings.to_dict(), as_json, lambda: show_mapping(settings.to_dict()))


# --- requests -----------------------------------------------------------------------------------------


@cli.group(cls=Group)
def request() -> None:
    """Callback requests."""


REQUEST_HEADERS = ["id", "queue", "number", "did", "status", "attempts", "requested_at", "next_attempt_at"]


def request_rows(items: list[Request]) -> list[list[Any]]:
    return [
        [
            r.id,
            r.queue,
            r.number,
            r.did,
            r.status.value,
            r.attempts,
            r.requested_at.isoformat(sep=" ", timespec="seconds"),
            r.next_attempt_at.isoformat(sep=" ", timespec="seconds") if r.status.is_open else "",
        ]
        for r in items
    ]


@request.command("add")
@click.argument("queue_name", metavar="Q")
@click.argument("number")
@click.option("--did", help="Caller ID for the callback (default: the queue's DID).")
@click.option("--language", type=click.Choice(["ru", "en"]))
@json_option
@click.pass_context
def request_add(
    ctx: click.Context, queue_name: str, number: str, did: str | None, language: str | None, as_json: bool
) -> None:
    """Ask for a callback to NUMBER from queue Q (what the caller's key press does)."""
    result = service_of(ctx).request(queue_name, number, did=did, language=language, source="cli")
    if as_json:
        data = {
            "result": result.kind,
            "message": result.message,
            "request": result.request.to_dict() if result.request else None,
        }
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    elif result.kind == "created":
        click.echo(result.message)
    if result.kind != "created":
        fail(result.message, 4 if result.kind == "duplicate" else 1)


@request.command("list")
@click.option("--status", type=click.Choice([s.value for s in Status]))
@click.option("--queue", "queue_name", metavar="Q")
@click.option("--limit", type=click.IntRange(1, 100000), default=1000, show_default=True)
@json_option
@click.pass_context
def request_list(
    ctx: click.Context, status: str | None, queue_name: str | None, limit: int, as_json: bool
) -> None:
    """Requests, newest first."""
    items = service_of(ctx).list(Status(status) if status else None, queue_name, limit)
    emit([r.to_dict() for r in items], as_json, lambda: table(REQUEST_HEADERS, request_rows(items)))


@request.command("show")
@click.argument("request_id", type=int, metavar="ID")
@json_option
@click.pass_context
def request_show(ctx: click.Context, request_id: int, as_json: bool) -> None:
    """One request with its attempts and history."""
    service = service_of(ctx)
    item = service.get(request_id)
    attempts, events = service.history(request_id)
    data = item.to_dict() | {
        "attempt_log": [a.to_dict() for a in attempts],
        "events": [
            {"at": a.isoformat(timespec="milliseconds") + "Z", "event": e, "detail": d} for a, e, d in events
        ],
    }

    def text() -> None:
        show_mapping(item.to_dict())
        for event in data["events"]:
            click.echo(f"  {event['at']}  {event['event']:<10} {event['detail']}")

    emit(data, as_json, text)


def _change(ctx: click.Context, verb: str, request_id: int, as_json: bool) -> None:
    service = service_of(ctx)
    item = service.cancel(request_id) if verb == "cancel" else service.retry(request_id)
    emit(item.to_dict(), as_json, lambda: click.echo(f"request {item.id} is now {item.status.value}"))


@request.command("cancel")
@click.argument("request_id", type=int, metavar="ID")
@json_option
@click.pass_context
def request_cancel(ctx: click.Context, request_id: int, as_json: bool) -> None:
    """Stop calling back (pending or dialing requests)."""
    _change(ctx, "cancel", request_id, as_json)


@request.command("retry")
@click.argument("request_id", type=int, metavar="ID")
@json_option
@click.pass_context
def request_retry(ctx: click.Context, request_id: int, as_json: bool) -> None:
    """Make a request due now; a closed one reopens with fresh attempts."""
    _change(ctx, "retry", request_id, as_json)


@request.command("purge")
@click.option("--older-than", type=DURATION, required=True, help="Closed longer ago than this (e.g. 30d).")
@click.pass_context
def request_purge(ctx: click.Context, older_than: int) -> None:
    """Delete closed requests (and their attempts) closed before the cutoff."""
    click.echo(f"purged {service_of(ctx).purge(older_than)} closed request(s)")


# --- stats and doctor ---------------------------------------------------------------------------------


@cli.command()
@click.option("--since", type=DURATION, help="Only requests made in this period (e.g. 1d).")
@json_option
@click.pass_context
def stats(ctx: click.Context, since: int | None, as_json: bool) -> None:
    """Requests by status and the median time to callback."""
    result = service_of(ctx).stats(since)

    def text() -> None:
        table(
            ["status", "requests"],
            [[k, v] for k, v in sorted(result.by_status.items())] + [["total", result.requested]],
        )
        median = result.median_seconds_to_callback
        click.echo(f"median time to callback: {'-' if median is None else f'{median:.1f} s'}")

    emit(result.to_dict(), as_json, text)


@cli.command()
@json_option
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check configuration, database and schema; exit 1 if anything is wrong."""
    checks: list[dict[str, Any]] = []

    def check(name: str, probe: Callable[[], str]) -> bool:
        try:
            checks.append({"check": name, "ok": True, "detail": probe()})
            return True
        except (ConfigError, StoreError, OSError) as exc:
            checks.append({"check": name, "ok": False, "detail": str(exc)})
            return False

    context = ctx.find_object(Context)
    assert context is not None
    if check("config", lambda: resolve_dsn(context.dsn_flag).describe()) and check(
        "database", lambda: f"connected to {context.service.store.dsn.describe()}"
    ):

        def schema() -> str:
            have, want = context.service.store.schema_version(), Store.latest_version()
            if have != want:
                raise StoreError(f"schema version {have}, expected {want}: run `freepbx-callback db migrate`")
            return f"version {have}"

        check("schema", schema)
    ok = all(c["ok"] for c in checks)
    emit(
        {"ok": ok, "checks": checks},
        as_json,
        lambda: [
            click.echo(f"{'ok  ' if c['ok'] else 'FAIL'}  {c['check']:<9} {c['detail']}") for c in checks
        ],
    )
    sys.exit(0 if ok else 1)


def main() -> None:
    cli(prog_name="freepbx-callback")
