"""Pure phone-number handling: parse, validate and normalise what a caller or an operator gives us.

Anything that reaches a dial string must be digits with an optional leading ``+``; everything else is
refused here with a reason a person can read, before it gets near a database row or the dialplan.
"""

from __future__ import annotations

import enum
import re

# Submodules by name, not the package's top-level names: the agi-bin scripts load phonenumbers without its
# __init__ (see agi/lean.py).
from phonenumbers import phonemetadata, shortnumberinfo
from phonenumbers import phonenumberutil as pn
from phonenumbers.phonenumberutil import PhoneNumberType, ValidationResult

from .records import record

TYPE_CHECKING = False  # typing's flag without importing typing
if TYPE_CHECKING:
    from phonenumbers.phonenumber import PhoneNumber as Parsed

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
    """What a number is, as seen from the queue's country (its region)."""

    NATIONAL = "national"  # fixed line, mobile, fixed-or-mobile in the queue's own country
    INTERNATIONAL = "international"  # fixed line or mobile of another country
    PREMIUM = "premium"  # premium rate
    SHARED_COST = "shared_cost"
    SATELLITE = "satellite"  # satellite and international networks (+870, +881, +882, +883, +979, ...)
    SPECIAL = "special"  # toll-free, VoIP, personal, pager, UAN, voicemail
    INVALID = "invalid"  # not a valid number of any country (only an allow pattern lets it in)
    # never dialled, whatever the queue allows:
    EMERGENCY = "emergency"
    SHORT_CODE = "short_code"  # service and carrier short codes
    BAD_PREFIX = "bad_prefix"  # "+0", or an international prefix the queue's country does not use
    TOO_LONG = "too_long"  # more digits than its country's numbers have

    @property
    def never(self) -> bool:
        return self in NEVER


NEVER = frozenset({Kind.EMERGENCY, Kind.SHORT_CODE, Kind.BAD_PREFIX, Kind.TOO_LONG})

# International (IDD) prefixes callers and carriers use: a number that starts with one the queue's
# country does not use, and is not valid as it stands, was written for another country's network.
FOREIGN_IDD = ("00", "011", "810")
# Country codes shared by independent countries (NANP, Russia/Kazakhstan): there a number of another
# region of the same country code is international. Elsewhere (+44 GB/GG/IM/JE) the code decides.
SHARED_COUNTRY_CODES = frozenset({1, 7})
NON_GEOGRAPHIC = "001"  # phonenumbers' region of satellite and international networks

_SPECIAL_TYPES = frozenset(
    {
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
        PhoneNumberType.PAGER,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
    }
)


@record(frozen=True)
class PhoneNumber:
    dial: str  # what we dial back: digits, optional leading '+'
    e164: str | None  # +<cc><nsn> for a valid number; None otherwise
    kind: Kind
    international: bool = False  # of another country than the queue's


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
    region = region.upper()
    if dial.startswith("+0"):
        return PhoneNumber(dial, None, Kind.BAD_PREFIX)
    if _emergency(dial, region):
        return PhoneNumber(dial, None, Kind.EMERGENCY)
    try:
        parsed = pn.parse(dial, region)
    except pn.NumberParseException as exc:
        too_long = exc.error_type == pn.NumberParseException.TOO_LONG
        return PhoneNumber(dial, None, Kind.TOO_LONG if too_long else Kind.INVALID)
    if _emergency_of_its_country(parsed):
        return PhoneNumber(dial, None, Kind.EMERGENCY)
    if _short_code(parsed, region):
        return PhoneNumber(dial, None, Kind.SHORT_CODE)
    valid = pn.is_valid_number(parsed)
    if not valid and _foreign_idd(dial, region):
        return PhoneNumber(dial, None, Kind.BAD_PREFIX)
    if pn.is_possible_number_with_reason(parsed) == ValidationResult.TOO_LONG:
        return PhoneNumber(dial, None, Kind.TOO_LONG)
    if not valid:
        return PhoneNumber(dial, None, Kind.INVALID)
    e164 = pn.format_number(parsed, pn.PhoneNumberFormat.E164)
    its_region = pn.region_code_for_number(parsed)
    if its_region == NON_GEOGRAPHIC:
        return PhoneNumber(dial, e164, Kind.SATELLITE, international=True)
    home_code = pn.country_code_for_region(region)
    if parsed.country_code in SHARED_COUNTRY_CODES:
        foreign = its_region != region
    else:
        foreign = parsed.country_code != home_code
    kind = {
        PhoneNumberType.PREMIUM_RATE: Kind.PREMIUM,
        PhoneNumberType.SHARED_COST: Kind.SHARED_COST,
    }.get(pn.number_type(parsed))
    if kind is None:
        special = pn.number_type(parsed) in _SPECIAL_TYPES
        kind = Kind.SPECIAL if special else Kind.INTERNATIONAL if foreign else Kind.NATIONAL
    return PhoneNumber(dial, e164, kind, international=foreign)


def _emergency(dial: str, region: str) -> bool:
    """The digits as the queue's own network would take them reach an emergency service."""
    return not dial.startswith("+") and shortnumberinfo.connects_to_emergency_number(dial, region)


# No emergency number in phonenumbers' short-number data has more digits (tests/unit checks the data):
# longer numbers skip loading the short-number metadata of every region of their country code (25 for +1).
MAX_EMERGENCY_DIGITS = 6


def _emergency_of_its_country(parsed: Parsed) -> bool:
    """``+44 999``, ``0112`` in GB: an emergency number of the country the number is of."""
    nsn = str(parsed.national_number)  # without the leading zero a short parse keeps
    if len(nsn) > MAX_EMERGENCY_DIGITS:
        return False
    regions = pn.region_codes_for_country_code(parsed.country_code)
    return any(shortnumberinfo.is_emergency_number(nsn, r) for r in regions)


# The longest short number (a service or carrier code) of any region of a country code, in phonenumbers'
# short-number data (tests/unit checks the data): a longer number is none, and the lookup in every region
# of its country code (25 for +1, 2 ms in a fresh process) is skipped.
MAX_SHORT_DIGITS = 8
LONGEST_SHORT_DIGITS = {86: 12, 81: 10, 91: 9}


def _short_code(parsed: Parsed, region: str) -> bool:
    """A service or carrier short code of the queue's region or of the number's own country."""
    longest = LONGEST_SHORT_DIGITS.get(parsed.country_code, MAX_SHORT_DIGITS)
    if len(pn.national_significant_number(parsed)) > longest:
        return False
    return shortnumberinfo.is_valid_short_number_for_region(
        parsed, region
    ) or shortnumberinfo.is_valid_short_number(parsed)


def _foreign_idd(dial: str, region: str) -> bool:
    """``dial`` starts with an international prefix that ``region`` does not use."""
    if dial.startswith("+"):
        return False
    metadata = phonemetadata.PhoneMetadata.metadata_for_region(region)
    own = re.compile(metadata.international_prefix) if metadata and metadata.international_prefix else None
    return any(dial.startswith(p) and not (own and own.fullmatch(p)) for p in FOREIGN_IDD)
