"""`request` commands: callback requests."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

import click

from .. import freepbx, hours, policy, wake
from ..ami import Ami, AmiConfig, AmiError
from ..api_service import request_detail
from ..dialer import end_cancelled_call
from ..journal import spool_folder
from ..models import Request, Status
from ..service import CallbackService
from ..store import StoreError
from .base import DURATION, Group, cli, emit, fail, json_option, service_of, show_mapping, table

# --- requests -----------------------------------------------------------------------------------------


@cli.group(cls=Group)
def request() -> None:
    """Callback requests."""


def wake_serve(ctx: click.Context) -> bool:
    """Best-effort: tell a running ``serve`` (the one whose journal folder is this host's spool, as
    ``serve`` finds it: $QCB_SPOOL, else FreePBX's ASTSPOOLDIR/qcb) to tick now instead of at its poll."""
    folder = None
    if not os.environ.get("QCB_SPOOL"):
        try:
            values = freepbx.settings(service_of(ctx).store)
            folder = freepbx.spool_dir(values) if values else None
        except StoreError:
            folder = None
    return wake.wake(folder or spool_folder())


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
@click.option(
    "--when",
    type=click.Choice(list(policy.WHEN_CHOICES)),
    default="asap",
    show_default=True,
    help="The caller's choice of time (where the queue offers one): asap, hour (in 1 hour), morning.",
)
@json_option
@click.pass_context
def request_add(
    ctx: click.Context,
    queue_name: str,
    number: str,
    did: str | None,
    language: str | None,
    when: str,
    as_json: bool,
) -> None:
    """Ask for a callback to NUMBER from queue Q (what the caller's key press does)."""
    result = service_of(ctx).request(queue_name, number, did=did, language=language, source="cli", when=when)
    if as_json:
        data = {
            "result": result.kind,
            "message": result.message,
            "reason": result.reason or None,
            "request": result.request.to_dict() if result.request else None,
        }
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    elif result.kind == "created":
        click.echo(result.message)
    if result.kind == "created":
        wake_serve(ctx)
    else:
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
    data = request_detail(item, *service.history(request_id))

    def text() -> None:
        show_mapping(item.to_dict())
        for event in data["events"]:
            click.echo(f"  {event['at']}  {event['event']:<10} {event['detail']}")

    emit(data, as_json, text)


def _change(ctx: click.Context, verb: str, request_id: int, as_json: bool) -> None:
    service = service_of(ctx)
    item = service.cancel(request_id) if verb == "cancel" else service.retry(request_id)
    if verb == "retry":
        wake_serve(ctx)
    emit(item.to_dict(), as_json, lambda: click.echo(f"request {item.id} is now {item.status.value}"))


CALL_ENDED = {
    "hung up": "its call was hung up",
    "gone": "its call had ended",
    "connected": "the customer is already talking to an agent: that call is left up",
}


def _end_call(service: CallbackService, request_id: int, ami_url: str | None) -> str | None:
    """Hang up the call of a just-cancelled request, if one is under way; what happened, or None."""
    attempt = service.open_attempt(request_id)
    if attempt is None or not attempt.channel_id:
        return None
    try:
        ami = Ami(AmiConfig.resolve(ami_url, freepbx.ami_config(freepbx.settings(service.store))))
    except AmiError as exc:
        return f"its call was not hung up here ({exc}); the dialer hangs it up at its next tick"
    try:
        return CALL_ENDED[end_cancelled_call(ami, attempt.channel_id)]
    except AmiError as exc:
        return f"its call was not hung up here ({exc}); the dialer hangs it up at its next tick"
    finally:
        ami.close()


@request.command("cancel")
@click.argument("request_id", type=int, metavar="ID")
@click.option(
    "--ami",
    "ami_url",
    help="ami://user:secret@host:port, to hang up a call under way (default: $QCB_AMI, else FreePBX's "
    "manager settings; without AMI the dialer hangs it up at its next tick).",
)
@json_option
@click.pass_context
def request_cancel(ctx: click.Context, request_id: int, ami_url: str | None, as_json: bool) -> None:
    """Stop calling back (pending or dialing requests); a call under way is hung up."""
    service = service_of(ctx)
    item = service.cancel(request_id)
    call = _end_call(service, request_id, ami_url)
    data = {**item.to_dict(), "call": call}
    emit(
        data,
        as_json,
        lambda: click.echo(f"request {item.id} is now {item.status.value}" + (f"; {call}" if call else "")),
    )


@request.command("retry")
@click.argument("request_id", type=int, metavar="ID")
@json_option
@click.pass_context
def request_retry(ctx: click.Context, request_id: int, as_json: bool) -> None:
    """Make a request due now; a closed one reopens with fresh attempts."""
    _change(ctx, "retry", request_id, as_json)


@request.command("reschedule")
@click.argument("request_id", type=int, metavar="ID")
@click.option(
    "--at", "at_text", metavar="TIME", help="'2026-12-02 10:00' in the queue's time zone, or ISO with Z."
)
@click.option("--in", "in_seconds", type=DURATION, help="From now: 30m, 2h, 1d.")
@json_option
@click.pass_context
def request_reschedule(
    ctx: click.Context, request_id: int, at_text: str | None, in_seconds: int | None, as_json: bool
) -> None:
    """Call a pending request back not before a time (within its queue's callback hours)."""
    service = service_of(ctx)
    if (at_text is None) == (in_seconds is None):
        fail("give one of --at TIME or --in DURATION", 2)
    if in_seconds is not None:
        at = service.clock() + timedelta(seconds=in_seconds)
    else:
        try:
            parsed = datetime.fromisoformat(str(at_text).strip().replace("Z", "+00:00"))
        except ValueError:
            fail(f"--at {at_text!r}: use 'YYYY-MM-DD HH:MM' (the queue's time zone) or ISO with Z", 2)
        timezone = service.settings(service.get(request_id).queue).timezone
        at = hours.utc_of(parsed, timezone)
    item = service.reschedule(request_id, at)
    wake_serve(ctx)
    due = item.next_attempt_at.isoformat(sep=" ", timespec="seconds")
    emit(item.to_dict(), as_json, lambda: click.echo(f"request {item.id} is due {due} UTC"))


@request.command("purge")
@click.option("--older-than", type=DURATION, required=True, help="Closed longer ago than this (e.g. 30d).")
@click.pass_context
def request_purge(ctx: click.Context, older_than: int) -> None:
    """Delete closed requests (and their attempts) closed before the cutoff."""
    click.echo(f"purged {service_of(ctx).purge(older_than)} closed request(s)")
