"""Recurrence maths for meeting schedules: pure functions, no database, no Flask.

A schedule is an RFC 5545 recurrence with one weekday: ``FREQ=WEEKLY;INTERVAL=n;BYDAY=TU`` or
``FREQ=MONTHLY;INTERVAL=n;BYDAY=1TU`` (``-1TH`` = last Thursday), at a start time that is
*local* to an IANA zone, plus cancelled dates and a validity window.

Rules that are easy to get wrong, decided once here:

* **Anchor.** The series starts at the first matching date on or after ``valid_from`` and
  "every N weeks/months" counts from that first meeting. That date is a DTSTART in sync with
  the rule (see `dtstart`), so RFC 5545 consumers of `to_rrule` get the same dates.
* **Wall-clock time is kept across DST.** Dates are generated as naive local date-times and only
  then given the zone, so a 19:00 London group meets at 19:00 in GMT and in BST alike.
* **Nonexistent local times** (the spring-forward gap, e.g. 01:30 Europe/London on the last
  Sunday of March) are read with the UTC offset *before* the gap, as RFC 5545 section 3.3.5
  prescribes and as zoneinfo does for ``fold=0``; the result is normalised, so that meeting
  is returned as 02:30 BST (the wall time moves forward by the length of the gap). In zones
  whose gap spans midnight this can move the meeting to the next calendar day.
* **Ambiguous local times** (the fall-back overlap) use ``fold=0``: the first of the two.
* ``cancelled_dates``, ``valid_from`` and ``valid_until`` (inclusive) are local *dates* of the
  nominal occurrence, i.e. before any gap shift.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import MONTHLY, WEEKLY, rrule
from dateutil.rrule import weekday as rrule_weekday

from finder import timezones

__all__ = [
    "FREQUENCIES",
    "SET_POSITIONS",
    "Recurrence",
    "describe",
    "dtstart",
    "ends_at",
    "format_clock",
    "format_time",
    "last_meeting_on",
    "meeting_slots",
    "next_occurrence",
    "next_occurrences",
    "occurrences_between",
    "time_band",
    "to_rrule",
    "upcoming_utc",
]

FREQUENCIES = ("weekly", "monthly")
SET_POSITIONS = (1, 2, 3, 4, -1)
UTC = dt.UTC

_RFC_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ORDINALS = {1: "First", 2: "Second", 3: "Third", 4: "Fourth", -1: "Last"}


def _int_field(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return value


@dataclass(frozen=True)
class Recurrence:
    """One validated schedule; build it with `Recurrence.from_obj` from a model or a record."""

    freq: str
    interval: int
    weekday: int
    set_pos: int | None
    start_time: dt.time
    duration_minutes: int
    timezone: str
    valid_from: dt.date
    valid_until: dt.date | None = None
    cancelled_dates: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        if self.freq not in FREQUENCIES:
            raise ValueError(f"freq must be 'weekly' or 'monthly', got {self.freq!r}")
        if not 1 <= _int_field("interval", self.interval) <= 12:
            raise ValueError(f"interval must be between 1 and 12, got {self.interval!r}")
        if not 0 <= _int_field("weekday", self.weekday) <= 6:
            raise ValueError(
                f"weekday must be between 0 (Monday) and 6 (Sunday), got {self.weekday!r}"
            )
        if self.freq == "weekly" and self.set_pos is not None:
            raise ValueError(f"set_pos must be None for a weekly schedule, got {self.set_pos!r}")
        if self.freq == "monthly" and (
            self.set_pos is None
            or _int_field("set_pos", self.set_pos) not in SET_POSITIONS
        ):
            raise ValueError(
                f"set_pos must be 1, 2, 3, 4 or -1 (last) for a monthly schedule, "
                f"got {self.set_pos!r}"
            )
        if not isinstance(self.start_time, dt.time) or self.start_time.tzinfo is not None:
            raise ValueError(
                f"start_time must be a local time without tzinfo, got {self.start_time!r}"
            )
        if not 1 <= _int_field("duration_minutes", self.duration_minutes) <= 1440:
            raise ValueError(
                f"duration_minutes must be between 1 and 1440, got {self.duration_minutes!r}"
            )
        if not isinstance(self.timezone, str) or not self.timezone:
            raise ValueError(f"timezone must be an IANA zone name, got {self.timezone!r}")
        if not timezones.is_valid(self.timezone):
            raise ValueError(f"timezone {timezones.shown(self.timezone)} is not a known IANA zone")
        for name in ("valid_from", "valid_until"):
            value = getattr(self, name)
            if value is None and name == "valid_until":
                continue
            # a datetime is a date too, but its time part would be silently ignored
            if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
                raise ValueError(f"{name} must be a date, got {value!r}")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(
                f"valid_until ({self.valid_until.isoformat()}) is before "
                f"valid_from ({self.valid_from.isoformat()})"
            )
        object.__setattr__(self, "cancelled_dates", _date_set(self.cancelled_dates))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # zoneinfo caches instances by key

    @classmethod
    def from_obj(
        cls,
        obj: Any,
        *,
        timezone: str | None = None,
        valid_from: dt.date | None = None,
    ) -> Recurrence:
        """Read a `Schedule` row or a `ScheduleRecord`; the keywords fill what a record omits.

        An ORM object that has not been flushed yet has no column defaults, so a missing
        interval, duration or cancellation list gets the same defaults as the table.
        """
        interval = getattr(obj, "interval", None)
        duration = getattr(obj, "duration_minutes", None)
        tz = getattr(obj, "timezone", None) or timezone
        start = getattr(obj, "valid_from", None) or valid_from
        if tz is None:
            raise ValueError("timezone is missing: set it on the schedule or pass timezone=")
        if start is None:
            raise ValueError("valid_from is missing: set it on the schedule or pass valid_from=")
        return cls(
            freq=obj.freq,
            interval=1 if interval is None else interval,
            weekday=obj.weekday,
            set_pos=getattr(obj, "set_pos", None),
            start_time=obj.start_time,
            duration_minutes=90 if duration is None else duration,
            timezone=tz,
            valid_from=start,
            valid_until=getattr(obj, "valid_until", None),
            cancelled_dates=_date_set(getattr(obj, "cancelled_dates", None)),
        )


def _date_set(values: Iterable[dt.date] | None) -> frozenset[dt.date]:
    out = set()
    for value in values or ():
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            raise ValueError(f"cancelled_dates must hold dates, got {value!r}")
        out.add(value)
    return frozenset(out)


# ---------------------------------------------------------------------------- generation


def _nth_weekday(year: int, month: int, weekday: int, pos: int) -> dt.date:
    """The pos-th (or last, -1) given weekday of a month; 1..4 always exist."""
    if pos > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (pos - 1))
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = next_month - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after `day`'s month."""
    years, month0 = divmod(day.month - 1 + months, 12)
    return dt.date(day.year + years, month0 + 1, 1)


def _first_date(rec: Recurrence) -> dt.date:
    """The first matching date on or after valid_from: the series' anchor."""
    if rec.freq == "weekly":
        return rec.valid_from + dt.timedelta(days=(rec.weekday - rec.valid_from.weekday()) % 7)
    assert rec.set_pos is not None
    day = _nth_weekday(rec.valid_from.year, rec.valid_from.month, rec.weekday, rec.set_pos)
    if day < rec.valid_from:
        month = _add_months(rec.valid_from, 1)
        day = _nth_weekday(month.year, month.month, rec.weekday, rec.set_pos)
    return day


def _rule(rec: Recurrence, near: dt.date) -> rrule:
    """An rrule of naive local starts, fast-forwarded to the period containing `near`.

    Starting at a period boundary of the same series (a multiple of the interval after the
    anchor) yields the same dates as iterating from the anchor, without walking years of
    past meetings for every call.
    """
    first = _first_date(rec)
    start = first
    if near > first:
        if rec.freq == "weekly":
            step = 7 * rec.interval
            start = first + dt.timedelta(days=(near - first).days // step * step)
        else:
            months = (near.year - first.year) * 12 + near.month - first.month
            skip = months // rec.interval * rec.interval
            if skip:
                start = _add_months(first, skip)
    byday = rrule_weekday(rec.weekday)
    if rec.freq == "monthly":
        byday = byday(rec.set_pos)
    until = None
    if rec.valid_until is not None:
        until = dt.datetime.combine(rec.valid_until, dt.time.max)
    return rrule(
        WEEKLY if rec.freq == "weekly" else MONTHLY,
        interval=rec.interval,
        byweekday=byday,
        dtstart=dt.datetime.combine(start, rec.start_time),
        until=until,
        cache=False,
    )


def _localize(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Attach the zone with fold=0 and normalise, so gap times become real wall times."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def _starts(rec: Recurrence, near: dt.date) -> Iterator[dt.datetime]:
    """Aware local starts, in order, from about `near` on; cancelled dates left out."""
    zone = rec.zone
    for naive in _rule(rec, near):
        if naive.date() not in rec.cancelled_dates:
            yield _localize(naive, zone)


def _require_aware(value: dt.datetime, name: str) -> None:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _near(rec: Recurrence, instant: dt.datetime) -> dt.date:
    # a day early, in case a gap shift moved a meeting past midnight
    return instant.astimezone(rec.zone).date() - dt.timedelta(days=1)


def next_occurrences(rec: Recurrence, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The next `count` meeting starts at or after `after`, in the group's zone.

    A meeting that started a minute ago is not "next": the finder points people at one they
    can arrive at.
    """
    _require_aware(after, "after")
    # compare in UTC: datetimes sharing a tzinfo compare by wall clock, ignoring fold and gaps
    after = after.astimezone(UTC)
    if count < 0:
        raise ValueError(f"count must not be negative, got {count!r}")
    out: list[dt.datetime] = []
    if count == 0:
        return out
    for start in _starts(rec, _near(rec, after)):
        if start >= after:
            out.append(start)
            if len(out) == count:
                break
    return out


def next_occurrence(rec: Recurrence, after: dt.datetime) -> dt.datetime | None:
    """The next meeting start at or after `after`, or None when the schedule has ended."""
    found = next_occurrences(rec, after, 1)
    return found[0] if found else None


def occurrences_between(
    rec: Recurrence, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """Meeting starts in [start, end), in the group's zone."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)  # see next_occurrences
    out: list[dt.datetime] = []
    if end <= start:
        return out
    for when in _starts(rec, _near(rec, start)):
        if when >= end:
            break
        if when >= start:
            out.append(when)
    return out


def last_meeting_on(rec: Recurrence) -> dt.date | None:
    """The local date of the last meeting of a bounded series, cancelled dates left out;
    None while it is open-ended (it always meets again). A series with no meeting at all
    (every date cancelled, or no matching date in its window) "meets until" the day before
    it starts. `groups.meets_until` is the latest of these (migrations 0012, 0014): a group
    whose every remaining date is cancelled, or whose one-off meeting has passed, has
    ended like one whose series ran out.
    """
    if rec.valid_until is None:
        return None
    # start far enough back that the window holds one more date than there are
    # cancellations: if every date in it is cancelled, the window reaches the first one
    period = 7 * rec.interval if rec.freq == "weekly" else 31 * rec.interval
    near = rec.valid_until - dt.timedelta(days=period * (len(rec.cancelled_dates) + 1))
    last = None
    for naive in _rule(rec, near):
        if naive.date() not in rec.cancelled_dates:
            last = naive.date()
    return last if last is not None else rec.valid_from - dt.timedelta(days=1)


def upcoming_utc(
    rec: Recurrence, now: dt.datetime, horizon_days: int = 120
) -> list[dt.datetime]:
    """Starts in the next `horizon_days`, in UTC: the `Schedule.upcoming` cache for SQL."""
    _require_aware(now, "now")
    now = now.astimezone(UTC)
    found = occurrences_between(rec, now, now + dt.timedelta(days=horizon_days))
    return [when.astimezone(UTC) for when in found]


def dtstart(rec: Recurrence) -> dt.datetime:
    """The first meeting (cancelled or not): the DTSTART that goes with `to_rrule`.

    Unlike the occurrences, it is not normalised: a recurrence repeats DTSTART's wall-clock
    time, so a first meeting in a spring-forward gap keeps its nominal time (fold=0), which
    still denotes the right instant.
    """
    return dt.datetime.combine(_first_date(rec), rec.start_time, tzinfo=rec.zone)


def ends_at(rec: Recurrence, start: dt.datetime) -> dt.datetime:
    """When a meeting that starts at `start` ends, by elapsed time (right across DST)."""
    _require_aware(start, "start")
    end = start.astimezone(UTC) + dt.timedelta(minutes=rec.duration_minutes)
    return end.astimezone(start.tzinfo)


# ---------------------------------------------------------------------------- text


def time_band(t: dt.time) -> str:
    """The searchable band of a local start time; a boundary (say 17:00) starts its band."""
    hour = t.hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 21:
        return "evening"
    return "night"


def meeting_slots(recs: Iterable[Recurrence]) -> list[str]:
    """`groups.meeting_slots`: "<weekday>:*", "*:<band>" and "<weekday>:<band>" of each
    schedule, sorted, as the schedules trigger computes them (migration 0007); a search's
    day and time filters overlap them."""
    slots = set()
    for rec in recs:
        band = time_band(rec.start_time)
        slots.update((f"{rec.weekday}:*", f"*:{band}", f"{rec.weekday}:{band}"))
    return sorted(slots)


def to_rrule(rec: Recurrence) -> str:
    """The RFC 5545 RRULE value; pair it with DTSTART;TZID=<timezone> from `dtstart`.

    UNTIL is in UTC, as RFC 5545 requires when DTSTART has a TZID: the end of the
    valid_until day in the group's zone, so the whole day stays included.
    """
    parts = [f"FREQ={rec.freq.upper()}"]
    if rec.interval != 1:
        parts.append(f"INTERVAL={rec.interval}")
    day = _RFC_DAYS[rec.weekday]
    parts.append(f"BYDAY={day}" if rec.freq == "weekly" else f"BYDAY={rec.set_pos}{day}")
    if rec.valid_until is not None:
        last = _localize(dt.datetime.combine(rec.valid_until, dt.time(23, 59, 59)), rec.zone)
        parts.append(f"UNTIL={last.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    return ";".join(parts)


def format_clock(t: dt.time | dt.datetime) -> str:
    """12-hour clock as people write it: "7:00pm", "10:30am", "noon", "midnight"."""
    if t.minute == 0 and t.hour in (0, 12):
        return "noon" if t.hour == 12 else "midnight"
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d}{'am' if t.hour < 12 else 'pm'}"


def describe(rec: Recurrence) -> str:
    """Plain words for a listing, e.g. "First Tuesday of the month, 7:00pm to 8:30pm".

    Times are the group's local wall-clock times; callers add the zone where it matters.
    """
    day = _DAY_NAMES[rec.weekday]
    if rec.freq == "weekly":
        if rec.interval == 1:
            when = f"Every {day}"
        elif rec.interval == 2:
            when = f"Every other {day}"
        else:
            when = f"Every {rec.interval} weeks on {day}"
    else:
        assert rec.set_pos is not None
        ordinal = _ORDINALS[rec.set_pos]
        if rec.interval == 1:
            when = f"{ordinal} {day} of the month"
        else:
            when = f"{ordinal} {day} of every {rec.interval} months"
    start = dt.datetime.combine(dt.date(2000, 1, 1), rec.start_time)
    if rec.duration_minutes >= 1440:
        return f"{when}, from {format_clock(start)} for 24 hours"
    end = start + dt.timedelta(minutes=rec.duration_minutes)
    return f"{when}, {format_clock(start)} to {format_clock(end)}"


def format_time(when: dt.datetime, with_zone: bool = True) -> str:
    """ "Tue 3 Dec, 7:00pm GMT": English names whatever the process locale is."""
    text = (
        f"{_DAY_NAMES[when.weekday()][:3]} {when.day} {_MONTH_ABBR[when.month - 1]}, "
        f"{format_clock(when)}"
    )
    zone = when.tzname() if with_zone else None
    return f"{text} {zone}" if zone else text
