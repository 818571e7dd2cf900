"""Shared pieces of the command line: the root group, error handling, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import click

from .. import __version__, numbers
from ..config import ConfigError, resolve_dsn
from ..policy import PolicyError, parse_duration
from ..service import CallbackService, NotFound
from ..store import Store, StoreError


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


def show_mapping(data: dict[str, Any]) -> None:
    width = max(len(k) for k in data)
    for key, value in data.items():
        if isinstance(value, list):
            value = " ".join(value) or "-"
        click.echo(f"{key.ljust(width)}  {'-' if value is None else value}")
