"""A schedule's pattern ("Second Thursday of the month, 7:00pm to 8:30pm") in the interface
language. English is `finder.schedules.describe`'s text as the results carry it; other
languages are built from the schedule's RRULE and times with the message catalog and CLDR
day names (Babel)."""

from __future__ import annotations

import datetime as dt
import re

from babel.dates import format_time, get_day_names

from finder.web.i18n import DEFAULT, current_language, gettext

_RFC_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TIMES = re.compile(r", (?:(?P<start>\S+) to (?P<end>\S+)|from (?P<from>\S+) for 24 hours)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d\d)(am|pm)$")


def _clock(text: str) -> dt.time | None:
    """Back from `schedules.format_clock`: "7:00pm", "noon", "midnight"."""
    if text in ("noon", "midnight"):
        return dt.time(12 if text == "noon" else 0)
    m = _CLOCK.match(text)
    if not m:
        return None
    hour = int(m.group(1)) % 12 + (12 if m.group(3) == "pm" else 0)
    return dt.time(hour, int(m.group(2)))


def _when(freq: str, interval: int, byday: str, lang: str) -> str | None:
    m = re.fullmatch(r"(-?\d)?(MO|TU|WE|TH|FR|SA|SU)", byday)
    if not m:
        return None
    day = get_day_names("wide", locale=lang)[_RFC_DAYS.index(m.group(2))]
    if freq == "WEEKLY":
        if interval == 1:
            return gettext("Every %(day)s", day=day)
        if interval == 2:
            return gettext("Every other %(day)s", day=day)
        return gettext("Every %(n)d weeks on %(day)s", n=interval, day=day)
    ordinal = {
        "1": gettext("First %(day)s of the month", day=day),
        "2": gettext("Second %(day)s of the month", day=day),
        "3": gettext("Third %(day)s of the month", day=day),
        "4": gettext("Fourth %(day)s of the month", day=day),
        "-1": gettext("Last %(day)s of the month", day=day),
    }.get(m.group(1) or "")
    if ordinal is None:
        return None
    if interval == 1:
        return ordinal
    return gettext("%(pattern)s, every %(n)d months", pattern=ordinal, n=interval)


def pattern(schedule) -> str:
    """The schedule's pattern in the interface language (falls back to the English text)."""
    lang = current_language()
    if lang == DEFAULT:
        return schedule.description
    parts = dict(p.split("=", 1) for p in schedule.rrule.split(";") if "=" in p)
    when = _when(parts.get("FREQ", ""), int(parts.get("INTERVAL", "1")), parts.get("BYDAY", ""),
                 lang)
    times = _TIMES.search(schedule.description)
    if when is None or times is None:
        return schedule.description
    if times.group("from"):
        start = _clock(times.group("from"))
        if start is None:
            return schedule.description
        return gettext("%(when)s, from %(start)s for 24 hours", when=when,
                       start=format_time(start, "HH:mm", locale=lang))
    start, end = _clock(times.group("start")), _clock(times.group("end"))
    if start is None or end is None:
        return schedule.description
    return gettext("%(when)s, %(start)s to %(end)s", when=when,
                   start=format_time(start, "HH:mm", locale=lang),
                   end=format_time(end, "HH:mm", locale=lang))
