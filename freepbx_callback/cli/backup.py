"""`backup` and `restore`: the module's data for FreePBX's backup module (or any copy)."""

from __future__ import annotations

import json
from typing import IO

import click

from ..backup import BackupError, parse
from .base import cli, emit, fail, json_option, service_of


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON (the only format; accepted for scripts).")
@click.pass_context
def backup(ctx: click.Context, as_json: bool) -> None:
    """Print every queue's callback settings and every open request as one JSON document."""
    click.echo(json.dumps(service_of(ctx).backup(), indent=2, sort_keys=True))


@cli.command()
@click.argument("file", type=click.File("r", encoding="utf-8"), metavar="FILE")
@json_option
@click.pass_context
def restore(ctx: click.Context, file: IO[str], as_json: bool) -> None:
    """Restore a `backup` document from FILE (- reads stdin): queue settings are upserted and open
    requests re-created as pending, unless already open or already stored. All or nothing."""
    try:
        document = json.loads(file.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"{file.name}: not a backup (not JSON: {exc})", 2)
    try:
        report = service_of(ctx).restore(parse(document))
    except BackupError as exc:
        fail(f"{file.name}: nothing restored: {exc}", 2)
    emit(report.__dict__, as_json, lambda: click.echo(report.summary()))
