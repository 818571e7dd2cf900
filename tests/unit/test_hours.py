"""Callback hours: rules, open time and its arithmetic, across closing and opening times and DST."""

from datetime import datetime

import pytest

from freepbx_callback import hours
from freepbx_callback.hours import HoursError

# 2026-12-01 is a Tuesday.
WEEKDAYS = hours.schedule(["mon-fri 09:00-17:00", "sat 10:00-14:00"], "UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_rules_read_ours_and_freepbx_time_groups_alike():
    assert hours.parse_rule("mon-fri 09:00-17:00") == hours.parse_rule("09:00-17:00|mon-fri|*|*")
    rule = hours.parse_rule("08:30-12:00|sat-mon|1-15|jan-mar")
    assert rule.days == frozenset({5, 6, 0}) and rule.mdays == frozenset(range(1, 16))
    assert rule.months == frozenset({1, 2, 3}) and (rule.start, rule.end) == (510, 720)
    assert hours.parse_rule("10:00-14:00").days == frozenset(range(7))
    assert hours.parse_rule("*|*|*|*").spans() == [(0, 1440)]


@pytest.mark.parametrize("bad", ["mon-fri 9-17", "funday 09:00-17:00", "25:00-26:00", "a b c"])
def test_bad_rules_are_refused(bad):
    with pytest.raises(HoursError):
        hours.parse_rule(bad)


def test_unknown_time_zone_is_refused():
    with pytest.raises(HoursError):
        hours.schedule(["09:00-17:00"], "Mars/Olympus")


def test_open_at_across_closing_and_opening():
    assert hours.open_at(WEEKDAYS, at("2026-12-01 09:00"))
    assert hours.open_at(WEEKDAYS, at("2026-12-01 16:59:59"))
    assert not hours.open_at(WEEKDAYS, at("2026-12-01 17:00"))
    assert not hours.open_at(WEEKDAYS, at("2026-12-01 08:59:59"))
    assert not hours.open_at(WEEKDAYS, at("2026-12-06 11:00"))  # Sunday
    assert hours.open_at(WEEKDAYS, at("2026-12-05 11:00"))  # Saturday
    assert hours.open_at(hours.Schedule(), at("2026-12-06 03:00"))  # no rules: always open


def test_next_open_and_close():
    assert hours.next_open(WEEKDAYS, at("2026-12-01 10:00")) == at("2026-12-01 10:00")
    assert hours.next_open(WEEKDAYS, at("2026-12-01 17:00")) == at("2026-12-02 09:00")
    assert hours.next_open(WEEKDAYS, at("2026-12-04 18:00")) == at("2026-12-05 10:00")  # Fri → Sat
    assert hours.next_open(WEEKDAYS, at("2026-12-05 14:00")) == at("2026-12-07 09:00")  # Sat → Mon
    assert hours.next_close(WEEKDAYS, at("2026-12-01 10:00")) == at("2026-12-01 17:00")
    assert hours.next_close(WEEKDAYS, at("2026-12-01 18:00")) is None


def test_window_counts_open_time_only():
    # The example: a 10-minute window from 16:55 with a 17:00 close ends at 09:05 next open day.
    assert hours.add_open(WEEKDAYS, at("2026-12-01 16:55"), 600) == at("2026-12-02 09:05")
    assert hours.add_open(WEEKDAYS, at("2026-12-04 16:55"), 600) == at("2026-12-05 10:05")
    assert hours.add_open(WEEKDAYS, at("2026-12-01 20:00"), 600) == at("2026-12-02 09:10")
    assert hours.add_open(WEEKDAYS, at("2026-12-01 10:00"), 600) == at("2026-12-01 10:10")
    assert hours.add_open(hours.Schedule(), at("2026-12-01 16:55"), 600) == at("2026-12-01 17:05")


def test_local_time_zone_and_daylight_saving():
    moscow = hours.schedule(["mon-fri 09:00-17:00"], "Europe/Moscow")  # UTC+3
    assert hours.open_at(moscow, at("2026-12-01 06:00"))
    assert not hours.open_at(moscow, at("2026-12-01 14:00"))
    berlin = hours.schedule(["09:00-17:00"], "Europe/Berlin")
    assert hours.next_open(berlin, at("2026-03-28 17:00")) == at("2026-03-29 07:00")  # CEST from 29 March
    assert hours.next_open(berlin, at("2026-03-27 17:00")) == at("2026-03-28 08:00")


def test_overnight_range_and_midnight_join():
    night = hours.schedule(["22:00-06:00"])
    assert hours.open_at(night, at("2026-12-01 23:00")) and hours.open_at(night, at("2026-12-02 05:59"))
    assert not hours.open_at(night, at("2026-12-02 06:00"))
    assert hours.next_close(night, at("2026-12-01 23:00")) == at("2026-12-02 06:00")  # one span
    assert hours.add_open(night, at("2026-12-01 23:30"), 3600) == at("2026-12-02 00:30")


def test_a_schedule_that_never_opens():
    never = hours.schedule(["09:00-10:00|*|30|feb"])
    assert hours.next_open(never, at("2026-12-01 09:30")) is None
    assert hours.add_open(never, at("2026-12-01 09:30"), 60) == at("2026-12-01 09:31")


def test_day_words():
    now = at("2026-12-01 20:00")
    assert hours.day_word(WEEKDAYS, now, at("2026-12-01 21:00")) == "today"
    assert hours.day_word(WEEKDAYS, now, at("2026-12-02 09:00")) == "tomorrow"
    assert hours.day_word(WEEKDAYS, now, at("2026-12-05 10:00")) == "weekday"
    moscow = hours.schedule(["09:00-17:00"], "Europe/Moscow")
    assert hours.day_word(moscow, at("2026-12-01 22:00"), at("2026-12-02 06:00")) == "today"  # local


def test_next_morning_is_nine_or_the_first_opening_after_it():
    from freepbx_callback import policy

    always = hours.Schedule()
    assert hours.next_morning(always, at("2026-12-01 14:00")) == at("2026-12-02 09:00")
    assert hours.next_morning(always, at("2026-12-01 00:30")) == at("2026-12-02 09:00")  # tomorrow, not today
    assert hours.next_morning(WEEKDAYS, at("2026-12-05 12:00")) == at("2026-12-07 09:00")  # Sat → Mon
    late = hours.schedule(["mon-fri 10:00-17:00"], "Europe/Moscow")
    assert hours.next_morning(late, at("2026-12-01 14:00")) == at("2026-12-02 07:00")  # 10:00 Moscow
    assert policy.chosen_time("asap", WEEKDAYS, at("2026-12-01 14:00")) == at("2026-12-01 14:00")
    assert policy.chosen_time("hour", WEEKDAYS, at("2026-12-01 14:00")) == at("2026-12-01 15:00")
    with pytest.raises(policy.PolicyError):
        policy.chosen_time("never", WEEKDAYS, at("2026-12-01 14:00"))


def test_utc_of_local_and_aware_times():
    assert hours.utc_of(at("2026-12-02 10:30"), "Europe/Moscow") == at("2026-12-02 07:30")
    assert hours.utc_of(datetime.fromisoformat("2026-12-02T08:00:00+00:00"), "Europe/Moscow") == at(
        "2026-12-02 08:00"
    )
