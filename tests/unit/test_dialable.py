"""Who may be called back: deny by default, across US, RU, GB and DE queues.

Each row is what a caller's number (or an operator's ``request add``) meets: the queue's region, the raw
text, the queue's allowances, and the decision with its reason code. A number is dialable only if it is
valid for its country and of a kind the queue allows, or matches one of the queue's allow patterns;
emergency numbers, short codes, ``+0``, too-long numbers and foreign dialling prefixes never are.
"""

from __future__ import annotations

from typing import Any

import pytest

from freepbx_callback import policy
from freepbx_callback.models import QueueSettings
from freepbx_callback.numbers import InvalidNumber, parse

INTL = {"allow_international": True}
PREM = {"allow_premium": True}
SHARED = {"allow_shared_cost": True}
SAT = {"allow_satellite": True}
SPECIAL = {"allow_special": True}
ALL = {**INTL, **PREM, **SHARED, **SAT, **SPECIAL}
OK = "ok"


def decide(region: str, raw: str, allow: dict[str, Any]) -> str:
    """``ok`` or the reason code of the refusal."""
    settings = QueueSettings(queue="400", enabled=True, region=region, **allow)
    try:
        number = parse(raw, region)
    except InvalidNumber as exc:
        return exc.reason.value
    refusal = policy.refusal(settings, number, 0)
    return OK if refusal is None else refusal.reason


ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    # --- the numbers of the issue ------------------------------------------------------------------
    ("US", "+8810000000", {}, "invalid"),
    ("US", "+8810000000", ALL, "invalid"),
    ("US", "00882123456", {}, "bad_prefix"),
    ("US", "00882123456", ALL, "bad_prefix"),
    ("US", "+0012015550191", {}, "bad_prefix"),
    ("US", "+0012015550191", ALL, "bad_prefix"),
    ("US", "+0012015550191", {"allow_patterns": ("_+X.",)}, "bad_prefix"),
    ("US", "911", {}, "emergency"),
    ("US", "911", {"allow_patterns": ("_XXX",)}, "emergency"),
    ("US", "112", {}, "emergency"),
    ("RU", "112", {}, "emergency"),
    ("RU", "112", {"allow_patterns": ("112",)}, "emergency"),
    ("US", "8107495123456", {}, "bad_prefix"),
    ("US", "8107495123456", INTL, "bad_prefix"),
    ("US", "00447911123456", {}, "bad_prefix"),
    ("US", "00447911123456", INTL, "bad_prefix"),
    # --- US -----------------------------------------------------------------------------------------
    ("US", "2125551234", {}, OK),
    ("US", "212 555 1234", {}, OK),
    ("US", "12125551234", {}, OK),
    ("US", "+1 212 555-1234", {}, OK),
    ("US", "5551234", {}, "invalid"),  # seven digits: local dialling only, not valid on its own
    ("US", "5551234", {"allow_patterns": ("_555XXXX",)}, OK),
    ("US", "011447911123456", {}, "international"),
    ("US", "011447911123456", INTL, OK),
    ("US", "+442079460000", {}, "international"),
    ("US", "+442079460000", INTL, OK),
    ("US", "+18765551234", {}, "international"),  # Jamaica: +1, but another country
    ("US", "+18765551234", INTL, OK),
    ("US", "19005551234", {}, "premium"),
    ("US", "19005551234", PREM, OK),
    ("US", "18002345678", {}, "special"),  # toll-free
    ("US", "18002345678", SPECIAL, OK),
    ("US", "5005550006", {}, "special"),  # personal number
    ("US", "+881612345678", {}, "satellite"),
    ("US", "+881612345678", INTL, "satellite"),
    ("US", "+881612345678", SAT, OK),
    ("US", "+870772345678", {}, "satellite"),
    ("US", "+883510012345", {}, "satellite"),
    ("US", "+979123456789", {}, "satellite"),
    ("US", "+80012345678", {}, "satellite"),
    ("US", "411", {}, "short_code"),
    ("US", "611", {"allow_patterns": ("611",)}, "short_code"),
    ("US", "9115551234", {}, "emergency"),
    ("US", "+4930123456789012345", ALL, "too_long"),
    ("US", "1" * 21, ALL, "too_long"),
    ("US", "2125551234", {"allow_patterns": ("_+44X.",)}, "not_allowed"),
    ("US", "2125551234", {"block_patterns": ("_212XXXXXXX",)}, "block_pattern"),
    ("US", "+442079460000", {"allow_patterns": ("+44",)}, OK),  # an allow pattern lifts the kind rules
    # --- RU -----------------------------------------------------------------------------------------
    ("RU", "84951234567", {}, OK),
    ("RU", "8-495-123-45-67", {}, OK),
    ("RU", "+74951234567", {}, OK),
    ("RU", "74951234567", {}, OK),
    ("RU", "89161234567", {}, OK),
    ("RU", "9111234567", {}, OK),  # a St Petersburg mobile: 911 here is not the emergency number
    ("RU", "1121234567", {}, "emergency"),  # what the network would take as 112
    ("RU", "810447911123456", {}, "international"),
    ("RU", "8 10 44 7911 123456", {}, "international"),
    ("RU", "810447911123456", INTL, OK),
    ("RU", "00447911123456", INTL, "bad_prefix"),
    ("RU", "88095551234", {}, "premium"),
    ("RU", "88095551234", PREM, OK),
    ("RU", "88001234567", {}, "special"),
    ("RU", "88001234567", SPECIAL, OK),
    ("RU", "103", {}, "emergency"),
    ("RU", "01", {}, "too_short"),
    ("RU", "900", {}, "invalid"),
    # --- GB -----------------------------------------------------------------------------------------
    ("GB", "02079460000", {}, OK),
    ("GB", "020 7946 0000", {}, OK),
    ("GB", "07911123456", {}, OK),
    ("GB", "+447911123456", {}, OK),
    ("GB", "00447911123456", {}, OK),
    ("GB", "0044 7911 123456", {}, OK),
    ("GB", "0012125551234", {}, "international"),
    ("GB", "0012125551234", INTL, OK),
    ("GB", "01112125551234", {}, "bad_prefix"),
    ("GB", "09098790000", {}, "premium"),
    ("GB", "08451234567", {}, "premium"),
    ("GB", "08001111111", {}, "special"),
    ("GB", "03001234567", {}, "special"),  # UAN
    ("GB", "07012345678", {}, "special"),  # personal number
    ("GB", "07640123456", {}, "special"),  # pager
    ("GB", "+447700900123", {}, "invalid"),  # drama range
    ("GB", "999", {}, "emergency"),
    ("GB", "112", ALL, "emergency"),
    ("GB", "+44999", ALL, "emergency"),
    ("GB", "0112", {}, "emergency"),
    ("GB", "101", {}, "short_code"),
    ("GB", "116123", {}, "short_code"),
    # --- DE -----------------------------------------------------------------------------------------
    ("DE", "03012345678", {}, OK),
    ("DE", "+49 30 12345678", {}, OK),
    ("DE", "00493012345678", {}, OK),
    ("DE", "015123456789", {}, OK),
    ("DE", "09001234567", {}, "premium"),
    ("DE", "09001234567", PREM, OK),
    ("DE", "01805123456", {}, "shared_cost"),
    ("DE", "01805123456", SHARED, OK),
    ("DE", "070012345678", {}, "special"),
    ("DE", "0018005551234", {}, "international"),  # a US toll-free number, dialled from Germany
    ("DE", "0018005551234", INTL, "special"),
    ("DE", "0018005551234", {**INTL, **SPECIAL}, OK),
    ("DE", "+449098790000", INTL, "premium"),
    ("DE", "0119098790000", ALL, "bad_prefix"),
    ("DE", "110", {}, "emergency"),
    ("DE", "112", {"allow_patterns": ("_11X",)}, "emergency"),
    ("DE", "115", {}, "short_code"),
    ("DE", "116116", {}, "short_code"),
]


@pytest.mark.parametrize(("region", "raw", "allow", "expected"), ROWS)
def test_who_may_be_called_back(region: str, raw: str, allow: dict[str, Any], expected: str) -> None:
    assert decide(region, raw, allow) == expected


def test_the_table_is_wide_enough() -> None:
    assert len(ROWS) >= 60
    assert {row[0] for row in ROWS} == {"US", "RU", "GB", "DE"}


def test_one_number_in_three_spellings_has_one_e164() -> None:
    spellings = ("+74951234567", "84951234567", "74951234567", "8 495 123-45-67")
    assert {parse(raw, "RU").e164 for raw in spellings} == {"+74951234567"}


def test_a_number_let_in_by_an_allow_pattern_only_has_no_e164() -> None:
    assert parse("5551234", "US").e164 is None
