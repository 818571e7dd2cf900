"""Pure phone-number handling: parse, validate and normalise what a caller or an operator gives us.

Anything that reaches a dial string must be digits with an optional leading ``+``; everything else is
refused here with a reason a person can read, before it gets near a database row or the dialplan.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

MAX_DIGITS = 20
MIN_DIGITS = 3
SEPARATORS = " -"
WITHHELD = frozenset(
    {"", "anonymous", "unknown", "private", "restricted", "withheld", "unavailable", "asterisk", "none"}
)


class Reason(str, enum.Enum):
    WITHHELD = "withheld"
    BAD_CHARACTER = "bad_character"
    MISPLACED_PLUS = "misplaced_plus"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"


class InvalidNumber(ValueError):
    """The text is not a phone number we can call back; ``reason`` says why."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Kind(str, enum.Enum):
    NATIONAL = "national"
    INTERNATIONAL = "international"
    PREMIUM = "premium"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PhoneNumber:
    dial: str  # what we dial back: digits, optional leading '+'
    e164: str | None  # +<cc><nsn> when phonenumbers could make sense of it
    kind: Kind


def _describe(char: str) -> str:
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


def clean(raw: str | None) -> str:
    """Return the dialable digits (optional leading '+') or raise InvalidNumber."""
    text = (raw or "").strip()
    if text.lower() in WITHHELD:
        return _withheld()
    for position, char in enumerate(text):
        if char == "+":
            if position != 0:
                raise InvalidNumber(Reason.MISPLACED_PLUS, "'+' is only allowed at the start of a number")
        elif not (char.isascii() and char.isdigit()) and char not in SEPARATORS:
            raise InvalidNumber(
                Reason.BAD_CHARACTER,
                f"not a phone number: {_describe(char)} is not allowed (only digits and a leading '+')",
            )
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits:
        return _withheld()
    if len(digits) > MAX_DIGITS:
        raise InvalidNumber(
            Reason.TOO_LONG, f"not a phone number: {len(digits)} digits, at most {MAX_DIGITS}"
        )
    if len(digits) < MIN_DIGITS:
        raise InvalidNumber(Reason.TOO_SHORT, f"not a phone number: at least {MIN_DIGITS} digits are needed")
    return ("+" if text.startswith("+") else "") + digits


def _withheld() -> str:
    raise InvalidNumber(Reason.WITHHELD, "the caller's number is withheld or empty")


def parse(raw: str | None, region: str = "US") -> PhoneNumber:
    """Validate ``raw`` and classify it; ``region`` is the queue's home country (ISO 3166 alpha-2)."""
    dial = clean(raw)
    try:
        parsed = phonenumbers.parse(dial, region.upper())
    except phonenumbers.NumberParseException:
        return PhoneNumber(dial=dial, e164=None, kind=Kind.UNKNOWN)
    if not phonenumbers.is_possible_number(parsed):
        return PhoneNumber(dial=dial, e164=None, kind=Kind.UNKNOWN)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.number_type(parsed) == PhoneNumberType.PREMIUM_RATE:
        kind = Kind.PREMIUM
    elif parsed.country_code != phonenumbers.country_code_for_region(region.upper()):
        kind = Kind.INTERNATIONAL
    else:
        kind = Kind.NATIONAL
    return PhoneNumber(dial=dial, e164=e164, kind=kind)
