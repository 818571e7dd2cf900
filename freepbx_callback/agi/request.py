"""The caller pressed 1 in the queue: store the callback request, then say goodbye or send them back."""

from __future__ import annotations

import time
from collections.abc import Callable

from .. import numbers
from ..service import CallbackService, RequestResult
from ..store import StoreUnavailable
from .channel import Channel

PROMPTS = {"created": "qcb-accepted", "duplicate": "qcb-already-requested"}
REFUSED = "qcb-not-available"


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _did(channel: Channel) -> str | None:
    try:
        return numbers.clean(channel.variable("FROM_DID"))
    except numbers.InvalidNumber:
        return None


def handle_request(channel: Channel, service: Callable[[], CallbackService], queue: str) -> str:
    """Run the request flow; returns the result kind, also left in the channel variable QCB_RESULT.

    The dialplan hangs up after ``created``/``duplicate`` and returns the caller to the queue otherwise.
    """
    joined = _int_or_none(channel.variable("QUEUEJOINTIME"))
    language = channel.variable("CHANNEL(language)") or None
    try:
        result = service().request(
            queue,
            channel.env.get("agi_callerid", ""),
            did=_did(channel),
            language=language,
            uniqueid=channel.env.get("agi_uniqueid") or None,
            position=_int_or_none(channel.variable("QUEUEPOSITION")),
            waited=int(time.time()) - joined if joined else None,
            source="agi",
        )
    except StoreUnavailable as exc:
        result = RequestResult("unavailable", str(exc), reason="database")
    channel.set_variable("QCB_RESULT", result.kind)
    if result.accepted:
        channel.play(PROMPTS[result.kind])
        channel.hangup()
    else:
        channel.play(REFUSED)
    return result.kind
