"""`queue` commands: per-queue callback settings."""

from __future__ import annotations

from typing import Any

import click

from ..alerts import KINDS, AlertError, parse_addresses, parse_kinds
from ..models import Mode, QueueSettings
from .base import DURATION, Group, cli, emit, fail, json_option, service_of, show_mapping, table

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
            "yes" if q.announce_position else "no",
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
    "position",
]


@queue.command("list")
@json_option
@click.pass_context
def queue_list(ctx: click.Context, as_json: bool) -> None:
    """Queues that have callback settings."""
    service = service_of(ctx)
    items = service.queues()
    accepting = service.store.accept_queues()
    data = [q.to_dict() | {"agent_accept": q.queue in accepting} for q in items]
    emit(data, as_json, lambda: table(QUEUE_HEADERS, queue_rows(items)))


@queue.command("show")
@click.argument("queue_name", metavar="Q")
@click.option(
    "--defaults",
    is_flag=True,
    help="For a queue never configured, show the defaults (callback off) instead of an error; "
    "adds `configured` (true or false).",
)
@json_option
@click.pass_context
def queue_show(ctx: click.Context, queue_name: str, defaults: bool, as_json: bool) -> None:
    """One queue's settings."""
    service = service_of(ctx)
    if defaults:
        settings, configured = service.queue_or_defaults(queue_name)
        data = {**settings.to_dict(), **service.alerts_of(settings.queue), "configured": configured}
    else:
        data = {**service.queue(queue_name).to_dict(), **service.alerts_of(queue_name)}
    data["agent_accept"] = service.agent_accept(queue_name)
    emit(data, as_json, lambda: show_mapping(data))


@queue.command("set")
@click.argument("queue_name", metavar="Q")
@click.option("--enable/--disable", "enabled", default=None, help="Offer callback in this queue.")
@click.option("--did", help="Company number shown to the customer (digits, optional +).")
@click.option("--no-did", is_flag=True, help="Clear the DID (use the caller's FROM_DID only).")
@click.option("--attempts", type=click.IntRange(1, 10), help="Calls to the customer before giving up.")
@click.option("--retry-interval", type=DURATION, help="Pause between attempts (300, 300s, 5m).")
@click.option("--window", type=DURATION, help="How long an attempt may wait for a free agent.")
@click.option("--offer-every", type=DURATION, help="How often callers hear the offer.")
@click.option("--notify-agents/--no-notify-agents", default=None, help="Agent hears 'callback for <number>'.")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), help="Who is called first.")
@click.option(
    "--agent-accept/--no-agent-accept",
    default=None,
    help="Agent-first: the agent presses 1 within 10 s of 'callback for <number>' or the next agent is tried "
    "(that try does not count against the customer's attempts).",
)
@click.option("--max-pending", type=click.IntRange(0, 100000), help="Open requests allowed in this queue.")
@click.option("--no-max-pending", is_flag=True, help="Remove the open-request limit.")
@click.option("--language", type=click.Choice(["ru", "en"]), help="Language of the prompts.")
@click.option("--region", help="Home country for number checks (ISO code, e.g. US, RU).")
@click.option(
    "--allow-international/--block-international",
    default=None,
    help="Numbers of other countries (fixed and mobile; other kinds also need their own allow).",
)
@click.option("--allow-premium/--block-premium", default=None, help="Premium-rate numbers.")
@click.option("--allow-shared-cost/--block-shared-cost", default=None, help="Shared-cost numbers.")
@click.option(
    "--allow-satellite/--block-satellite",
    default=None,
    help="Satellite and international networks (+870, +881, +882, +883, +979 ...).",
)
@click.option(
    "--allow-special/--block-special",
    default=None,
    help="Toll-free, VoIP, personal, pager, UAN and voicemail numbers.",
)
@click.option("--block", "block_patterns", multiple=True, help="Block pattern (_900X. or a prefix); repeat.")
@click.option("--allow", "allow_patterns", multiple=True, help="Allow pattern; when set only these may ask.")
@click.option("--clear-patterns", is_flag=True, help="Remove all block and allow patterns first.")
@click.option("--min-talk", type=DURATION, help="Talk time that counts as a delivered callback.")
@click.option(
    "--keep-place/--no-keep-place",
    default=None,
    help="Call back only when no live caller who joined earlier is still waiting.",
)
@click.option(
    "--announce-position/--no-announce-position",
    default=None,
    help="Before each offer, tell callers their place in line and the queue's estimated wait.",
)
@click.option(
    "--prompt",
    "prompt_overrides",
    multiple=True,
    metavar="NAME=RECORDING",
    help="Play a system recording instead of a shipped prompt (NAME= restores it); repeat.",
)
@click.option(
    "--hours",
    "hours_rules",
    multiple=True,
    metavar="'DAYS HH:MM-HH:MM'",
    help="Callback hours, e.g. 'mon-fri 09:00-17:00'; repeat for more; replaces the queue's hours.",
)
@click.option("--timezone", help="Time zone the hours are read in (e.g. Europe/Moscow; default UTC).")
@click.option("--timegroup", type=click.IntRange(1), help="FreePBX Time Group id as the callback hours.")
@click.option(
    "--offer-times/--no-offer-times",
    default=None,
    help="After the 1 the caller chooses when: 1 as soon as possible, 2 in 1 hour, 3 tomorrow morning.",
)
@click.option("--no-timegroup", is_flag=True, help="No FreePBX Time Group (the --hours rules apply).")
@click.option("--clear-hours", is_flag=True, help="Remove the --hours rules (with none: always open).")
@click.option(
    "--alert-to",
    "alert_to",
    multiple=True,
    metavar="ADDR",
    help="Department e-mail address for alerts (repeat for more; replaces the queue's addresses).",
)
@click.option(
    "--alert-on",
    metavar="KINDS",
    help=f"Which alerts are sent: a comma-separated choice of {', '.join(KINDS)} (default with --alert-to: "
    "all).",
)
@click.option("--no-alerts", is_flag=True, help="Send no alerts for this queue (forgets the addresses).")
@click.option("--always-open", is_flag=True, help="Remove the callback hours and the Time Group.")
@json_option
@click.pass_context
def queue_set(
    ctx: click.Context,
    queue_name: str,
    as_json: bool,
    no_max_pending: bool,
    no_did: bool,
    clear_patterns: bool,
    prompt_overrides: tuple[str, ...],
    hours_rules: tuple[str, ...],
    no_timegroup: bool,
    clear_hours: bool,
    always_open: bool,
    alert_to: tuple[str, ...],
    alert_on: str | None,
    no_alerts: bool,
    agent_accept: bool | None,
    **options: Any,
) -> None:
    """Create or change a queue's callback settings."""
    if no_alerts and (alert_to or alert_on is not None):
        fail("--no-alerts: not with --alert-to or --alert-on", 2)
    try:  # checked before anything is written
        addresses = () if no_alerts else (parse_addresses(alert_to) if alert_to else None)
        kinds = () if no_alerts else (parse_kinds(alert_on) if alert_on is not None else None)
    except AlertError as exc:
        fail(str(exc), 2)
    changes = {k: v for k, v in options.items() if v is not None and v != ()}
    if always_open and (hours_rules or "timegroup" in changes):
        fail("--always-open: not with --hours or --timegroup", 2)
    if always_open or no_timegroup:
        changes["timegroup"] = None
    if always_open or clear_hours or hours_rules:
        changes["hours"] = tuple(dict.fromkeys(hours_rules))
    if no_max_pending:
        changes["max_pending"] = None
    if no_did:
        changes["did"] = None
    service = service_of(ctx)
    current = service.store.get_queue(queue_name) or QueueSettings(queue=queue_name)
    for key in ("block_patterns", "allow_patterns"):
        if clear_patterns:
            changes[key] = () if key not in changes else tuple(dict.fromkeys(changes[key]))
        elif key in changes:
            changes[key] = tuple(dict.fromkeys(getattr(current, key) + tuple(changes[key])))
    if prompt_overrides:
        prompts = dict(current.prompts)
        for item in prompt_overrides:
            name, sep, recording = item.partition("=")
            if not sep:
                fail(f"--prompt {item!r}: use NAME=RECORDING", 2)
            prompts[name.strip()] = recording.strip()
        changes["prompts"] = tuple((name, rec) for name, rec in prompts.items() if rec)
    settings = service.set_queue(queue_name, **changes)
    if addresses is not None or kinds is not None:
        service.set_alerts(settings.queue, addresses, kinds)
    if agent_accept is not None:
        service.set_agent_accept(queue_name, agent_accept)
    data = {
        **settings.to_dict(),
        **service.alerts_of(settings.queue),
        "agent_accept": service.agent_accept(queue_name),
    }
    emit(data, as_json, lambda: show_mapping(data))


@queue.command("time-groups")
@json_option
@click.pass_context
def queue_time_groups(ctx: click.Context, as_json: bool) -> None:
    """FreePBX's Time Groups (Time Conditions module) a queue may take as its callback hours."""
    service = service_of(ctx)
    groups = []
    for group, description in service.time_groups():
        rules = service.store.time_group(group) or []
        groups.append({"id": group, "description": description, "times": rules})
    emit(
        groups,
        as_json,
        lambda: table(
            ["id", "description", "times"],
            [[g["id"], g["description"], "; ".join(g["times"])] for g in groups],
        ),
    )


@queue.command("delete")
@click.argument("queue_name", metavar="Q")
@click.pass_context
def queue_delete(ctx: click.Context, queue_name: str) -> None:
    """Forget a queue's callback settings (the queue was deleted); its open requests are cancelled."""
    cancelled = service_of(ctx).delete_queue(queue_name)
    click.echo(f"queue {queue_name} deleted; {cancelled} open request(s) cancelled")
