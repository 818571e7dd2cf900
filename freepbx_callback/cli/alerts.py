"""`alert` commands (the outbox of department alerts) and the mail options `serve` and `dial` share."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import click

from .. import mailer
from ..alerts import FIRST_BACKOFF, AlertError, parse_address
from ..service import CallbackService
from .base import Group, cli, emit, fail, json_option, service_of, table

log = logging.getLogger("freepbx_callback")


def mail_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--smtp",
            "smtp_url",
            envvar="QCB_SMTP",
            metavar="URL",
            help="Where alert mail goes: smtp://user:pass@host:port (?starttls=1), smtps://..., or sendmail: "
            "(default: $QCB_SMTP, else FreePBX's mail settings; on plain Asterisk, none: alerts wait).",
        ),
        click.option(
            "--mail-from",
            envvar="QCB_MAIL_FROM",
            metavar="ADDR",
            help="From address of alert mail (default: $QCB_MAIL_FROM, else FreePBX's).",
        ),
        click.option(
            "--alert-retry",
            envvar="QCB_ALERT_RETRY",
            type=click.IntRange(1, 3600),
            default=FIRST_BACKOFF,
            show_default=True,
            metavar="SECONDS",
            help="Wait before trying a failed alert again; doubled after each failure (at most 30 min).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def mail_config(
    ctx: click.Context, smtp_url: str | None, mail_from: str | None, alert_retry: int = FIRST_BACKOFF
) -> mailer.MailConfig | None:
    try:
        return mailer.resolve(smtp_url, mail_from, service_of(ctx).store, alert_retry)
    except AlertError as exc:
        fail(f"mail settings: {exc}", 2)


def sender_node(node: str | None) -> str:
    return f"{node or socket.gethostname()}/{os.getpid()}"


def send_once(service: CallbackService, config: mailer.MailConfig | None, node: str | None) -> dict[str, int]:
    """One pass of the sender for `dial`; a failure is logged, never the tick's."""
    if config is None:
        return {}
    try:
        return mailer.send_due(service, config, sender_node(node))
    except Exception as exc:  # noqa: BLE001 - alerts wait for the next run
        log.warning("alerts not sent: %s", exc)
        return {}


@cli.group(cls=Group)
def alert() -> None:
    """Department alerts by e-mail (set a queue's addresses with `queue set Q --alert-to ...`)."""


@alert.command("list")
@click.option("--request", "request_id", type=int, help="Only the alerts of this request.")
@json_option
@click.pass_context
def alert_list(ctx: click.Context, request_id: int | None, as_json: bool) -> None:
    """The outbox: each alert, its status (pending, sending, sent, failed), tries and last error."""
    rows = service_of(ctx).alerts(request_id)
    headers = ["id", "request_id", "kind", "queue", "number", "status", "tries", "sent_at", "last_error"]
    emit(rows, as_json, lambda: table(headers, [[r[h] for h in headers] for r in rows]))


@alert.command("send")
@mail_options
@click.pass_context
def alert_send(ctx: click.Context, smtp_url: str | None, mail_from: str | None, alert_retry: int) -> None:
    """Send the alerts that are due now (serve and dial do this on their own)."""
    config = mail_config(ctx, smtp_url, mail_from, alert_retry)
    if config is None:
        fail("no mail settings: give --smtp URL or set $QCB_SMTP", 2)
    counts = mailer.send_due(service_of(ctx), config, sender_node(None))
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@alert.command("test")
@click.argument("address")
@mail_options
@click.pass_context
def alert_test(
    ctx: click.Context, address: str, smtp_url: str | None, mail_from: str | None, alert_retry: int
) -> None:
    """Send a test mail to ADDRESS now with the mail settings serve would use; exit 1 if it fails."""
    try:
        to = parse_address(address)
    except AlertError as exc:
        fail(str(exc), 2)
    config = mail_config(ctx, smtp_url, mail_from)
    if config is None:
        fail("no mail settings: give --smtp URL or set $QCB_SMTP", 2)
    try:
        mailer.deliver(config, mailer.test_message(config, to))
    except mailer.MailError as exc:
        fail(f"not sent: {exc}", 1)
    click.echo(f"sent to {to} through {config.transport.describe()} from {config.sender}")
