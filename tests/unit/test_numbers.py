"""Caller IDs and typed numbers: what we keep, what we refuse and why."""

from __future__ import annotations

import pytest

from freepbx_callback.numbers import InvalidNumber, Kind, Reason, parse


@pytest.mark.parametrize(
    "raw,region,dial,e164,kind",
    [
        ("5551234", "US", "5551234", None, Kind.INVALID),  # local dialling only: not valid
        ("  2125551234 ", "US", "2125551234", "+12125551234", Kind.NATIONAL),
        ("+1 212 555-1234", "US", "+12125551234", "+12125551234", Kind.NATIONAL),
        ("+442079460000", "US", "+442079460000", "+442079460000", Kind.INTERNATIONAL),
        ("+18765551234", "US", "+18765551234", "+18765551234", Kind.INTERNATIONAL),
        ("+447911123456", "GB", "+447911123456", "+447911123456", Kind.NATIONAL),  # +44 7911: Guernsey
        ("19005551234", "US", "19005551234", "+19005551234", Kind.PREMIUM),
        ("84951234567", "RU", "84951234567", "+74951234567", Kind.NATIONAL),
        ("88095551234", "RU", "88095551234", "+78095551234", Kind.PREMIUM),
        ("74951234567", "RU", "74951234567", "+74951234567", Kind.NATIONAL),
        ("18002345678", "US", "18002345678", "+18002345678", Kind.SPECIAL),
        ("01805123456", "DE", "01805123456", "+491805123456", Kind.SHARED_COST),
        ("+881612345678", "US", "+881612345678", "+881612345678", Kind.SATELLITE),
        ("101", "US", "101", None, Kind.INVALID),
        ("911", "US", "911", None, Kind.EMERGENCY),
        ("411", "US", "411", None, Kind.SHORT_CODE),
        ("+0012015550191", "US", "+0012015550191", None, Kind.BAD_PREFIX),
    ],
)
def test_accepted(raw: str, region: str, dial: str, e164: str | None, kind: Kind) -> None:
    number = parse(raw, region)
    assert (number.dial, number.e164, number.kind) == (dial, e164, kind)


@pytest.mark.parametrize(
    "raw,reason",
    [
        (None, Reason.WITHHELD),
        ("", Reason.WITHHELD),
        ("anonymous", Reason.WITHHELD),
        ("Unknown", Reason.WITHHELD),
        ("PRIVATE", Reason.WITHHELD),
        ("restricted", Reason.WITHHELD),
        ("+", Reason.WITHHELD),
        (" - ", Reason.WITHHELD),
        ("555a1234", Reason.BAD_CHARACTER),
        ("x;Dial(1)", Reason.BAD_CHARACTER),
        ("555;1234", Reason.BAD_CHARACTER),
        ("555,1234", Reason.BAD_CHARACTER),
        ("(555)1234", Reason.BAD_CHARACTER),
        ("$5551234", Reason.BAD_CHARACTER),
        ("555{1234}", Reason.BAD_CHARACTER),
        ("'5551234'", Reason.BAD_CHARACTER),
        ('"5551234"', Reason.BAD_CHARACTER),
        ("555\n1234", Reason.BAD_CHARACTER),
        ("５５５１２３４", Reason.BAD_CHARACTER),
        ("555\x001234", Reason.BAD_CHARACTER),
        ("555+1234", Reason.MISPLACED_PLUS),
        ("12", Reason.TOO_SHORT),
        ("1" * 21, Reason.TOO_LONG),
    ],
)
def test_refused_with_reason(raw: str | None, reason: Reason) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse(raw)
    assert info.value.reason is reason
    assert str(info.value)


def test_twenty_digits_is_the_limit() -> None:
    assert parse("1" * 20).dial == "1" * 20


def test_message_names_the_character() -> None:
    with pytest.raises(InvalidNumber, match="';' is not allowed"):
        parse("555;1234")


def test_no_emergency_number_is_longer_than_the_shortcut_assumes() -> None:
    """parse() skips the emergency lookup of a number's whole country code for longer numbers: that is
    only right while no region's emergency numbers may be longer (the library's own short-number data)."""
    from phonenumbers import PhoneMetadata
    from phonenumbers.shortdata import _AVAILABLE_REGION_CODES

    from freepbx_callback.numbers import MAX_EMERGENCY_DIGITS

    longest = 0
    for region in _AVAILABLE_REGION_CODES:
        metadata = PhoneMetadata.short_metadata_for_region(region)
        if metadata is not None and metadata.emergency is not None:
            lengths = metadata.emergency.possible_length
            assert lengths, f"{region}: emergency numbers of any length"
            longest = max(longest, *lengths)
    assert 0 < longest <= MAX_EMERGENCY_DIGITS


def test_no_short_code_is_longer_than_the_shortcut_assumes() -> None:
    """parse() skips the short-code lookup of a number's whole country code for numbers longer than its
    LONGEST_SHORT_DIGITS: right only while no region of that country code has longer short numbers."""
    import phonenumbers
    from phonenumbers import PhoneMetadata
    from phonenumbers.shortdata import _AVAILABLE_REGION_CODES

    from freepbx_callback.numbers import LONGEST_SHORT_DIGITS, MAX_SHORT_DIGITS

    longest: dict[int, int] = {}
    for region in _AVAILABLE_REGION_CODES:
        metadata = PhoneMetadata.short_metadata_for_region(region)
        assert metadata is not None and metadata.general_desc.possible_length, f"{region}: any length"
        code = phonenumbers.country_code_for_region(region)
        longest[code] = max(longest.get(code, 0), *metadata.general_desc.possible_length)
    assert longest[1] > 0
    too_long = {c: n for c, n in longest.items() if n > LONGEST_SHORT_DIGITS.get(c, MAX_SHORT_DIGITS)}
    assert too_long == {}, f"short numbers longer than the shortcut assumes: {too_long}"
