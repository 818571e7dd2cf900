"""`apikey` commands: the HTTP API's client keys."""

from __future__ import annotations

import click

from ..apikeys import DEFAULT_PER_MINUTE, DEFAULT_PER_NUMBER_HOUR, ApiKey, ApiKeys, KeyExists
from .base import Group, cli, emit, fail, json_option, service_of, table

KEY_HEADERS = ["name", "token", "queues", "per_minute", "per_number_hour", "created_at", "revoked_at"]


def _keys(ctx: click.Context) -> ApiKeys:
    service = service_of(ctx)
    return ApiKeys(service.store, service.clock)


def _row(key: ApiKey) -> list[object]:
    data = key.to_dict()
    return [
        key.name,
        data["token_hint"],
        " ".join(key.queues) or "(all)",
        key.per_minute,
        key.per_number_hour,
        data["created_at"],
        data["revoked_at"] or "",
    ]


@cli.group(cls=Group)
def apikey() -> None:
    """Keys of the HTTP API's clients (bearer tokens)."""


@apikey.command("add")
@click.argument("name")
@click.option("--queue", "queues", multiple=True, metavar="Q", help="Only this queue (repeat for more).")
@click.option(
    "--per-minute",
    type=click.IntRange(1, 1_000_000),
    default=DEFAULT_PER_MINUTE,
    show_default=True,
    help="Requests this key may make per minute.",
)
@click.option(
    "--per-number-hour",
    type=click.IntRange(1, 1_000_000),
    default=DEFAULT_PER_NUMBER_HOUR,
    show_default=True,
    help="Requests for one number per hour (counted across all keys).",
)
@json_option
@click.pass_context
def apikey_add(
    ctx: click.Context,
    name: str,
    queues: tuple[str, ...],
    per_minute: int,
    per_number_hour: int,
    as_json: bool,
) -> None:
    """Create key NAME and print its token once (only its hash is stored)."""
    try:
        key, token = _keys(ctx).add(name, queues, per_minute, per_number_hour)
    except KeyExists as exc:
        fail(str(exc), 4)

    def text() -> None:
        click.echo(f"key {key.name} created; its token (shown only now, keep it secret):")
        click.echo(token)

    emit(key.to_dict() | {"token": token}, as_json, text)


@apikey.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked keys too.")
@json_option
@click.pass_context
def apikey_list(ctx: click.Context, include_revoked: bool, as_json: bool) -> None:
    """Keys (never their tokens: only the first characters)."""
    keys = _keys(ctx).list(include_revoked)
    emit([k.to_dict() for k in keys], as_json, lambda: table(KEY_HEADERS, [_row(k) for k in keys]))


@apikey.command("revoke")
@click.argument("name")
@json_option
@click.pass_context
def apikey_revoke(ctx: click.Context, name: str, as_json: bool) -> None:
    """Revoke key NAME: its token stops working at once."""
    key = _keys(ctx).revoke(name)
    emit(key.to_dict(), as_json, lambda: click.echo(f"key {key.name} revoked"))
