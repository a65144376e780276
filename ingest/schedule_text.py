"""Reading the schedules (and a few other things) publishers write as words.

Spreadsheets say "1st & 3rd Tuesday", "every other Wednesday" and "7-9pm"; HSDS and iCalendar
say ``BYDAY=-1TH``. These pure functions turn both into `ScheduleRecord`s, or raise
`ValueError` with a message an operator can act on. Nothing here guesses silently: a bare
"7" could be morning or evening, so it is refused rather than read either way.

Rules decided here (documented in the README):

* Times with a colon and no am/pm are 24-hour ("7:30" is 07:30). A bare hour ("7") needs
  am/pm, unless the other end of a range supplies it ("7-9pm" is 19:00-21:00).
* An end time earlier than the start means the meeting runs past midnight. A meeting longer
  than 12 hours is refused as a likely typo. Without an end time the duration is 90 minutes.
* "every other", "alternate", "fortnightly", "biweekly" and "every second <day>" (without
  "month") mean every two weeks; "second <day> of the month" means the 2nd of the month.
* "except ..." and dates of the month ("the 15th") cannot be represented and are refused.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from finder.listings.records import ScheduleRecord

__all__ = [
    "DEFAULT_DURATION",
    "duration_between",
    "parse_byday",
    "parse_clock",
    "parse_day_phrase",
    "parse_schedule_phrase",
    "parse_time_range",
    "rfc_weekday",
]

DEFAULT_DURATION = 90  # minutes, the model's default when a publisher gives no end time
MAX_DURATION = 12 * 60

_WEEKDAYS = {
    "monday": 0, "mon": 0, "mondays": 0,
    "tuesday": 1, "tue": 1, "tues": 1, "tuesdays": 1,
    "wednesday": 2, "wed": 2, "weds": 2, "wednesdays": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "thursdays": 3,
    "friday": 4, "fri": 4, "fridays": 4,
    "saturday": 5, "sat": 5, "saturdays": 5,
    "sunday": 6, "sun": 6, "sundays": 6,
}
_RFC_DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_ORDINALS = {
    "1st": 1, "first": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3, "4th": 4, "fourth": 4,
    "last": -1, "final": -1,
}
_UNSUPPORTED_ORDINALS = {"5th", "fifth"}
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "six": 6}
_NEGATIONS = {"except", "excluding", "exc", "excl", "not", "apart", "unless", "but"}
_AMBIGUOUS = {"bimonthly": "'bimonthly' can mean twice a month or every two months"}

# ----------------------------------------------------------------------------- text


def _fold(text: str) -> str:
    """Lower case, accents stripped, dashes unified: "Mardi–Jeudi" reads like "mardi-jeudi"."""
    if text.isascii():  # the common case, kept cheap for 100,000-row feeds
        return text.lower().strip()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\u2010-\u2015\u2212]", "-", text).lower().strip()


# ----------------------------------------------------------------------------- times

_CLOCK = re.compile(
    r"(?P<h>\d{1,2})(?:\s*[:.h]\s*(?P<m>\d{2}))?(?::(?P<s>\d{2}))?\s*(?P<ap>[ap])?\.?\s*(?:m\.?)?"
)
_COMPACT = re.compile(r"(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)")  # "1930"
_WORD_TIMES = {"noon": dt.time(12), "midday": dt.time(12), "12 noon": dt.time(12),
               "12noon": dt.time(12), "midnight": dt.time(0), "12 midnight": dt.time(0)}


def _clock_parts(text: str) -> tuple[int, int, str | None, bool]:
    """(hour, minute, "a"/"p"/None, had_minutes) as written, before am/pm is applied."""
    t = _fold(text)
    if t in _WORD_TIMES:
        w = _WORD_TIMES[t]
        return w.hour, w.minute, "p" if w.hour == 12 else "a", True
    m = _COMPACT.fullmatch(t)
    if m:
        return int(m["h"]), int(m["m"]), None, True
    m = _CLOCK.fullmatch(t)
    if not m or (m["ap"] is None and t.rstrip(".").endswith("m") and not t[-1].isdigit()):
        raise ValueError(f"{text.strip()!r} is not a time (write it like 19:00 or 7pm)")
    hour, minute = int(m["h"]), int(m["m"] or 0)
    if minute > 59 or (m["s"] is not None and int(m["s"]) > 59):
        raise ValueError(f"{text.strip()!r} is not a time: minutes must be 00 to 59")
    if m["ap"] is not None and not 1 <= hour <= 12:
        raise ValueError(f"{text.strip()!r} is not a time: with am/pm the hour must be 1 to 12")
    if hour > 23:
        raise ValueError(f"{text.strip()!r} is not a time: the hour must be 0 to 23")
    return hour, minute, m["ap"], m["m"] is not None


def _apply_meridiem(hour: int, minute: int, ap: str | None, had_minutes: bool,
                    text: str) -> dt.time:
    if ap is not None:
        return dt.time(hour % 12 + (12 if ap == "p" else 0), minute)
    if not had_minutes and 1 <= hour <= 12:
        raise ValueError(f"{text.strip()!r} is ambiguous: write {hour}am, {hour}pm or "
                         f"{hour:02d}:00")
    return dt.time(hour, minute)


def parse_clock(text: str) -> dt.time:
    """One time of day: "19:00", "19:00:00", "19.30", "1930", "7pm", "7:30 p.m.", "noon"."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the time is empty")
    return _apply_meridiem(*_clock_parts(text), text)


def duration_between(start: dt.time, end: dt.time) -> int:
    """Minutes from start to end; an end at or before the start is on the next day."""
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    if minutes <= 0:
        minutes += 24 * 60
    if minutes > MAX_DURATION:
        raise ValueError(f"it would end {minutes // 60} hours after {start:%H:%M} "
                         f"(at {end:%H:%M}); check the start and end times")
    return minutes


_FOR = re.compile(
    r"\(?\s*(?:for\s+)?(?P<n>\d+(?:\.\d+)?|an?|one|two|three)\s*(?P<u>hours?|hrs?|h|minutes?|mins?)"
    r"\s*\)?\s*$"
)
_RANGE_SPLIT = re.compile(r"\s*(?:-|\bto\b|\buntil\b|\btill\b|\btil\b)\s*")
_LEAD = re.compile(r"^(?:from|starts?|starting|at|begins?|doors open|approx\.?|approximately)"
                   r"\s+|\s*(?:start|onwards|ish)$")


def parse_time_range(text: str, end_text: str | None = None) -> tuple[dt.time, int | None]:
    """(start, duration in minutes or None) from "7pm", "7-9pm", "19:00 to 21:00",
    "7pm for 2 hours"; `end_text` is a separate end-time cell, if the sheet has one."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no start time given")
    t = _fold(text).replace("\u00a0", " ")
    t = re.sub(r"\s+", " ", t)
    duration: int | None = None
    m = _FOR.search(t)
    if m and m.start() > 0:
        n = {"a": "1", "an": "1", "one": "1", "two": "2", "three": "3"}.get(m["n"], m["n"])
        duration = round(float(n) * (60 if m["u"].startswith("h") else 1))
        t = t[:m.start()].strip()
    while True:
        stripped = _LEAD.sub("", t).strip()
        if stripped == t:
            break
        t = stripped
    parts = [p for p in _RANGE_SPLIT.split(t) if p]
    if len(parts) > 2:
        raise ValueError(f"{text.strip()!r} has more than one time range")
    if end_text is not None and str(end_text).strip():
        if len(parts) == 2:
            raise ValueError(f"{text.strip()!r} already has an end time, and the end time "
                             f"column says {end_text!r}")
        parts.append(_fold(str(end_text)))
    start_parts = _clock_parts(parts[0])
    if len(parts) == 1:
        if duration is not None and not 0 < duration <= MAX_DURATION:
            raise ValueError(f"a duration of {duration} minutes is not possible")
        return _apply_meridiem(*start_parts, parts[0]), duration
    if duration is not None:
        raise ValueError(f"{text.strip()!r} gives both an end time and a duration")
    end_parts = _clock_parts(parts[1])
    h, mi, ap, _ = start_parts
    eh, emi, eap, _ = end_parts
    if ap is None and eap is not None and 1 <= h <= 12:
        # "7-9pm", "7:30-9pm": the start shares the end's am/pm unless that puts it after
        # the end ("11-1pm" is 11am to 1pm)
        end = _apply_meridiem(*end_parts, parts[1])
        start = _apply_meridiem(h, mi, eap, True, parts[0])
        if (start.hour, start.minute) >= (end.hour, end.minute):
            start = _apply_meridiem(h, mi, "a" if eap == "p" else "p", True, parts[0])
    elif eap is None and ap is not None and 1 <= eh <= 12:
        # "9am-12", "7pm-9": the end shares the start's am/pm unless it would end earlier
        start = _apply_meridiem(*start_parts, parts[0])
        end = _apply_meridiem(eh, emi, ap, True, parts[1])
        if (end.hour, end.minute) <= (start.hour, start.minute):
            end = _apply_meridiem(eh, emi, "p" if ap == "a" else "a", True, parts[1])
    else:
        start = _apply_meridiem(*start_parts, parts[0])
        end = _apply_meridiem(*end_parts, parts[1])
    return start, duration_between(start, end)


# ----------------------------------------------------------------------------- days

_TOKEN = re.compile(r"[a-z]+|\d+(?:st|nd|rd|th)?")


def parse_day_phrase(text: str) -> list[tuple[str, int, int, int | None]]:
    """(freq, interval, weekday 0=Monday, set_pos) for each meeting day in the phrase.

    "Tuesday", "every Tuesday", "1st Tuesday", "first Tuesday of the month", "last Thursday",
    "every other Wednesday", "fortnightly on Wednesday", "2nd & 4th Monday",
    "Mondays and Thursdays", "third Tuesday every other month".
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no meeting day given")
    raw = text.strip()
    t = _fold(raw).replace("bi-weekly", "biweekly").replace("bi-monthly", "bimonthly")
    tokens = _TOKEN.findall(t)
    words = set(tokens)
    for word, why in _AMBIGUOUS.items():
        if word in words:
            raise ValueError(f"{raw!r}: {why}; write e.g. '1st and 3rd Tuesday' instead")
    negation = words & _NEGATIONS
    if negation:
        raise ValueError(f"{raw!r}: {sorted(negation)[0]!r} cannot be read as a schedule; "
                         f"list the meeting days only (cancelled dates go elsewhere)")
    bad = words & _UNSUPPORTED_ORDINALS
    if bad:
        raise ValueError(f"{raw!r}: a {sorted(bad)[0]} weekday is not in every month; "
                         f"use 1st to 4th or last")
    mentions_month = bool(words & {"month", "months", "monthly", "quarter", "quarterly"})

    # interval phrases first, so their words are not read as ordinals afterwards
    week_interval = 1
    month_interval = 1
    consumed: set[int] = set()
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        after = tokens[i + 2] if i + 2 < len(tokens) else ""
        if tok in ("fortnightly", "fortnight", "biweekly"):
            week_interval = 2
        elif tok in ("alternate", "alternating"):
            if nxt in ("month", "months"):
                month_interval = 2
            else:
                week_interval = 2
        elif tok in ("quarter", "quarterly"):
            month_interval = 3
        elif tok == "every" and (nxt == "other" or nxt in ("second", "2nd")):
            if after in ("month", "months"):
                month_interval = 2
            elif nxt == "other" or not mentions_month:
                week_interval = 2  # "every second Tuesday" (British): fortnightly
            else:
                continue  # "every second Tuesday of the month": an ordinal
            consumed.add(i + 1)
        elif tok == "every" and (nxt.isdigit() or nxt in _NUMBER_WORDS):
            n = int(nxt) if nxt.isdigit() else _NUMBER_WORDS[nxt]
            if after in ("week", "weeks"):
                week_interval = n
            elif after in ("month", "months"):
                month_interval = n
            consumed.add(i + 1)

    # ordinals belong to the weekday that follows them
    out: list[tuple[str, int, int, int | None]] = []
    pending: list[int] = []
    last_ordinals: list[int] = []
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        if i in consumed:
            continue
        if tok in _ORDINALS:
            pending.append(_ORDINALS[tok])
        elif tok in _WEEKDAYS:
            day = _WEEKDAYS[tok]
            ordinals = pending or (last_ordinals if prev == "and" else [])
            if ordinals:
                out.extend(("monthly", month_interval, day, pos) for pos in ordinals)
                last_ordinals = ordinals
            else:
                out.append(("weekly", week_interval, day, None))
            pending = []
        elif re.fullmatch(r"\d+(st|nd|rd|th)", tok):
            raise ValueError(f"{raw!r}: a date of the month ({tok}) is not supported; "
                             f"give a weekday such as '1st Tuesday'")
    if pending:
        # "Tuesdays, 1st and 3rd": trailing ordinals apply to a single weekly day before them
        weekly = [s for s in out if s[0] == "weekly"]
        if len(weekly) != 1:
            raise ValueError(f"{raw!r}: which weekday do the ordinals belong to?")
        out.remove(weekly[0])
        out.extend(("monthly", month_interval, weekly[0][2], pos) for pos in pending)
    if not out:
        raise ValueError(f"{raw!r} names no weekday (e.g. 'Tuesday' or '1st Tuesday')")
    if mentions_month and all(s[0] == "weekly" for s in out):
        raise ValueError(f"{raw!r}: monthly, but on which one (1st, 2nd, 3rd, 4th or last)?")
    for freq, interval, _, _ in out:
        if not 1 <= interval <= 12:
            raise ValueError(f"{raw!r}: every {interval} {freq[:-2]}s is not supported")
    seen: set[tuple] = set()
    return [s for s in out if not (s in seen or seen.add(s))]


def _split_day_and_time(text: str) -> tuple[str, str | None]:
    """ "Tuesdays 7-9pm" -> ("Tuesdays", "7-9pm"): for sheets with one 'When' column."""
    m = re.search(r"(?:\b(?:from|at)\s+)?(?:\d{1,2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\b\.?)?"
                  r"|\bnoon\b|\bmidday\b)(?:\s*(?:-|\u2013|to|until|till)\s*"
                  r"\d{1,2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\b\.?)?)?\s*$",
                  text, re.IGNORECASE)
    if not m or not m.group(0).strip():
        return text, None
    time_text = m.group(0).strip()
    if re.fullmatch(r"\d+", time_text):
        return text, None
    return text[:m.start()].strip(" ,;@"), time_text


def parse_schedule_phrase(day_text: str, time_text: str | None = None,
                          end_text: str | None = None) -> list[ScheduleRecord]:
    """One `ScheduleRecord` per meeting day; the time may instead end the day text."""
    if time_text is None or not str(time_text).strip():
        if not isinstance(day_text, str):
            raise ValueError("no meeting day given")
        day_text, time_text = _split_day_and_time(day_text)
        if time_text is None:
            raise ValueError(f"no start time given for {day_text.strip()!r}")
    start, duration = parse_time_range(str(time_text), end_text)
    return [
        ScheduleRecord(freq=freq, interval=interval, weekday=day, set_pos=pos,
                       start_time=start, duration_minutes=duration or DEFAULT_DURATION)
        for freq, interval, day, pos in parse_day_phrase(day_text)
    ]


# ----------------------------------------------------------------------------- RFC 5545

_BYDAY = re.compile(r"(?P<n>[+-]?\d{1,2})?(?P<d>MO|TU|WE|TH|FR|SA|SU)")


def rfc_weekday(code: str) -> int:
    """ "TU" -> 1 (0 = Monday)."""
    try:
        return _RFC_DAYS[code.strip().upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"{code!r} is not a weekday code (MO, TU, WE, TH, FR, SA, SU)") from None


def parse_byday(text: str) -> list[tuple[int | None, int]]:
    """RFC 5545 BYDAY: "TU" -> [(None, 1)], "1TU,-1TH" -> [(1, 1), (-1, 3)].

    Ordinals outside 1..4 and -1 are refused: the model has no "5th" or "2nd to last".
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("byday is empty")
    out: list[tuple[int | None, int]] = []
    for part in re.split(r"[,\s]+", text.strip().upper()):
        if not part:
            continue
        m = _BYDAY.fullmatch(part)
        if not m:
            raise ValueError(f"byday {part!r} is not a weekday like TU, 1TU or -1TH")
        pos = int(m["n"]) if m["n"] is not None else None
        if pos is not None and pos not in (1, 2, 3, 4, -1):
            raise ValueError(f"byday {part!r}: only 1st to 4th and last (-1) are supported")
        item = (pos, _RFC_DAYS[m["d"]])
        if item not in out:
            out.append(item)
    return out
