"""The caller pressed 1 in the queue: store the callback request, then say goodbye or send them back.

Every path ends in a prompt and either a hangup (``QCB_NEXT=hangup``: a request is stored or journaled)
or a return to the queue (``QCB_NEXT=queue``); the dialplan acts on QCB_NEXT, so even a crash of this
handler returns the caller to the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from .. import hours, numbers, policy
from ..journal import Entry, Journal
from ..models import QueueSettings, Request
from ..queue_cache import QueueCache
from ..records import record
from ..service import CallbackService
from ..store import StoreUnavailable

TYPE_CHECKING = False  # typing's flag without importing typing: the agi-bin request path does not need it
if TYPE_CHECKING:
    from .channel import Channel

ENTRY_TRIES = 3
DIGIT_TIMEOUT_MS = 10000
CONFIRM_TIMEOUT_MS = 6000
CHOICE_TIMEOUT_MS = 5000
CALLER_VARIABLES = ["QUEUEJOINTIME", "QUEUEWAIT", "FROM_DID", "CHANNEL(language)", "QUEUEPOSITION"]


@record(frozen=True)
class Outcome:
    result: str  # created | duplicate | journaled | blocked | limit | disabled | invalid | no_number | error
    next: str  # hangup | queue
    number: str | None = None


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def ask_number(channel: Channel, settings: QueueSettings) -> str | None:
    """Let a caller with a withheld or unusable caller ID key in a number, read it back, confirm with 1.

    The read-back ignores keys; only a key pressed at or after the confirm prompt answers it.
    Three failed tries (nothing entered, an invalid number, no confirmation) give up.
    """
    for _ in range(ENTRY_TRIES):
        typed = channel.get_data(settings.prompt("enter-number"), DIGIT_TIMEOUT_MS, numbers.MAX_DIGITS)
        try:
            number = numbers.clean(typed)
        except numbers.InvalidNumber:
            channel.play(settings.prompt("invalid-number"))
            continue
        channel.play(settings.prompt("you-entered"))
        channel.say_digits(number.lstrip("+"))
        key = channel.play(settings.prompt("confirm"), "12") or channel.wait_digit(CONFIRM_TIMEOUT_MS)
        if key == "1":
            return number
    return None


def ask_when(channel: Channel, settings: QueueSettings) -> str:
    """The caller's choice of time: 1 as soon as possible, 2 in one hour, 3 tomorrow morning; no key (or
    another) is as soon as possible."""
    keys = "".join(policy.WHEN_KEYS)
    key = channel.play(settings.prompt("choose-time"), keys) or channel.wait_digit(CHOICE_TIMEOUT_MS)
    return policy.WHEN_KEYS.get(key, "asap")


def handle_request(
    channel: Channel, service: Callable[[], CallbackService], queue: str, journal: Journal | None = None
) -> Outcome:
    outcome = _run(channel, service, queue, journal or Journal())
    # the dialplan acts on QCB_NEXT: "hangup" hangs the caller up (no AGI HANGUP: one round trip less)
    channel.done_computing()
    channel.set_variables({"QCB_RESULT": outcome.result, "QCB_NEXT": outcome.next})
    return outcome


def _run(channel: Channel, service: Callable[[], CallbackService], queue: str, journal: Journal) -> Outcome:
    svc: CallbackService | None
    cache = QueueCache(journal.folder)
    # FreePBX's queue dialplan sets QUEUEJOINTIME; app_queue itself sets QUEUEWAIT when a key exits.
    # Read first: the call's first command, before any work (FastAGI sets its mark in the same round trip).
    got = channel.read_variables(CALLER_VARIABLES)
    try:
        svc = service()
        # Every queue in one read: this queue's settings, and the copy kept for when the database is down.
        queues = svc.queues()
    except StoreUnavailable:
        # The database is down: apply the settings the last call read (see queue_cache).
        svc, settings = None, cache.settings(queue)
    else:
        cache.remember(queues)
        settings = next((q for q in queues if q.queue == queue), None) or QueueSettings(queue=queue)
    raw = channel.env.get("agi_callerid", "")
    try:
        number = numbers.clean(raw)
    except numbers.InvalidNumber:
        typed = ask_number(channel, settings)
        if typed is None:
            return Outcome("no_number", "queue")
        number = typed
    joined = _int_or_none(got["QUEUEJOINTIME"])
    waited = int(time.time()) - joined if joined else _int_or_none(got["QUEUEWAIT"])
    try:
        did = numbers.clean(got["FROM_DID"])
    except numbers.InvalidNumber:
        did = None
    details = {
        "did": did,
        "language": got["CHANNEL(language)"] or None,
        "uniqueid": channel.env.get("agi_uniqueid") or None,
        "position": _int_or_none(got["QUEUEPOSITION"]),
        "waited": waited,
    }
    when = "asap"
    if svc is not None and settings.offer_times and refusal_without_database(settings, number) is None:
        when = ask_when(channel, settings)
    try:
        if svc is None:
            raise StoreUnavailable("database unreachable at the start of the call")
        result = svc.request(
            queue,
            number,
            source="agi",
            when=when,
            settings=settings,
            **details,  # type: ignore[arg-type]
        )
    except StoreUnavailable:
        refused = refusal_without_database(settings, number)
        if refused is not None:
            channel.play(settings.prompt("not-available"))
            return Outcome(refused, "queue", number)
        return _journal(channel, settings, journal, queue, number, details)
    if result.kind == "created" and result.request is not None and _later(svc, result.request):
        say_when(channel, svc, settings, result.request)
        return Outcome(result.kind, "hangup", number)
    channel.done_computing()  # stored (or refused): only the last prompt is left
    if result.accepted:
        channel.play(settings.prompt("accepted" if result.kind == "created" else "already-requested"))
        return Outcome(result.kind, "hangup", number)
    channel.play(settings.prompt("not-available"))
    return Outcome(result.kind, "queue", number)


LATER_SLACK_S = 1  # a request due within this of now is "as soon as possible"
TIME_FORMATS = {"en": "IMp"}  # SAY DATETIME's format for the hour and minute; else 24-hour "kM"
DAY_FORMATS = {"weekday": "A", "date": "AdB"}


def _later(svc: CallbackService, request: Request) -> bool:
    return (request.next_attempt_at - svc.clock()).total_seconds() > LATER_SLACK_S


def say_when(channel: Channel, svc: CallbackService, settings: QueueSettings, request: Request) -> None:
    """Accepted, to be called later (out of callback hours): "... we will call you back, tomorrow,
    after, 9 a.m." -- the day and the time said by Asterisk in the channel's language, in the time zone
    of the queue's hours."""
    schedule = svc.schedule(settings)
    at = request.next_attempt_at
    epoch = int(at.replace(tzinfo=UTC).timestamp())
    word = hours.day_word(schedule, svc.clock(), at)
    channel.play(settings.prompt("accepted-later"))
    if word in DAY_FORMATS:
        channel.say_datetime(epoch, DAY_FORMATS[word], schedule.timezone)
    else:
        channel.play(f"digits/{word}")
    channel.play(settings.prompt("after"))
    language = channel.variable("CHANNEL(language)") or request.language
    channel.say_datetime(epoch, TIME_FORMATS.get(language, "kM"), schedule.timezone)
    channel.play(settings.prompt("goodbye"))


def refusal_without_database(settings: QueueSettings, number: str) -> str | None:
    """Every check that needs no database: a disabled queue, the number rules, block and allow patterns.
    The open-request limit cannot be counted; the replay applies the whole policy again."""
    try:
        parsed = numbers.parse(number, settings.region)
    except numbers.InvalidNumber:
        return "invalid"
    refusal = policy.refusal(settings, parsed, None)
    return refusal.code if refusal is not None else None


def _journal(
    channel: Channel,
    settings: QueueSettings,
    journal: Journal,
    queue: str,
    number: str,
    details: dict[str, object],
) -> Outcome:
    requested_at = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    try:
        journal.append(Entry(queue=queue, number=number, requested_at=requested_at, **details))  # type: ignore[arg-type]
    except OSError:
        channel.play(settings.prompt("not-available"))
        return Outcome("error", "queue", number)
    channel.play(settings.prompt("accepted"))
    return Outcome("journaled", "hangup", number)
