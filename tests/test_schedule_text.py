"""The day/time phrases publishers write, read into RFC 5545-style schedules."""

from __future__ import annotations

import datetime as dt

import pytest

from finder.listings.records import ScheduleRecord
from ingest.adapters.common import country_code, country_from_name, infer_join_mode
from ingest.schedule_text import (
    duration_between,
    parse_byday,
    parse_clock,
    parse_day_phrase,
    parse_schedule_phrase,
    parse_time_range,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def t(h: int, m: int = 0) -> dt.time:
    return dt.time(h, m)


@pytest.mark.parametrize("text, expected", [
    ("19:00", t(19)), ("19:00:00", t(19)), ("7:05", t(7, 5)), ("19.30", t(19, 30)),
    ("1930", t(19, 30)), ("7pm", t(19)), ("7 PM", t(19)), ("7:30pm", t(19, 30)),
    ("7.30 p.m.", t(19, 30)), ("10am", t(10)), ("12pm", t(12)), ("12am", t(0)),
    ("noon", t(12)), ("Midday", t(12)), ("midnight", t(0)), ("00:30", t(0, 30)),
    ("7:30:00 PM", t(19, 30)),
])
def test_parse_clock(text, expected):
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text, message", [
    ("7", "ambiguous"), ("evening", "not a time"), ("25:00", "0 to 23"), ("19:75", "00 to 59"),
    ("13pm", "1 to 12"), ("", "empty"),
])
def test_parse_clock_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_clock(text)


@pytest.mark.parametrize("text, end, expected", [
    ("7pm", None, (t(19), None)),
    ("7-9pm", None, (t(19), 120)),
    ("7:30 - 9pm", None, (t(19, 30), 90)),
    ("19:00-21:00", None, (t(19), 120)),
    ("19:00 to 20:15", None, (t(19), 75)),
    ("from 7pm until 9.30pm", None, (t(19), 150)),
    ("11-1pm", None, (t(11), 120)),          # 11am to 1pm, not 11pm
    ("10:30-12pm", None, (t(10, 30), 90)),
    ("9am-12", None, (t(9), 180)),           # the end shares the start's am
    ("7pm-9", None, (t(19), 120)),
    ("noon-2pm", None, (t(12), 120)),
    ("10pm-1am", None, (t(22), 180)),        # past midnight
    ("7pm", "9pm", (t(19), 120)),
    ("7", "9pm", (t(19), 120)),              # the end column supplies pm
    ("7pm for 2 hours", None, (t(19), 120)),
    ("7pm (90 mins)", None, (t(19), 90)),
    ("10am for an hour", None, (t(10), 60)),
    ("7pm onwards", None, (t(19), None)),
    ("7–9pm", None, (t(19), 120)),           # an en dash
])
def test_parse_time_range(text, end, expected):
    assert parse_time_range(text, end) == expected


@pytest.mark.parametrize("text, end, message", [
    ("7-9", None, "ambiguous"),
    ("7pm-6pm", None, "23 hours"),
    ("7pm-9pm", "10pm", "already has an end time"),
    ("7pm-9pm for 2 hours", None, "both an end time and a duration"),
    ("1pm-2pm-3pm", None, "more than one"),
    ("", None, "no start time"),
])
def test_parse_time_range_refuses(text, end, message):
    with pytest.raises(ValueError, match=message):
        parse_time_range(text, end)


def test_duration_between_wraps_midnight_and_caps():
    assert duration_between(t(23), t(0, 30)) == 90
    assert duration_between(t(19), t(19, 1)) == 1
    with pytest.raises(ValueError):
        duration_between(t(19), t(19))  # 24 hours: a typo, not a meeting


@pytest.mark.parametrize("text, expected", [
    ("Tuesday", [("weekly", 1, TUE, None)]),
    ("Tues", [("weekly", 1, TUE, None)]),
    ("tuesdays", [("weekly", 1, TUE, None)]),
    ("every Tuesday", [("weekly", 1, TUE, None)]),
    ("Weekly on Thursday", [("weekly", 1, THU, None)]),
    ("1st Tuesday", [("monthly", 1, TUE, 1)]),
    ("first Tuesday of the month", [("monthly", 1, TUE, 1)]),
    ("First Tuesday of each month", [("monthly", 1, TUE, 1)]),
    ("last Thursday", [("monthly", 1, THU, -1)]),
    ("Last Thursday of every month", [("monthly", 1, THU, -1)]),
    ("3rd Sat", [("monthly", 1, SAT, 3)]),
    ("every other Wednesday", [("weekly", 2, WED, None)]),
    ("fortnightly on Wednesday", [("weekly", 2, WED, None)]),
    ("Alternate Wednesdays", [("weekly", 2, WED, None)]),
    ("bi-weekly, Friday", [("weekly", 2, FRI, None)]),
    ("every 3 weeks on Sunday", [("weekly", 3, SUN, None)]),
    ("every second Tuesday", [("weekly", 2, TUE, None)]),
    ("every second Tuesday of the month", [("monthly", 1, TUE, 2)]),
    ("2nd & 4th Monday", [("monthly", 1, MON, 2), ("monthly", 1, MON, 4)]),
    ("second and fourth Mondays", [("monthly", 1, MON, 2), ("monthly", 1, MON, 4)]),
    ("1st Monday and 3rd Wednesday", [("monthly", 1, MON, 1), ("monthly", 1, WED, 3)]),
    ("Mondays and Thursdays", [("weekly", 1, MON, None), ("weekly", 1, THU, None)]),
    ("Mon/Wed/Fri", [("weekly", 1, MON, None), ("weekly", 1, WED, None),
                     ("weekly", 1, FRI, None)]),
    ("every Tuesday and the last Friday", [("weekly", 1, TUE, None),
                                           ("monthly", 1, FRI, -1)]),
    ("Tuesdays, 1st and 3rd", [("monthly", 1, TUE, 1), ("monthly", 1, TUE, 3)]),
    ("third Tuesday every other month", [("monthly", 2, TUE, 3)]),
    ("every 2 months on the first Tuesday", [("monthly", 2, TUE, 1)]),
    ("first Monday, quarterly", [("monthly", 3, MON, 1)]),
    ("Tuesday and Tuesday", [("weekly", 1, TUE, None)]),
])
def test_parse_day_phrase(text, expected):
    assert parse_day_phrase(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "no meeting day"),
    ("Mardi", "names no weekday"),
    ("monthly on Tuesday", "which one"),
    ("5th Tuesday", "not in every month"),
    ("15th of the month", "date of the month"),
    ("every Tuesday except August", "'except'"),
    ("Tuesdays but not the last one", "cannot be read"),
    ("bimonthly Tuesday", "twice a month or every two months"),
    ("every 13 weeks on Monday", "not supported"),
])
def test_parse_day_phrase_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_day_phrase(text)


def test_parse_schedule_phrase_builds_records():
    got = parse_schedule_phrase("2nd & 4th Monday", "7-9pm")
    assert got == [
        ScheduleRecord(freq="monthly", weekday=MON, start_time=t(19), set_pos=2,
                       duration_minutes=120),
        ScheduleRecord(freq="monthly", weekday=MON, start_time=t(19), set_pos=4,
                       duration_minutes=120),
    ]
    assert all(s.timezone is None and s.interval == 1 for s in got)


def test_parse_schedule_phrase_defaults_to_90_minutes():
    (rec,) = parse_schedule_phrase("every other Wednesday", "10.30am")
    assert (rec.freq, rec.interval, rec.weekday, rec.start_time, rec.duration_minutes) == (
        "weekly", 2, WED, t(10, 30), 90)


def test_parse_schedule_phrase_with_end_column():
    (rec,) = parse_schedule_phrase("last Thursday", "18:30", "20:00")
    assert (rec.set_pos, rec.start_time, rec.duration_minutes) == (-1, t(18, 30), 90)


@pytest.mark.parametrize("day, start, minutes, days", [
    ("Tuesdays 7-9pm", t(19), 120, [TUE]),
    ("1st Tuesday of the month, 7.30pm", t(19, 30), 90, [TUE]),
    ("Mondays and Thursdays at 19:00", t(19), 90, [MON, THU]),
    ("Sunday noon", t(12), 90, [SUN]),
])
def test_parse_schedule_phrase_time_inside_day_text(day, start, minutes, days):
    got = parse_schedule_phrase(day, None)
    assert [s.weekday for s in got] == days
    assert {(s.start_time, s.duration_minutes) for s in got} == {(start, minutes)}


def test_parse_schedule_phrase_without_any_time():
    with pytest.raises(ValueError, match="no start time"):
        parse_schedule_phrase("1st Tuesday", "")
    with pytest.raises(ValueError, match="ambiguous"):
        parse_schedule_phrase("Tuesday at 7", None)


@pytest.mark.parametrize("text, expected", [
    ("TU", [(None, TUE)]),
    ("1TU", [(1, TUE)]),
    ("-1TH", [(-1, THU)]),
    ("+2MO", [(2, MON)]),
    ("MO,WE", [(None, MON), (None, WED)]),
    ("1tu, -1th", [(1, TUE), (-1, THU)]),
    ("MO,MO", [(None, MON)]),
])
def test_parse_byday(text, expected):
    assert parse_byday(text) == expected


@pytest.mark.parametrize("text", ["", "XX", "5FR", "-2TH", "TUE", "1"])
def test_parse_byday_refuses(text):
    with pytest.raises(ValueError):
        parse_byday(text)


@pytest.mark.parametrize("text, expected", [
    ("GB", "GB"), ("uk", "GB"), ("United Kingdom", "GB"), ("England", "GB"), ("USA", "US"),
    ("U.S.A.", "US"), ("United States of America", "US"), ("Éire", "IE"), ("Narnia", "Narnia"),
    (None, None), ("  ", None),
])
def test_country_code(text, expected):
    assert country_code(text) == expected


def test_country_from_name_ignores_state_codes():
    assert country_from_name("USA") == "US"
    assert country_from_name("CA") is None  # California, not Canada
    assert country_from_name("Chicago") is None


@pytest.mark.parametrize("text, expected", [
    ("Just turn up; you don't need to book.", "drop_in"),
    ("Drop-in, all welcome", "drop_in"),
    ("No need to register", "drop_in"),
    ("Registration required", "register"),
    ("Please register at https://example.org/r", "register"),
    ("Booking essential", "register"),
    ("Please book a place.", "register"),
    ("Join our waiting list", "waitlist"),
    ("Referral from your midwife or GP", "contact"),
    ("Please get in touch before your first visit so we can say hello.", "contact"),
    ("Tea and biscuits provided.", None),
    ("", None),
])
def test_infer_join_mode(text, expected):
    assert infer_join_mode(text) == expected
