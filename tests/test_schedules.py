"""Recurrence maths: worked examples (DST included) and properties checked against a
day-by-day oracle written independently of `finder.schedules`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finder.listings.records import ScheduleRecord
from finder.models import Schedule
from finder.schedules import (
    Recurrence,
    describe,
    dtstart,
    ends_at,
    format_time,
    last_meeting_on,
    next_occurrence,
    next_occurrences,
    occurrences_between,
    time_band,
    to_rrule,
    upcoming_utc,
)

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def rec(
    freq: str = "weekly",
    weekday: int = TUE,
    start: dt.time = dt.time(19),
    *,
    interval: int = 1,
    set_pos: int | None = None,
    duration: int = 90,
    tz: str = "Europe/London",
    valid_from: dt.date = dt.date(2024, 1, 1),
    valid_until: dt.date | None = None,
    cancelled: tuple[dt.date, ...] = (),
) -> Recurrence:
    return Recurrence(
        freq=freq, interval=interval, weekday=weekday, set_pos=set_pos, start_time=start,
        duration_minutes=duration, timezone=tz, valid_from=valid_from,
        valid_until=valid_until, cancelled_dates=frozenset(cancelled),
    )


def at(zone: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def local_dates(found: list[dt.datetime]) -> list[dt.date]:
    return [d.date() for d in found]


# ---------------------------------------------------------------------------- weekly


def test_weekly_next_meeting_in_group_zone():
    r = rec()
    found = next_occurrences(r, at(UTC, 2024, 12, 1), 3)
    assert found == [at(LONDON, 2024, 12, 3, 19), at(LONDON, 2024, 12, 10, 19),
                     at(LONDON, 2024, 12, 17, 19)]
    assert all(d.tzinfo is LONDON for d in found)
    assert format_time(found[0]) == "Tue 3 Dec, 7:00pm GMT"


def test_a_meeting_starting_exactly_at_after_counts_but_a_started_one_does_not():
    r = rec()
    assert next_occurrence(r, at(LONDON, 2024, 12, 3, 19)) == at(LONDON, 2024, 12, 3, 19)
    assert next_occurrence(r, at(LONDON, 2024, 12, 3, 19, 1)) == at(LONDON, 2024, 12, 10, 19)


def test_after_in_another_zone_is_compared_as_an_instant():
    r = rec()  # Tue 3 Dec 2024 19:00 GMT = 14:00 in New York
    assert next_occurrence(r, at(NEW_YORK, 2024, 12, 3, 13, 59)) == at(LONDON, 2024, 12, 3, 19)
    assert next_occurrence(r, at(NEW_YORK, 2024, 12, 3, 14, 1)) == at(LONDON, 2024, 12, 10, 19)


def test_fortnightly_is_anchored_on_the_first_meeting_on_or_after_valid_from():
    # valid_from is a Thursday: the first Tuesday after it starts the fortnight
    r = rec(interval=2, valid_from=dt.date(2025, 1, 2))
    assert local_dates(next_occurrences(r, at(UTC, 2024, 6, 1), 3)) == [
        dt.date(2025, 1, 7), dt.date(2025, 1, 21), dt.date(2025, 2, 4)]
    shifted = dataclasses.replace(r, valid_from=dt.date(2025, 1, 9))
    assert local_dates(next_occurrences(shifted, at(UTC, 2024, 6, 1), 2)) == [
        dt.date(2025, 1, 14), dt.date(2025, 1, 28)]
    # years later the phase still holds: Tue 9 Mar 2027 is an off week
    later = next_occurrences(r, at(UTC, 2027, 3, 3), 2)
    assert local_dates(later) == [dt.date(2027, 3, 16), dt.date(2027, 3, 30)]
    assert [(d.date() - dt.date(2025, 1, 7)).days % 14 for d in later] == [0, 0]


def test_every_three_weeks():
    r = rec(weekday=MON, interval=3, valid_from=dt.date(2025, 1, 6))
    assert local_dates(next_occurrences(r, at(UTC, 2025, 1, 7), 3)) == [
        dt.date(2025, 1, 27), dt.date(2025, 2, 17), dt.date(2025, 3, 10)]


# ---------------------------------------------------------------------------- monthly


def test_first_tuesday_of_the_month():
    r = rec("monthly", TUE, set_pos=1)
    assert local_dates(next_occurrences(r, at(UTC, 2025, 1, 1), 4)) == [
        dt.date(2025, 1, 7), dt.date(2025, 2, 4), dt.date(2025, 3, 4), dt.date(2025, 4, 1)]


def test_last_thursday_differs_from_fourth_in_a_five_thursday_month():
    last = rec("monthly", THU, set_pos=-1)
    fourth = rec("monthly", THU, set_pos=4)
    after = at(UTC, 2025, 1, 1)
    assert local_dates(next_occurrences(last, after, 3)) == [
        dt.date(2025, 1, 30), dt.date(2025, 2, 27), dt.date(2025, 3, 27)]
    assert next_occurrence(fourth, after).date() == dt.date(2025, 1, 23)
    assert next_occurrence(last, at(UTC, 2025, 11, 1)).date() == dt.date(2025, 11, 27)


def test_every_other_month_counts_from_the_first_meeting():
    # the first "first Tuesday" on or after 20 Jan 2025 is 4 Feb, so: Feb, Apr, Jun
    r = rec("monthly", TUE, set_pos=1, interval=2, valid_from=dt.date(2025, 1, 20))
    assert local_dates(next_occurrences(r, at(UTC, 2024, 1, 1), 3)) == [
        dt.date(2025, 2, 4), dt.date(2025, 4, 1), dt.date(2025, 6, 3)]
    assert next_occurrence(r, at(UTC, 2026, 1, 1)).date() == dt.date(2026, 2, 3)


# ---------------------------------------------------------------------------- exceptions


def test_cancelled_date_is_skipped():
    r = rec(cancelled=(dt.date(2024, 12, 24), dt.date(2024, 12, 31)))
    assert local_dates(next_occurrences(r, at(UTC, 2024, 12, 18), 2)) == [
        dt.date(2025, 1, 7), dt.date(2025, 1, 14)]


def test_valid_from_and_valid_until_are_inclusive_bounds():
    r = rec(valid_from=dt.date(2025, 3, 4), valid_until=dt.date(2025, 3, 18))
    assert local_dates(next_occurrences(r, at(UTC, 2025, 1, 1), 10)) == [
        dt.date(2025, 3, 4), dt.date(2025, 3, 11), dt.date(2025, 3, 18)]
    assert next_occurrence(r, at(LONDON, 2025, 3, 18, 19, 1)) is None


def test_naive_after_is_refused():
    with pytest.raises(ValueError, match="after"):
        next_occurrence(rec(), dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="end"):
        occurrences_between(rec(), at(UTC, 2025, 1, 1), dt.datetime(2025, 2, 1))


def test_occurrences_between_is_half_open():
    r = rec()
    found = occurrences_between(r, at(LONDON, 2025, 1, 7, 19), at(LONDON, 2025, 1, 21, 19))
    assert found == [at(LONDON, 2025, 1, 7, 19), at(LONDON, 2025, 1, 14, 19)]
    assert occurrences_between(r, at(UTC, 2025, 2, 1), at(UTC, 2025, 1, 1)) == []


def test_upcoming_utc_is_utc_and_bounded_by_the_horizon():
    r = rec()
    found = upcoming_utc(r, at(UTC, 2025, 1, 1), horizon_days=28)
    assert found == [at(UTC, 2025, 1, d, 19) for d in (7, 14, 21, 28)]
    assert all(d.tzinfo is UTC for d in found)
    assert upcoming_utc(r, at(UTC, 2025, 3, 20), horizon_days=14) == [
        at(UTC, 2025, 3, 25, 19), at(UTC, 2025, 4, 1, 18)]


# ---------------------------------------------------------------------------- DST


def test_london_keeps_seven_pm_when_the_clocks_go_forward():
    # clocks go forward on Sunday 30 March 2025; the next Tuesday is 1 April
    before, after = next_occurrences(rec(), at(UTC, 2025, 3, 24), 2)
    assert (before.hour, after.hour) == (19, 19)
    assert before.utcoffset() == dt.timedelta(0)
    assert after.utcoffset() == dt.timedelta(hours=1)
    assert after.astimezone(UTC) == at(UTC, 2025, 4, 1, 18)
    assert format_time(after) == "Tue 1 Apr, 7:00pm BST"


@pytest.mark.parametrize(
    ("start", "offsets"),
    [
        # DST starts Sunday 9 March 2025: Tue 4 Mar is EST, Tue 11 Mar is EDT
        (at(UTC, 2025, 3, 3), (-5, -4)),
        # DST ends Sunday 2 November 2025: Tue 28 Oct is EDT, Tue 4 Nov is EST
        (at(UTC, 2025, 10, 27), (-4, -5)),
    ],
)
def test_new_york_keeps_wall_time_across_both_changes(start, offsets):
    found = next_occurrences(rec(tz="America/New_York"), start, 2)
    assert [(d.hour, d.minute) for d in found] == [(19, 0), (19, 0)]
    assert [d.utcoffset() for d in found] == [dt.timedelta(hours=h) for h in offsets]
    assert (found[1] - found[0]) == dt.timedelta(days=7)  # same wall clock, same tzinfo
    assert found[1].astimezone(UTC) - found[0].astimezone(UTC) == dt.timedelta(
        days=7, hours=offsets[0] - offsets[1])


def test_sydney_southern_hemisphere():
    # Sydney's DST starts Sunday 5 October 2025 (AEST +10 -> AEDT +11)
    found = next_occurrences(rec(weekday=MON, start=dt.time(10, 30), tz="Australia/Sydney"),
                             at(UTC, 2025, 9, 28), 2)
    assert [(d.hour, d.minute) for d in found] == [(10, 30), (10, 30)]
    assert [d.tzname() for d in found] == ["AEST", "AEDT"]


def test_nonexistent_time_in_the_spring_gap_moves_forward_by_the_gap():
    # 01:30 does not happen in London on 30 March 2025: it is read with the GMT offset
    r = rec(weekday=SUN, start=dt.time(1, 30))
    gap_day, normal = next_occurrences(r, at(UTC, 2025, 3, 29), 2)
    assert gap_day == at(LONDON, 2025, 3, 30, 2, 30)
    assert gap_day.astimezone(UTC) == at(UTC, 2025, 3, 30, 1, 30)
    assert gap_day.tzname() == "BST"
    assert normal == at(LONDON, 2025, 4, 6, 1, 30)
    ny = rec(weekday=SUN, start=dt.time(2, 30), tz="America/New_York")
    assert next_occurrence(ny, at(UTC, 2025, 3, 8)) == at(NEW_YORK, 2025, 3, 9, 3, 30)


def test_a_meeting_just_after_the_gap_is_not_returned_before_it():
    r = rec(weekday=SUN, start=dt.time(1, 30))
    # 01:45 UTC is 02:45 BST, after the shifted 02:30 BST meeting
    assert next_occurrence(r, at(UTC, 2025, 3, 30, 1, 45)) == at(LONDON, 2025, 4, 6, 1, 30)


def test_after_in_the_overlap_or_gap_is_read_by_its_instant():
    r = rec(weekday=SUN, start=dt.time(1, 45), tz="America/New_York")
    meeting = at(UTC, 2025, 11, 2, 5, 45)  # 01:45 EDT, the first 01:45 that night
    second_130 = dt.datetime(2025, 11, 2, 1, 30, tzinfo=NEW_YORK, fold=1)  # 01:30 EST
    assert next_occurrence(r, second_130).date() == dt.date(2025, 11, 9)
    # (an ambiguous time never equals a time in another zone, PEP 495: compare in UTC)
    assert next_occurrence(r, second_130.replace(fold=0)).astimezone(UTC) == meeting
    london = rec(weekday=SUN, start=dt.time(2, 15))
    # 01:30 on 30 March 2025 does not exist; fold=0 reads it as 01:30 GMT = 02:30 BST
    assert next_occurrence(london, at(LONDON, 2025, 3, 30, 1, 30)).date() == dt.date(
        2025, 4, 6)
    assert next_occurrence(london, at(LONDON, 2025, 3, 30, 1, 0)) == at(UTC, 2025, 3, 30, 1, 15)


def test_ambiguous_time_uses_the_first_of_the_two():
    # 01:30 happens twice in New York on 2 November 2025; fold=0 is the EDT one
    found = next_occurrence(rec(weekday=SUN, start=dt.time(1, 30), tz="America/New_York"),
                            at(UTC, 2025, 11, 1))
    assert found.utcoffset() == dt.timedelta(hours=-4)
    assert found.astimezone(UTC) == at(UTC, 2025, 11, 2, 5, 30)


def test_ends_at_counts_elapsed_minutes_across_fall_back():
    r = rec(weekday=SUN, start=dt.time(1, 0), duration=90, tz="America/New_York")
    start = next_occurrence(r, at(UTC, 2025, 11, 1))
    end = ends_at(r, start)
    assert end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(minutes=90)
    assert (end.hour, end.minute, end.utcoffset()) == (1, 30, dt.timedelta(hours=-5))


# ---------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("t", "band"),
    [
        (dt.time(0, 0), "night"), (dt.time(4, 59), "night"), (dt.time(5, 0), "morning"),
        (dt.time(11, 59), "morning"), (dt.time(12, 0), "afternoon"),
        (dt.time(16, 59, 59), "afternoon"), (dt.time(17, 0), "evening"),
        (dt.time(20, 59), "evening"), (dt.time(21, 0), "night"), (dt.time(23, 59), "night"),
    ],
)
def test_time_band(t, band):
    assert time_band(t) == band


@pytest.mark.parametrize(
    ("r", "expected"),
    [
        (rec(), "FREQ=WEEKLY;BYDAY=TU"),
        (rec(interval=2), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
        (rec("monthly", TUE, set_pos=1), "FREQ=MONTHLY;BYDAY=1TU"),
        (rec("monthly", THU, set_pos=-1), "FREQ=MONTHLY;BYDAY=-1TH"),
        (rec("monthly", SAT, set_pos=2, interval=3), "FREQ=MONTHLY;INTERVAL=3;BYDAY=2SA"),
        (rec(weekday=SUN, valid_until=dt.date(2025, 12, 31)),
         "FREQ=WEEKLY;BYDAY=SU;UNTIL=20251231T235959Z"),
        (rec(tz="America/New_York", valid_until=dt.date(2025, 12, 31)),
         "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260101T045959Z"),
        (rec(valid_until=dt.date(2025, 6, 30)), "FREQ=WEEKLY;BYDAY=TU;UNTIL=20250630T225959Z"),
    ],
)
def test_to_rrule(r, expected):
    assert to_rrule(r) == expected


def test_to_rrule_with_dtstart_gives_the_same_dates_to_an_rfc_5545_reader():
    r = rec("monthly", THU, set_pos=-1, interval=2, valid_from=dt.date(2025, 1, 20),
            valid_until=dt.date(2025, 12, 31))
    assert dtstart(r) == at(LONDON, 2025, 1, 30, 19)
    theirs = list(rrulestr(to_rrule(r), dtstart=dtstart(r)))
    assert theirs == next_occurrences(r, at(UTC, 2020, 1, 1), 99)
    assert [d.month for d in theirs] == [1, 3, 5, 7, 9, 11]


@pytest.mark.parametrize(
    ("r", "text"),
    [
        (rec(), "Every Tuesday, 7:00pm to 8:30pm"),
        (rec(weekday=WED, interval=2, start=dt.time(10, 30), duration=60),
         "Every other Wednesday, 10:30am to 11:30am"),
        (rec(weekday=MON, interval=3, start=dt.time(12), duration=45),
         "Every 3 weeks on Monday, noon to 12:45pm"),
        (rec("monthly", TUE, set_pos=1), "First Tuesday of the month, 7:00pm to 8:30pm"),
        (rec("monthly", THU, set_pos=-1, start=dt.time(18, 15), duration=105),
         "Last Thursday of the month, 6:15pm to 8:00pm"),
        (rec("monthly", SAT, set_pos=2, interval=2, start=dt.time(9, 5), duration=120),
         "Second Saturday of every 2 months, 9:05am to 11:05am"),
        (rec(start=dt.time(22, 30), duration=120), "Every Tuesday, 10:30pm to 12:30am"),
        (rec(start=dt.time(23), duration=60), "Every Tuesday, 11:00pm to midnight"),
        (rec(start=dt.time(0, 30), duration=1440), "Every Tuesday, from 12:30am for 24 hours"),
    ],
)
def test_describe(r, text):
    assert describe(r) == text


def test_format_time():
    when = at(SYDNEY, 2025, 12, 3, 12)
    assert format_time(when) == "Wed 3 Dec, noon AEDT"
    assert format_time(when, with_zone=False) == "Wed 3 Dec, noon"
    assert format_time(at(NEW_YORK, 2025, 7, 4, 9, 5)) == "Fri 4 Jul, 9:05am EDT"


# ---------------------------------------------------------------------------- building


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"freq": "daily"}, "freq"),
        ({"weekday": 7}, "weekday"),
        ({"weekday": -1}, "weekday"),
        ({"set_pos": 1}, "set_pos"),  # weekly with a position
        ({"freq": "monthly"}, "set_pos"),  # monthly without one
        ({"freq": "monthly", "set_pos": 5}, "set_pos"),
        ({"freq": "monthly", "set_pos": 0}, "set_pos"),
        ({"interval": 0}, "interval"),
        ({"interval": 13}, "interval"),
        ({"timezone": "Europe/Londres"}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "Europe"}, "timezone"),  # a directory of zones, not a zone
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 1441}, "duration_minutes"),
        ({"valid_until": dt.date(2023, 12, 31)}, "valid_until"),
        ({"start_time": dt.time(19, tzinfo=UTC)}, "start_time"),
        ({"valid_from": dt.datetime(2024, 1, 1)}, "valid_from"),
    ],
)
def test_invalid_recurrences_name_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(rec(), **changes)


def test_from_obj_reads_a_record_with_defaults_for_what_it_omits():
    record = ScheduleRecord(freq="monthly", weekday=THU, start_time=dt.time(19), set_pos=-1,
                            cancelled_dates=[dt.date(2025, 1, 30)])
    r = Recurrence.from_obj(record, timezone="Europe/London", valid_from=dt.date(2025, 1, 1))
    assert r == rec("monthly", THU, set_pos=-1, valid_from=dt.date(2025, 1, 1),
                    cancelled=(dt.date(2025, 1, 30),))
    with pytest.raises(ValueError, match="timezone"):
        Recurrence.from_obj(record, valid_from=dt.date(2025, 1, 1))
    with pytest.raises(ValueError, match="valid_from"):
        Recurrence.from_obj(record, timezone="Europe/London")


def test_from_obj_reads_an_unsaved_schedule_row():
    row = Schedule(freq="weekly", interval=2, weekday=WED, start_time=dt.time(10),
                   duration_minutes=60, timezone="America/New_York",
                   valid_from=dt.date(2025, 1, 1))
    r = Recurrence.from_obj(row, timezone="Europe/London")  # the row's own zone wins
    assert r.timezone == "America/New_York"
    assert (r.interval, r.set_pos, r.valid_until, r.cancelled_dates) == (2, None, None,
                                                                         frozenset())


# ---------------------------------------------------------------------------- properties

ZONES = ["Europe/London", "America/New_York", "America/Los_Angeles", "Australia/Sydney", "UTC"]


def _transitions(name: str) -> list[dt.datetime]:
    """UTC instants, to the minute, where the zone's offset changes in 2020-2035."""
    zone = ZoneInfo(name)
    found = []
    day = dt.datetime(2020, 1, 1, tzinfo=UTC)
    while day.year < 2036:
        nxt = day + dt.timedelta(days=1)
        if day.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            lo, hi = day, nxt
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(second=0, microsecond=0))
        day = nxt
    return found


TRANSITIONS = {name: _transitions(name) for name in ZONES}
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def cases(draw, cancel: bool = True) -> tuple[Recurrence, dt.datetime]:
    """A recurrence and an aware `after`, often within days of a DST change in its zone."""
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    any_time = st.builds(dt.time, st.integers(0, 23), st.integers(0, 59))
    small_hours = st.builds(dt.time, st.integers(0, 3), st.sampled_from([0, 1, 15, 30, 59]))
    if TRANSITIONS[name] and draw(st.booleans()):
        change = draw(st.sampled_from(TRANSITIONS[name]))
        # wall-clock minutes from the change, so `after` itself may be in the gap or overlap
        wall = change.astimezone(zone).replace(tzinfo=None)
        wall += dt.timedelta(minutes=draw(st.integers(-4 * 1440, 4 * 1440)))
        after = wall.replace(tzinfo=zone, fold=draw(st.sampled_from([0, 1])))
        weekday = draw(st.one_of(st.just(change.astimezone(zone).weekday()),
                                 st.integers(0, 6)))
        start = draw(st.one_of(small_hours, any_time))
    else:
        after = draw(st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2035, 12, 31),
                                  timezones=st.sampled_from([ZoneInfo(z) for z in ZONES])))
        weekday = draw(st.integers(0, 6))
        start = draw(any_time)
    if draw(st.booleans()):
        after = after.astimezone(draw(st.sampled_from([zone, UTC, NEW_YORK])))
    freq = draw(st.sampled_from(["weekly", "monthly"]))
    valid_from = after.date() - dt.timedelta(days=draw(st.integers(-90, 4000)))
    valid_until = draw(st.one_of(
        st.none(), st.integers(0, 3000).map(lambda n: valid_from + dt.timedelta(days=n))))
    r = Recurrence(
        freq=freq,
        interval=draw(st.one_of(st.just(1), st.integers(1, 12))),
        weekday=weekday,
        set_pos=draw(st.sampled_from([1, 2, 3, 4, -1])) if freq == "monthly" else None,
        start_time=start,
        duration_minutes=draw(st.integers(1, 1440)),
        timezone=name,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    if cancel:
        # cancel some of the real next meetings, plus a few arbitrary dates
        coming = [d.date() for d in next_occurrences(r, after, 4)]
        chosen = draw(st.lists(st.sampled_from(coming), max_size=4)) if coming else []
        noise = draw(st.lists(st.dates(dt.date(2019, 1, 1), dt.date(2036, 12, 31)),
                              max_size=3))
        r = dataclasses.replace(r, cancelled_dates=frozenset(chosen + noise))
    return r, after


def _oracle_first_date(r: Recurrence) -> dt.date:
    day = r.valid_from
    while not _shape_matches(r, day):
        day += dt.timedelta(days=1)
    return day


def _shape_matches(r: Recurrence, day: dt.date) -> bool:
    """Right weekday, and for monthly the right nth/last one in its month."""
    if day.weekday() != r.weekday:
        return False
    if r.freq == "weekly":
        return True
    if r.set_pos == -1:
        return (day + dt.timedelta(days=7)).month != day.month
    return (day.day - 1) // 7 + 1 == r.set_pos


def _oracle_matches(r: Recurrence, day: dt.date, first: dt.date) -> bool:
    """Whether a meeting is due on `day`, decided day by day from the rules in plain words."""
    if not _shape_matches(r, day) or day < first or day in r.cancelled_dates:
        return False
    if r.valid_until is not None and day > r.valid_until:
        return False
    if r.freq == "weekly":
        return (day - first).days % (7 * r.interval) == 0
    return ((day.year - first.year) * 12 + day.month - first.month) % r.interval == 0


def _oracle_instant(r: Recurrence, day: dt.date) -> dt.datetime:
    # RFC 5545: a local time in a gap is read with the offset before the gap (fold=0)
    return dt.datetime.combine(day, r.start_time, tzinfo=r.zone).astimezone(UTC)


@PROPERTY_SETTINGS
@given(cases())
def test_next_occurrence_properties(case):
    r, after = case
    found = next_occurrence(r, after)
    after = after.astimezone(UTC)  # same-tzinfo comparisons would ignore fold and gaps
    first = _oracle_first_date(r)
    scan_from = after.astimezone(r.zone).date() - dt.timedelta(days=1)
    if found is None:
        # only an ended schedule runs out, and then no due meeting is left after `after`
        assert r.valid_until is not None
        day = scan_from
        while day <= r.valid_until:
            assert not (_oracle_matches(r, day, first) and _oracle_instant(r, day) >= after)
            day += dt.timedelta(days=1)
        return
    assert found >= after
    assert found.tzinfo is r.zone
    day = found.date()  # no gap in these zones spans midnight
    assert found.weekday() == r.weekday
    assert _shape_matches(r, day)
    assert day not in r.cancelled_dates
    assert r.valid_from <= day
    assert r.valid_until is None or day <= r.valid_until
    naive = dt.datetime.combine(day, r.start_time)
    if found.replace(tzinfo=None) != naive:
        # the documented gap case: the nominal time does not exist, so it moves forward
        shifted = naive.replace(tzinfo=r.zone).astimezone(UTC).astimezone(r.zone)
        assert shifted.replace(tzinfo=None) != naive
        assert found.replace(tzinfo=None) == shifted.replace(tzinfo=None) > naive
    assert found.fold == 0
    assert found.astimezone(UTC) == _oracle_instant(r, day)
    # nothing due was skipped between `after` and the answer
    probe = scan_from
    while probe < day:
        assert not (_oracle_matches(r, probe, first) and _oracle_instant(r, probe) >= after)
        probe += dt.timedelta(days=1)
    assert _oracle_matches(r, day, first)


@PROPERTY_SETTINGS
@given(cases(), st.integers(1, 400))
def test_windows_agree_with_next_occurrences(case, days):
    r, start = case
    start = start.astimezone(UTC)
    end = start + dt.timedelta(days=days)
    window = occurrences_between(r, start, end)
    following = next_occurrences(r, start, len(window) + 1)
    assert window == [d for d in following if d < end]
    assert all(start <= d < end for d in window)
    utc = [d.astimezone(UTC) for d in window]
    assert all(a < b for a, b in zip(utc, utc[1:], strict=False))
    assert upcoming_utc(r, start, days) == utc


@PROPERTY_SETTINGS
@given(cases(cancel=False), st.integers(1, 400))
def test_rrule_text_means_the_same_to_an_rfc_5545_reader(case, days):
    r, start = case
    start = start.astimezone(UTC)  # dateutil compares by wall clock within one tzinfo
    end = start + dt.timedelta(days=days)
    ours = [d.astimezone(UTC) for d in occurrences_between(r, start, end)]
    rule = rrulestr(to_rrule(r), dtstart=dtstart(r))
    theirs = [d.astimezone(UTC) for d in rule.between(start, end, inc=True) if d < end]
    assert ours == theirs


# ---------------------------------------------------------------------------- last meeting


@st.composite
def bounded(draw) -> Recurrence:
    """A bounded series with some, often all, of its dates cancelled (and some noise)."""
    freq = draw(st.sampled_from(["weekly", "monthly"]))
    valid_from = draw(st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
    r = Recurrence(
        freq=freq, interval=draw(st.integers(1, 12)), weekday=draw(st.integers(0, 6)),
        set_pos=draw(st.sampled_from([1, 2, 3, 4, -1])) if freq == "monthly" else None,
        start_time=dt.time(19), duration_minutes=90, timezone="Europe/London",
        valid_from=valid_from,
        valid_until=valid_from + dt.timedelta(days=draw(st.integers(0, 1200))))
    first = _oracle_first_date(r)
    dates = [first + dt.timedelta(days=n) for n in range((r.valid_until - first).days + 1)
             if _oracle_matches(r, first + dt.timedelta(days=n), first)]
    kept = draw(st.sampled_from(["all", "some", "none"]))
    cancelled = set(dates) if kept == "all" else set(
        draw(st.lists(st.sampled_from(dates), max_size=8)) if dates and kept == "some" else [])
    cancelled |= set(draw(st.lists(st.dates(dt.date(2019, 1, 1), dt.date(2035, 12, 31)),
                                   max_size=3)))
    return dataclasses.replace(r, cancelled_dates=frozenset(cancelled))


@PROPERTY_SETTINGS
@given(bounded())
def test_the_last_meeting_of_a_bounded_series_is_its_last_date_not_called_off(r):
    first = _oracle_first_date(r)
    due = [first + dt.timedelta(days=n) for n in range((r.valid_until - first).days + 1)
           if _oracle_matches(r, first + dt.timedelta(days=n), first)]
    expected = due[-1] if due else r.valid_from - dt.timedelta(days=1)
    assert last_meeting_on(r) == expected


def test_last_meeting_examples():
    assert last_meeting_on(rec()) is None  # open-ended: it always meets again
    series = rec(valid_from=dt.date(2026, 1, 6), valid_until=dt.date(2026, 3, 31))
    assert last_meeting_on(series) == dt.date(2026, 3, 31)
    # the last two called off: it last meets a fortnight earlier
    late = dataclasses.replace(series, cancelled_dates=frozenset(
        {dt.date(2026, 3, 24), dt.date(2026, 3, 31)}))
    assert last_meeting_on(late) == dt.date(2026, 3, 17)
    # every date called off: it never meets ("until" the day before it starts)
    every = dataclasses.replace(series, cancelled_dates=frozenset(
        dt.date(2026, 1, 6) + dt.timedelta(weeks=n) for n in range(13)))
    assert last_meeting_on(every) == dt.date(2026, 1, 5)
    # a one-off meeting: a series of one date
    once = rec(valid_from=dt.date(2026, 5, 12), valid_until=dt.date(2026, 5, 12))
    assert last_meeting_on(once) == dt.date(2026, 5, 12)
    assert last_meeting_on(rec(weekday=WED, valid_from=dt.date(2026, 5, 12),
                               valid_until=dt.date(2026, 5, 12))) == dt.date(2026, 5, 11)
