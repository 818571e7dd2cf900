"""Operations: stats, doctor, dialplan, sounds."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import freepbx, health
from ..config import FASTAGI_PORT, ConfigError, dsn_source, resolve_dsn
from ..dialplan.render import DEFAULT_AGI_DIR, DEFAULT_ASTERISK_VERSION, TARGETS, RenderError, render
from ..journal import Journal
from ..prompts import SoundsError, default_sounds_dir, install_sounds
from ..store import Store, StoreError
from .base import DURATION, Context, Group, cli, emit, fail, json_option, service_of, table

# --- stats and doctor ---------------------------------------------------------------------------------


@cli.command()
@click.option("--since", type=DURATION, help="Only requests made in this period (e.g. 1d).")
@json_option
@click.pass_context
def stats(ctx: click.Context, since: int | None, as_json: bool) -> None:
    """Requests by status and the median time to callback; per queue and (UTC) day of the request:
    accepted, answered, failed, expired, and the median and 90th percentile seconds from the request to
    the customer connected."""
    from ..reports import OFFERED_UNKNOWN

    service = service_of(ctx)
    result = service.stats(since)
    days = service.daily_stats(since)
    data = result.to_dict()
    data["by_queue_and_day"] = [day.to_dict() for day in days]
    data["notes"] = [OFFERED_UNKNOWN]

    def text() -> None:
        table(
            ["status", "requests"],
            [[k, v] for k, v in sorted(result.by_status.items())] + [["total", result.requested]],
        )
        median = result.median_seconds_to_callback
        click.echo(f"median time to callback: {'-' if median is None else f'{median:.1f} s'}")
        if days:
            click.echo("")
            table(
                ["queue", "day", "accepted", "answered", "failed", "expired", "median s", "p90 s"],
                [
                    [d.queue, d.day, d.accepted, d.answered, d.failed, d.expired]
                    + [d.median_seconds if d.median_seconds is not None else "-"]
                    + [d.p90_seconds if d.p90_seconds is not None else "-"]
                    for d in days
                ],
            )
            click.echo(OFFERED_UNKNOWN)

    emit(data, as_json, text)


def _mark(check: health.Check) -> str:
    return "FAIL" if not check.ok else ("warn" if check.extra.get("warning") else "ok  ")


@cli.command()
@click.option(
    "--spool",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="QCB_SPOOL",
    help="Journal folder (default: $QCB_SPOOL, FreePBX's ASTSPOOLDIR/qcb, or /var/spool/asterisk/qcb).",
)
@click.option(
    "--asterisk-user",
    envvar="QCB_ASTERISK_USER",
    metavar="USER",
    help="The user Asterisk runs as (default: $QCB_ASTERISK_USER, FreePBX's AMPASTERISKUSER, asterisk).",
)
@json_option
@click.pass_context
def doctor(ctx: click.Context, spool: Path | None, asterisk_user: str | None, as_json: bool) -> None:
    """Check configuration, database, schema, the dialer, the journal and who can read freepbx.conf;
    exit 1 if anything is wrong."""
    checks: list[health.Check] = []

    def check(name: str, probe: Callable[[], str]) -> bool:
        try:
            checks.append(health.Check(name, True, probe()))
            return True
        except (ConfigError, StoreError, OSError) as exc:
            checks.append(health.Check(name, False, str(exc)))
            return False

    context = ctx.find_object(Context)
    assert context is not None
    daemon: dict[str, Any] = dict(health.UNKNOWN_DAEMON)
    values: dict[str, str] = {}
    configured = check("config", lambda: resolve_dsn(context.dsn_flag).describe())
    if configured and check("database", lambda: f"connected to {context.service.store.dsn.describe()}"):
        service = context.service

        def schema() -> str:
            have, want = service.store.schema_version(), Store.latest_version()
            if have != want:
                raise StoreError(f"schema version {have}, expected {want}: run `freepbx-callback db migrate`")
            return f"version {have}"

        values = freepbx.settings(service.store)
        if check("schema", schema):
            offering = sum(q.enabled for q in service.queues())
            found, daemon = health.daemon(service.nodes(), offering)
            readable = health.config_readable(
                dsn_source(context.dsn_flag),
                asterisk_user or freepbx.asterisk_user(values) or health.DEFAULT_ASTERISK_USER,
            )
            checks += [readable, found]
    if not any(c.check == "config_readable" for c in checks):
        user = asterisk_user or health.DEFAULT_ASTERISK_USER
        checks.append(health.config_readable(dsn_source(context.dsn_flag), user))
    folder = spool or (freepbx.spool_dir(values) if values.get("ASTSPOOLDIR") else None)
    found, journal_summary = health.journal(Journal(folder))
    checks.append(found)
    if any(c.check == "daemon" for c in checks):  # the schema is current: the outbox is there
        from ..alerts import MAX_TRIES

        checks.append(health.alerts(context.service.alert_health(), MAX_TRIES))
    ok = all(c.ok for c in checks)
    report = {
        "ok": ok,
        "checks": [c.to_dict() for c in checks],
        "journal": journal_summary,
        "daemon": daemon,
    }
    emit(
        report,
        as_json,
        lambda: [click.echo(f"{_mark(c)}  {c.check:<15} {c.detail}") for c in checks],
    )
    sys.exit(0 if ok else 1)


@cli.command()
@click.option("--target", type=click.Choice(TARGETS), default="asterisk", show_default=True)
@click.option(
    "--agi",
    default=DEFAULT_AGI_DIR,
    show_default=True,
    help="agi-bin folder of the qcb-*.agi scripts, or agi://host:port of `freepbx-callback serve` "
    "(port 4577 when none is given).",
)
@click.option(
    "--agi-fallback",
    metavar="DIR",
    help="With --agi agi://...: the agi-bin folder whose qcb-*.agi scripts run when that FastAGI server "
    "does not take the call (e.g. /var/lib/asterisk/agi-bin).",
)
@click.option(
    "--asterisk-version",
    default=DEFAULT_ASTERISK_VERSION,
    show_default=True,
    help="The running Asterisk's version (`asterisk -V` output works): Queue()'s gosub slot moved in 21.",
)
@click.option(
    "--serve-fastagi",
    "serve_port",
    type=click.IntRange(1, 65535),
    is_flag=False,
    flag_value=FASTAGI_PORT,
    help="When a `freepbx-callback serve` is up (its heartbeat is fresh), route the AGI calls to "
    f"agi://127.0.0.1:PORT (PORT defaults to serve's {FASTAGI_PORT}), with --agi's folder as the "
    "fallback; else run the agi-bin scripts.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write extensions_qcb.conf and queues_qcb.conf into this folder.",
)
@json_option
@click.pass_context
def dialplan(
    ctx: click.Context,
    target: str,
    agi: str,
    agi_fallback: str | None,
    asterisk_version: str,
    serve_port: int | None,
    output: Path | None,
    as_json: bool,
) -> None:
    """Render the dialplan and queue settings for the queues that offer a callback."""
    service = service_of(ctx)
    fastagi = False
    if serve_port is not None:
        if agi_fallback is not None or agi.startswith("agi://"):
            raise click.UsageError("--serve-fastagi takes the agi-bin folder as --agi, and no --agi-fallback")
        fastagi = any(node.kind == "serve" and node.up for node in service.nodes())
        if fastagi:
            agi, agi_fallback = f"agi://127.0.0.1:{serve_port}", agi
    try:
        rendered = render(
            service.queues(), target, agi, asterisk_version, agi_fallback, accept=service.accepting()
        )
    except RenderError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        data = {
            "dialplan": rendered.extensions,
            "queues": rendered.queue_settings,
            "queue_entry": rendered.queue_entry,
            "fastagi": fastagi,
        }
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    elif output is not None:
        for path in rendered.write(output):
            click.echo(f"wrote {path}")
    else:
        click.echo(rendered.extensions + rendered.queues_conf, nl=False)


@cli.group(cls=Group)
def sounds() -> None:
    """The shipped voice prompts (en, ru)."""


@sounds.command("install")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Asterisk's sounds folder (default: <astdatadir>/sounds of /etc/asterisk/asterisk.conf, else "
    "Debian's /usr/share/asterisk/sounds).",
)
def sounds_install(folder: Path | None) -> None:
    """Copy the prompts into Asterisk's sounds folder (<dir>/<lang>/qcb-*.wav)."""
    folder = folder or default_sounds_dir()
    try:
        copied = install_sounds(folder)
    except SoundsError as exc:
        fail(str(exc), 2)
    click.echo(f"installed {len(copied)} prompt file(s) into {folder}")
