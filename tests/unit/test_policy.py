"""The lifecycle and the decisions, exhaustively; no database, no clock."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from freepbx_callback import policy
from freepbx_callback.models import Mode, Outcome, QueueSettings, Request, Status
from freepbx_callback.numbers import Kind, PhoneNumber

T0 = datetime(2026, 1, 1, 12, 0, 0)
ALLOWED = {
    ("pending", "dialing"),
    ("pending", "expired"),
    ("pending", "cancelled"),
    ("dialing", "pending"),
    ("dialing", "done"),
    ("dialing", "failed"),
    ("dialing", "cancelled"),
    ("done", "pending"),
    ("failed", "pending"),
    ("expired", "pending"),
    ("cancelled", "pending"),
}


@pytest.mark.parametrize("current,new", list(itertools.product(Status, Status)))
def test_every_transition(current: Status, new: Status) -> None:
    allowed = (current.value, new.value) in ALLOWED
    assert policy.can_transition(current, new) is allowed
    if allowed:
        policy.check_transition(current, new)
    else:
        with pytest.raises(policy.PolicyError, match=f"{current.value} request cannot become {new.value}"):
            policy.check_transition(current, new)


def test_open_and_closed_statuses() -> None:
    assert {s for s in Status if s.is_open} == {Status.PENDING, Status.DIALING}


def test_product_defaults() -> None:
    s = QueueSettings(queue="400")
    assert (s.offer_every, s.window, s.attempts, s.retry_interval) == (30, 600, 2, 300)
    assert s.mode is Mode.AGENT_FIRST and s.notify_agents is True and s.enabled is False


def req(status: Status = Status.PENDING, due: datetime = T0, attempts: int = 0) -> Request:
    return Request(1, "400", "2015551234", status, T0, due, attempts=attempts)


def test_is_due() -> None:
    assert policy.is_due(req(), T0)
    assert not policy.is_due(req(), T0 - timedelta(seconds=1))
    assert not policy.is_due(req(Status.DIALING), T0 + timedelta(hours=1))
    assert not policy.is_due(req(Status.DONE), T0 + timedelta(hours=1))


def test_expiry_is_window_after_due() -> None:
    s = QueueSettings(queue="400", window=600)
    assert policy.deadline(req(), s) == T0 + timedelta(seconds=600)
    assert not policy.is_expired(req(), s, T0 + timedelta(seconds=600))
    assert policy.is_expired(req(), s, T0 + timedelta(seconds=601))
    assert not policy.is_expired(req(Status.DIALING), s, T0 + timedelta(days=1))
    later = req(due=T0 + timedelta(seconds=300))  # a retry's window starts when it becomes due
    assert not policy.is_expired(later, s, T0 + timedelta(seconds=800))


S = QueueSettings(queue="400", attempts=2, retry_interval=300, min_talk=5)


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED])
def test_unanswered_first_attempt_retries_after_interval(outcome: Outcome) -> None:
    d = policy.after_outcome(S, 1, outcome, 0, T0)
    assert d.status is Status.PENDING and d.next_attempt_at == T0 + timedelta(seconds=300)
    assert d.reason == outcome.value


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED])
def test_unanswered_last_attempt_fails(outcome: Outcome) -> None:
    d = policy.after_outcome(S, 2, outcome, 0, T0)
    assert d.status is Status.FAILED and d.next_attempt_at is None
    assert "no attempts left" in d.reason


def test_answered_is_done() -> None:
    d = policy.after_outcome(S, 1, Outcome.ANSWERED, 5, T0)
    assert d.status is Status.DONE and d.reason == "answered"


def test_short_answer_counts_as_no_answer() -> None:
    d = policy.after_outcome(S, 1, Outcome.ANSWERED, 4, T0)
    assert d.status is Status.PENDING and d.reason == "answered_too_short"
    assert policy.after_outcome(S, 2, Outcome.ANSWERED, 1, T0).status is Status.FAILED


def test_outcome_needs_an_attempt() -> None:
    with pytest.raises(policy.PolicyError):
        policy.after_outcome(S, 0, Outcome.ANSWERED, 60, T0)


@pytest.mark.parametrize(
    "free,in_flight,due,expected",
    [(0, 0, 5, 0), (3, 0, 5, 3), (3, 1, 5, 2), (3, 3, 5, 0), (3, 5, 5, 0), (5, 0, 2, 2), (2, 0, 0, 0)],
)
def test_release_never_exceeds_free_agents(free: int, in_flight: int, due: int, expected: int) -> None:
    assert policy.release_count(free, in_flight, due) == expected


ON = QueueSettings(queue="400", enabled=True)
LOCAL = PhoneNumber("2125551234", "+12125551234", Kind.NATIONAL)
INTL = PhoneNumber("+442079460000", "+442079460000", Kind.INTERNATIONAL, international=True)
PREMIUM = PhoneNumber("19005551234", "+19005551234", Kind.PREMIUM)


def test_refusal_reasons() -> None:
    assert policy.refusal(ON, LOCAL, 0) is None
    assert policy.refusal(QueueSettings(queue="400"), LOCAL, 0).code == "disabled"  # type: ignore[union-attr]
    r = policy.refusal(ON, INTL, 0)
    assert r is not None and r.code == "blocked" and "international" in r.message
    r = policy.refusal(ON, PREMIUM, 0)
    assert r is not None and r.code == "blocked" and "premium" in r.message
    assert policy.refusal(ON.replace(allow_international=True), INTL, 0) is None
    assert policy.refusal(ON.replace(allow_premium=True), PREMIUM, 0) is None
    r = policy.refusal(ON.replace(block_patterns=("_212XXXXXXX",)), LOCAL, 0)
    assert r is not None and r.code == "blocked" and "_212XXXXXXX" in r.message
    r = policy.refusal(ON.replace(allow_patterns=("8",)), LOCAL, 0)
    assert r is not None and r.code == "blocked" and "allow patterns" in r.message
    assert policy.refusal(ON.replace(allow_patterns=("+44",)), INTL, 0) is None  # allow lifts the default
    r = policy.refusal(ON.replace(max_pending=3), LOCAL, 3)
    assert r is not None and r.code == "limit"
    assert policy.refusal(ON.replace(max_pending=3), LOCAL, 2) is None
    assert policy.refusal(ON.replace(max_pending=0), LOCAL, None) is None  # count unknown: not checked


@pytest.mark.parametrize(
    "pattern,number,hit",
    [
        ("_555XXXX", "5551234", True),
        ("_555XXXX", "55512345", False),
        ("_1900.", "19005551234", True),
        ("_N", "2", True),
        ("_N", "1", False),
        ("_Z!", "1", True),
        ("_[2-4]X", "35", True),
        ("_[2-4]X", "55", False),
        ("+44", "+442079460000", True),
        ("8", "84951234567", True),
        ("8", "74951234567", False),
    ],
)
def test_patterns(pattern: str, number: str, hit: bool) -> None:
    assert bool(policy.pattern_regex(pattern).fullmatch(number)) is hit


@pytest.mark.parametrize("pattern", ["", "_55;5", "abc", "_[a-z]", "_[12", "${X}"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(policy.PolicyError):
        policy.pattern_regex(pattern)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"queue": "4 00"}, "queue"),
        ({"queue": "x" * 33}, "queue"),
        ({"did": "55;5"}, "DID"),
        ({"attempts": 0}, "attempts"),
        ({"attempts": 11}, "attempts"),
        ({"retry_interval": 5}, "retry_interval"),
        ({"window": 0}, "window"),
        ({"offer_every": 1}, "offer_every"),
        ({"language": "de"}, "language"),
        ({"region": "usa"}, "region"),
        ({"max_pending": -1}, "max_pending"),
        ({"min_talk": 601}, "min_talk"),
        ({"block_patterns": ("_q",)}, "pattern"),
    ],
)
def test_invalid_settings(change: dict[str, object], message: str) -> None:
    with pytest.raises(policy.PolicyError, match=message):
        policy.validate_settings(QueueSettings(queue="400").replace(**change))


def test_valid_settings_pass() -> None:
    s = QueueSettings(queue="sales-1", did="+15551000", max_pending=0, language="ru", region="RU")
    assert policy.validate_settings(s) is s


@pytest.mark.parametrize(
    "text,seconds", [("300", 300), ("300s", 300), ("5m", 300), ("2h", 7200), ("1d", 86400), (" 10 m ", 600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert policy.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-5", "1.5m", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(policy.PolicyError, match="duration"):
        policy.parse_duration(text)


def test_the_window_counts_from_the_stored_deadline() -> None:
    s = QueueSettings(queue="400", window=600)
    pressed = req(due=T0 + timedelta(seconds=500))  # pushed by no-agent tries since the press
    pressed.expires_at = policy.window_end(T0, s)
    assert policy.deadline(pressed, s) == T0 + timedelta(seconds=600)
    assert policy.is_due(pressed, T0 + timedelta(seconds=600))
    assert not policy.is_due(pressed, T0 + timedelta(seconds=601))  # never claimed past its window
    assert not policy.is_expired(pressed, s, T0 + timedelta(seconds=600))
    assert policy.is_expired(pressed, s, T0 + timedelta(seconds=601))


@pytest.mark.parametrize("outcome", [Outcome.NO_AGENT, Outcome.LOST])
def test_a_try_that_never_dialled_keeps_the_deadline(outcome: Outcome) -> None:
    assert policy.after_outcome(S, 0, outcome, 0, T0).expires_at is None  # None: unchanged


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED, Outcome.ANSWERED])
def test_a_retry_after_a_counted_attempt_has_its_own_window(outcome: Outcome) -> None:
    s = S.replace(window=600, retry_interval=300)
    d = policy.after_outcome(s, 1, outcome, 0, T0)
    assert d.next_attempt_at == T0 + timedelta(seconds=300)
    assert d.expires_at == T0 + timedelta(seconds=900)
    assert policy.after_outcome(s, 2, outcome, 0, T0).expires_at is None  # closed: failed


def test_at_most_attempts_counted_tries_and_one_window_each() -> None:
    """Whatever happens, a request closes by press + attempts * window + (attempts - 1) * (interval + the
    longest call): no-agent tries keep the deadline, counted ones are bounded."""
    s = S.replace(attempts=3, window=600, retry_interval=300)
    counted, now, expires = 0, T0, policy.window_end(T0, s)
    for _ in range(1000):
        d = policy.after_outcome(s, counted + 1, Outcome.NO_ANSWER, 0, now + timedelta(seconds=30))
        counted += 1
        if d.status is not Status.PENDING:
            break
        assert d.expires_at is not None and d.next_attempt_at is not None
        now, expires = d.expires_at, d.expires_at  # the retry starts at the last moment of its window
    assert d.status is Status.FAILED and counted == 3
    assert expires <= T0 + timedelta(seconds=3 * 600 + 2 * (300 + 30))


def test_not_counted_outcomes_wait_again() -> None:
    lost = policy.after_outcome(S, 0, Outcome.LOST, 0, T0)
    assert (lost.status, lost.next_attempt_at) == (Status.PENDING, T0)
    no_agent = policy.after_outcome(S, 2, Outcome.NO_AGENT, 0, T0)
    assert no_agent.status is Status.PENDING  # even with no attempts left: the customer was never dialled
    assert no_agent.next_attempt_at == T0 + timedelta(seconds=policy.NO_AGENT_BACKOFF)
    assert not Outcome.LOST.counted and not Outcome.NO_AGENT.counted
    assert all(o.counted for o in (Outcome.ANSWERED, Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED))


def test_keep_place_in_line() -> None:
    r = Request(1, "400", "2015551234", Status.PENDING, T0, T0, waited=60)  # joined the queue at T0 - 60 s
    assert policy.place_in_line(r) == T0 - timedelta(seconds=60)
    earlier = [T0 - timedelta(seconds=90)]  # a live caller who joined before this caller
    later = [T0 - timedelta(seconds=30), T0 + timedelta(seconds=5)]
    assert not policy.may_release(r, earlier + later, keep_place=True)
    assert policy.may_release(r, later, keep_place=True)
    assert policy.may_release(r, [], keep_place=True)
    assert policy.may_release(r, earlier, keep_place=False)


def test_queue_status_split_into_our_callbacks_and_live_callers() -> None:
    from freepbx_callback.dialer import joined_times

    entries = [
        {"Event": "QueueEntry", "Channel": "Local/s@qcb-callback-agent-first-0000001a;2", "Wait": "3"},
        {"Event": "QueueEntry", "Channel": "PJSIP/caller-00000007", "Wait": "42"},
        {"Event": "QueueEntry", "Channel": "PJSIP/caller-00000009", "Wait": "2"},
    ]
    ours, live = joined_times(entries, T0)
    assert ours == 1
    assert live == [T0 - timedelta(seconds=42), T0 - timedelta(seconds=2)]
