"""iCalendar (RFC 5545) calendars, as hospitals and community centres publish them.

Each recurring VEVENT becomes one listing keyed by its UID; its RRULE becomes one
`ScheduleRecord` per weekday (or per weekday-of-the-month). Decisions, for the README:

* **One-off events are skipped.** A VEVENT without an RRULE is a dated session (an open
  day, a memorial service), not a group that meets; it is reported as a `RowProblem`
  ("one-off event, not a recurring group") so it is counted, never silently dropped.
  RDATEs are ignored for the same reason.
* **What a schedule can say.** FREQ=WEEKLY (any INTERVAL, one schedule per BYDAY) and
  FREQ=MONTHLY with BYDAY=1TU / -1TH or BYDAY=TU;BYSETPOS=1. FREQ=MONTHLY;BYDAY=TU (every
  Tuesday) is read as weekly, and so is FREQ=DAILY (every day, or the BYDAY days: Exchange
  writes "every weekday" as FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR, sometimes with spaces).
  Every N days, YEARLY, BYMONTHDAY and the other BY* parts, and the fifth weekday of a
  month, are a `RowProblem` that quotes the rule. All-day events are skipped.
* **Times.** DTSTART's TZID gives the zone (Windows names are mapped by `icalendar`). A
  floating time uses the calendar's X-WR-TIMEZONE, else the source's timezone. A UTC time
  ("Z") or a custom VTIMEZONE with no IANA name is converted to that zone and its local
  wall time is kept from then on, because publishers that export in UTC mean "19:00 here",
  and the model keeps wall-clock time across DST.
* **Dates.** valid_from is the first meeting of each schedule; UNTIL or COUNT gives
  valid_until (COUNT via dateutil, counting EXDATEs as RFC 5545 does). EXDATEs and
  cancelled overrides (RECURRENCE-ID with STATUS:CANCELLED) become cancelled dates in local
  time; a cancelled RANGE=THISANDFUTURE override ends the series. An override that moves a
  meeting to another date or time marks the usual date cancelled (there are no one-off
  sessions to move it to); an override that changes only text is ignored.
* A master with STATUS:CANCELLED is a `RowProblem` ("cancelled series").
* **Where and how.** LOCATION (on one line or several) is split into venue, address, town,
  region, postcode and country (`common.split_address`); GEO, else Apple's
  X-APPLE-STRUCTURED-LOCATION ("geo:lat,lng"), gives the point, and the point gives the
  zone of a custom TZID when nothing else does; the country is the location's, else the
  source's. A video link (CONFERENCE,
  X-GOOGLE-CONFERENCE, or a Zoom/Teams/Meet/... link in DESCRIPTION, URL or LOCATION)
  with a venue makes the group hybrid, without one virtual (so does a LOCATION such as
  "Online" or "Zoom"). X-GROUP-FORMAT and X-JOIN override the inferred format and way to
  join (an X-JOIN that is a link is taken as the join link); otherwise the way to join is
  read from DESCRIPTION ("no need to book" -> drop in, "please register" -> register, with
  URL as the link; ORGANIZER's or DESCRIPTION's email as contact). CATEGORIES that name a
  loss type or an audience are kept; LANGUAGE on SUMMARY gives the language; LAST-MODIFIED
  gives last_confirmed (DTSTAMP is not used: it changes on every export).
* An event without a UID gets a stable id made from its SUMMARY and DTSTART; a second
  series with a UID already used is a RowProblem ("duplicate id"). A value that
  cannot be read inside one event is a RowProblem for that event, not the calendar.
* **Bytes.** The declared charset, else UTF-8, else Windows-1252 (old Outlook exports).
  text/calendar, application/ics and also text/plain and application/octet-stream (how
  many servers send .ics files) are read; the parser then decides. Text that is not a
  calendar (an HTML error page), or an unfinished one, is a `DocumentError`; so is a
  calendar with no events at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du
from icalendar import Calendar
from icalendar.prop import vBroken, vRecur
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from finder import timezones, vocab
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from ingest.adapters.base import (
    Adapter,
    Document,
    DocumentError,
    FetchMore,
    NotAGroup,
    RowProblem,
    SkipRow,
    guarded_event,
)
from ingest.adapters.common import (
    ICAL_TYPES,
    MAX_COUNT,
    URL,
    Place,
    check_content_type,
    decode_text,
    first_email,
    infer_join_mode,
    is_online_place,
    matches_position,
    split_address,
    video_link,
    zone_at,
)
from ingest.sources import Source

split_location = split_address  # a LOCATION is an address written on one or more lines

_RFC_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_SUPPORTED_PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYSETPOS", "COUNT", "UNTIL", "WKST"}
_SET_POSITIONS = (1, 2, 3, 4, -1)
_ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last",
                  -2: "second to last", -3: "third to last", -4: "fourth to last",
                  -5: "fifth to last"}
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_UTC_NAMES = {"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z", "Zulu", "Etc/Zulu", "Universal",
              "Etc/Universal", "Etc/UCT", "UCT"}

# ---------------------------------------------------------------------- the adapter


@dataclass
class _Override:
    date: dt.date | dt.datetime
    cancelled: bool
    this_and_future: bool
    moved: bool


@dataclass
class _Zone:
    """The zone DTSTART's wall time is read in; the event's other times are read there too."""

    name: str | None

    def local(self, value: dt.date | dt.datetime) -> dt.date | dt.datetime:
        if isinstance(value, dt.datetime) and value.tzinfo is not None and self.name:
            return value.astimezone(ZoneInfo(self.name)).replace(tzinfo=None)
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None)
        return value

    def local_date(self, value: dt.date | dt.datetime) -> dt.date:
        v = self.local(value)
        return v.date() if isinstance(v, dt.datetime) else v




@dataclass
class _Spec:
    freq: str
    weekday: int
    set_pos: int | None
    dates: list[dt.date] = field(default_factory=list)


class ICalendarAdapter(Adapter):
    name = "icalendar"
    content_types = ICAL_TYPES

    def records(self, doc: Document, source: Source,
                fetch_more: FetchMore) -> Iterator[ListingRecord | RowProblem]:
        check_content_type(doc, self.content_types, "a calendar")
        text = decode_text(doc.body.read(), doc.encoding, "cp1252")
        try:
            calendars = Calendar.from_ical(text, multiple=True)
        except (ValueError, IndexError, KeyError) as exc:
            raise DocumentError(f"not a valid iCalendar file: {exc}") from exc
        if not calendars or any(c.name != "VCALENDAR" for c in calendars):
            raise DocumentError("not a valid iCalendar file: no VCALENDAR")
        events: list[tuple[Any, str | None]] = []
        for cal in calendars:
            default = _default_zone(cal, source)
            events.extend((ev, default) for ev in cal.walk("VEVENT"))
        if not events:
            raise DocumentError("the calendar has no events")

        overrides: dict[str, list[_Override]] = defaultdict(list)
        masters: list[tuple[int, Any, str | None]] = []
        for n, (ev, default) in enumerate(events, start=1):
            if ev.get("RECURRENCE-ID") is not None:
                uid = _text(ev.get("UID"))
                override = _override(ev)
                if uid and override is not None:
                    overrides[uid].append(override)
                continue
            masters.append((n, ev, default))
        master_uids = {_text(ev.get("UID")) for _, ev, _ in masters}
        for uid in sorted(set(overrides) - master_uids):
            yield RowProblem(uid, "a changed or cancelled occurrence (RECURRENCE-ID) whose "
                                  "recurring event is not in the calendar", skipped=True)

        seen: dict[str, int] = {}
        for n, ev, default in masters:
            ref = _text(ev.get("UID")) or f"event {n}"
            build = partial(self._listing, ev, source, default, overrides.get(ref, []), n)
            yield guarded_event(ref, n, build, seen)

    def _listing(self, ev: Any, source: Source, default_zone: str | None,
                 overrides: list[_Override], n: int) -> ListingRecord:
        summary = _text(ev.get("SUMMARY"))
        rules = ev.get("RRULE")
        rules = rules if isinstance(rules, list) else [rules] if rules is not None else []
        if (_text(ev.get("STATUS")) or "").upper() == "CANCELLED":
            raise NotAGroup("cancelled series (STATUS:CANCELLED)")
        if not rules:
            raise NotAGroup("one-off event, not a recurring group")
        start_prop = ev.get("DTSTART")
        if start_prop is None:
            raise SkipRow("no DTSTART")
        if isinstance(start_prop, vBroken):
            raise SkipRow(f"DTSTART {str(start_prop)!r} is not a date and time")
        lat, lon = _point(ev)
        if default_zone is None and lat is not None:
            default_zone = zone_at(lat, lon)  # a custom TZID is read in the venue's zone
        zone, start = _zone_and_start(start_prop, default_zone)
        duration = _duration(ev, start_prop.dt)
        exdates = _exdates(ev, zone)
        stop: dt.date | None = None  # a cancelled THISANDFUTURE override ends the series
        for o in overrides:
            if o.cancelled and o.this_and_future:
                day = zone.local_date(o.date)
                stop = day if stop is None else min(stop, day)
            elif o.cancelled or o.moved:
                exdates.add(zone.local_date(o.date))

        schedules: list[ScheduleRecord] = []
        for rule in rules:
            if isinstance(rule, vBroken):
                rule = _repaired_rule(rule)
            for s in _schedules(rule, start, zone, exdates, stop, duration):
                if s not in schedules:
                    schedules.append(s)
        if not schedules:
            raise SkipRow("the series has no meetings (it ends before its first one)")

        uid = _text(ev.get("UID"))
        if not uid:
            basis = f"{summary}|{start_prop.to_ical().decode()}"
            uid = "nouid-" + hashlib.sha256(basis.encode()).hexdigest()[:16]
        description = _text(ev.get("DESCRIPTION")) or ""
        location = _text(ev.get("LOCATION")) or ""
        url = _text(ev.get("URL"))
        link = _conference(ev) or video_link(description, url, location)
        online = bool(link) or bool(location and is_online_place(location))
        venue = location if location and not is_online_place(location) else ""
        fmt_given = _x_text(ev, "X-GROUP-FORMAT")
        fmt = fmt_given or ("hybrid" if online and venue else "virtual" if online
                            else "in_person" if venue else source.format or "in_person")
        organizer = ev.get("ORGANIZER")
        email = None
        if organizer is not None and str(organizer).lower().startswith("mailto:"):
            email = str(organizer)[len("mailto:"):]
        email = email or first_email(description)
        x_join = _x_text(ev, "X-JOIN")
        if x_join and URL.fullmatch(x_join):  # some publishers put the join link there
            link, x_join = link or x_join, None
        join_mode = (x_join or source.options.get("join_mode")
                     or infer_join_mode(description, reachable=bool(link or url or email))
                     or "drop_in")
        join_url = link or (url if join_mode == "register" else None)
        place = split_location(venue, source.country) if venue else Place(country=source.country)
        loss_types, audiences = _categories(ev)
        lang = getattr(ev.get("SUMMARY"), "params", {}).get("LANGUAGE")
        modified = ev.get("LAST-MODIFIED")
        last_confirmed = None
        if modified is not None and not isinstance(modified, vBroken):
            last_confirmed = zone.local_date(modified.dt)
        return ListingRecord(
            source=source.name,
            external_id=uid,
            name=summary or "",
            format=fmt,
            join_mode=join_mode,
            description=description,
            organisation=OrganisationRecord(source.organisation) if source.organisation else None,
            join_url=join_url,
            join_email=email,
            loss_types=loss_types,
            audiences=audiences,
            languages=[lang.split("-")[0].lower()] if lang else ["en"],
            venue_name=place.venue_name,
            address_line1=place.address_line1,
            town=place.town,
            region=place.region,
            postcode=place.postcode,
            country=place.country or source.country,
            latitude=lat,
            longitude=lon,
            timezone=zone.name,
            schedules=schedules,
            last_confirmed=last_confirmed,
            url=url,
        )


# ---------------------------------------------------------------------- event helpers

def _repaired_rule(rule: vBroken) -> Any:
    """An RRULE icalendar could not read, read again without its spaces: Exchange writes
    "BYDAY=MO, TU, WE, TH, FR". SkipRow when it still cannot be read."""
    try:
        return vRecur.from_ical(re.sub(r"\s+", "", str(rule)))
    except (ValueError, TypeError, KeyError) as exc:
        raise SkipRow(f"recurrence rule {str(rule)!r} cannot be read") from exc


_GEO_URI = re.compile(r"geo:\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)


def _point(ev: Any) -> tuple[float | None, float | None]:
    """The venue's point from GEO, else from Apple's X-APPLE-STRUCTURED-LOCATION
    ("geo:47.37,8.54"); (None, None) when neither is given."""
    geo = ev.get("GEO")
    if geo is not None and not isinstance(geo, vBroken):
        return float(geo.latitude), float(geo.longitude)
    apple = ev.get("X-APPLE-STRUCTURED-LOCATION")
    for prop in apple if isinstance(apple, list) else [apple] if apple is not None else []:
        m = _GEO_URI.search(str(prop))
        if m:
            return float(m.group(1)), float(m.group(2))
    return None, None



def _text(value: Any) -> str | None:
    if value is None or isinstance(value, vBroken):
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value).strip()
    return text or None


def _x_text(ev: Any, name: str) -> str | None:
    """An X- property's text; icalendar leaves unknown properties escaped."""
    raw = _text(ev.get(name))
    if raw is None:
        return None
    return re.sub(r"\\([,;\\nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), raw)


def _conference(ev: Any) -> str | None:
    for key in ("CONFERENCE", "X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL"):
        values = ev.get(key)
        for v in values if isinstance(values, list) else [values]:
            text = _text(v)
            if text and text.lower().startswith(("http://", "https://")):
                return text
    return None


def _categories(ev: Any) -> tuple[list[str], list[str]]:
    """CATEGORIES that name a loss type or an audience; other tags say nothing we use."""
    props = ev.get("CATEGORIES")
    loss: list[str] = []
    audience: list[str] = []
    for prop in props if isinstance(props, list) else [props] if props is not None else []:
        if isinstance(prop, vBroken):
            continue
        for cat in getattr(prop, "cats", []):
            text = str(cat).strip()
            if vocab.LOSS.lookup(text):
                loss.append(text)
            elif vocab.AUDIENCE.lookup(text):
                audience.append(text)
    return loss, audience


def _default_zone(cal: Any, source: Source) -> str | None:
    """X-WR-TIMEZONE (the publisher's own word) if it is an IANA name, else the source's."""
    name = _text(cal.get("X-WR-TIMEZONE"))
    if name and timezones.is_valid(name):
        return name
    return source.timezone


def _zone_and_start(prop: Any, default: str | None) -> tuple[_Zone, dt.datetime]:
    value = prop.dt
    tzid = prop.params.get("TZID")
    if not isinstance(value, dt.datetime):
        raise NotAGroup("an all-day event has no meeting time")
    if value.tzinfo is None:
        if tzid:
            named = _iana(tzid)
            if named and named not in _UTC_NAMES:
                return _Zone(named), value  # "/mozilla.org/.../Europe/London" and the like
            raise SkipRow(f"DTSTART TZID {tzid!r} is an unknown timezone (no VTIMEZONE and "
                          f"not an IANA name)")
        return _Zone(default), value
    key = getattr(value.tzinfo, "key", None) or _iana(tzid)
    if key and key not in _UTC_NAMES:
        return _Zone(key), value.replace(tzinfo=None)
    if not default:
        what = "UTC" if key else f"the custom timezone {tzid!r}"
        raise SkipRow(f"DTSTART is in {what} and the source has no timezone to show it in "
                      f"(set timezone in the source, or X-WR-TIMEZONE)")
    zone = _Zone(default)
    local = zone.local(value)
    assert isinstance(local, dt.datetime)
    return zone, local


def _iana(tzid: str | None) -> str | None:
    """The IANA name for a TZID that came with its own VTIMEZONE ("GMT Standard Time")."""
    if not tzid:
        return None
    if tzid in WINDOWS_TO_OLSON:
        return WINDOWS_TO_OLSON[tzid]
    # "/mozilla.org/20050126_1/Europe/London", "/Europe/London": a global TZID whose end
    # is the IANA name (RFC 5545 3.2.19)
    parts = [p for p in tzid.strip().split("/") if p]
    for n in (3, 2, 1):
        name = "/".join(parts[-n:])
        if len(parts) >= n and ("/" in name or name == "UTC") and timezones.is_valid(name):
            return name
    return None


def _duration(ev: Any, start: dt.datetime) -> int:
    """Minutes from DURATION or DTEND; RFC 5545 makes a missing end zero-length, which no
    group is, so the model's default (90) stands in."""
    span: dt.timedelta | None = None
    prop = ev.get("DURATION")
    if prop is not None and not isinstance(prop, vBroken) and isinstance(prop.dt, dt.timedelta):
        span = prop.dt
    else:
        end = ev.get("DTEND")
        if end is not None and not isinstance(end, vBroken) and isinstance(end.dt, dt.datetime):
            end_dt = end.dt
            if (end_dt.tzinfo is None) == (start.tzinfo is None):
                span = end_dt - start
    if span is None or span <= dt.timedelta(0):
        return ScheduleRecord.duration_minutes
    return round(span.total_seconds() / 60)


def _exdates(ev: Any, zone: _Zone) -> set[dt.date]:
    props = ev.get("EXDATE")
    out: set[dt.date] = set()
    for prop in props if isinstance(props, list) else [props] if props is not None else []:
        if isinstance(prop, vBroken):
            raise SkipRow(f"EXDATE {str(prop)!r} cannot be read")
        for d in prop.dts:
            out.add(zone.local_date(d.dt))
    return out


def _override(ev: Any) -> _Override | None:
    rid = ev.get("RECURRENCE-ID")
    if isinstance(rid, vBroken):
        return None
    start = ev.get("DTSTART")
    moved = False
    if start is not None and not isinstance(start, vBroken):
        moved = start.dt != rid.dt
    return _Override(
        date=rid.dt,
        cancelled=(_text(ev.get("STATUS")) or "").upper() == "CANCELLED",
        this_and_future=str(rid.params.get("RANGE", "")).upper() == "THISANDFUTURE",
        moved=moved,
    )


# ---------------------------------------------------------------------- RRULE -> schedules


def _rule_text(rule: Any) -> str:
    return rule.to_ical().decode()


def _schedules(rule: Any, start: dt.datetime, zone: _Zone, exdates: set[dt.date],
               stop: dt.date | None, duration: int) -> list[ScheduleRecord]:
    text = _rule_text(rule)
    parts = {str(k).upper(): v for k, v in rule.items()}
    freq = str(parts["FREQ"][0]).upper() if parts.get("FREQ") else ""
    if freq == "DAILY":
        # "every day" and Exchange's "every weekday" (FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR) are
        # weekly meetings on those days; COUNT counts the same meetings either way
        if int(parts.get("INTERVAL", [1])[0]) != 1:
            raise SkipRow(f"recurrence rule {text} repeats every few days: only weekly, "
                          f"fortnightly or monthly meetings on a weekday can be listed")
        if parts.get("BYSETPOS") or any(_BYDAY.fullmatch(str(d).upper().strip()) and
                                        _BYDAY.fullmatch(str(d).upper().strip()).group(1)
                                        for d in parts.get("BYDAY", [])):
            raise SkipRow(f"recurrence rule {text}: a daily rule cannot pick the nth weekday")
        freq = "WEEKLY"
        parts["BYDAY"] = list(parts.get("BYDAY") or _RFC_DAYS)
    if freq not in ("WEEKLY", "MONTHLY"):
        raise SkipRow(f"recurrence rule {text} repeats {freq.lower() or 'without a FREQ'}: only "
                    f"weekly, fortnightly or monthly meetings on a weekday can be listed")
    extra = sorted(set(parts) - _SUPPORTED_PARTS)
    if extra:
        raise SkipRow(f"recurrence rule {text} uses {', '.join(extra)}, which a weekly or "
                    f"monthly meeting on a weekday cannot express")
    interval = int(parts.get("INTERVAL", [1])[0])
    if interval < 1:
        raise SkipRow(f"recurrence rule {text}: INTERVAL must be 1 or more")
    days: list[tuple[int | None, int]] = []
    byday = [d for raw in parts.get("BYDAY", []) for d in re.split(r"[\s,]+", str(raw)) if d]
    for raw in byday:
        m = _BYDAY.fullmatch(str(raw).upper().strip())
        if not m:
            raise SkipRow(f"recurrence rule {text}: cannot read BYDAY {raw!r}")
        days.append((int(m.group(1)) if m.group(1) else None, _RFC_DAYS.index(m.group(2))))
    set_pos = [int(p) for p in parts.get("BYSETPOS", [])]

    specs: list[_Spec] = []
    if freq == "WEEKLY":
        if set_pos or any(n is not None for n, _ in days):
            raise SkipRow(f"recurrence rule {text}: a weekly rule cannot pick the nth weekday")
        for _, wd in days or [(None, start.weekday())]:
            specs.append(_Spec("weekly", wd, None))
    else:
        if not days:
            raise SkipRow(f"recurrence rule {text} repeats on a date of the month (day "
                        f"{start.day}), not on a weekday such as the first Tuesday")
        ordinals = [n for n, _ in days]
        if set_pos:
            if len(days) != 1 or ordinals[0] is not None:
                raise SkipRow(f"recurrence rule {text}: BYSETPOS over several weekdays cannot "
                            f"be expressed")
            specs = [_Spec("monthly", days[0][1], p) for p in set_pos]
        elif all(n is not None for n in ordinals):
            specs = [_Spec("monthly", wd, n) for n, wd in days]
        elif all(n is None for n in ordinals) and interval == 1:
            specs = [_Spec("weekly", wd, None) for _, wd in days]  # every Tuesday of the month
        else:
            raise SkipRow(f"recurrence rule {text}: every weekday of every {interval} months "
                        f"cannot be expressed")
        for s in specs:
            if s.freq == "monthly" and s.set_pos not in _SET_POSITIONS:
                word = _ORDINAL_WORDS.get(s.set_pos or 0, f"number {s.set_pos}")
                raise SkipRow(f"recurrence rule {text}: the {word} {_DAY_NAMES[s.weekday]} of "
                            f"the month is not supported (first to fourth, or last)")
    unique: list[_Spec] = []
    for s in specs:
        if not any((u.freq, u.weekday, u.set_pos) == (s.freq, s.weekday, s.set_pos)
                   for u in unique):
            unique.append(s)
    specs = unique

    wkst = _RFC_DAYS.index(str(parts["WKST"][0]).upper()) if parts.get("WKST") else 0
    freq_du = du.WEEKLY if specs[0].freq == "weekly" else du.MONTHLY

    def rule_for(subset: list[_Spec], count: int | None = None) -> du.rrule:
        return du.rrule(freq_du, dtstart=start, interval=interval, wkst=wkst, count=count,
                        byweekday=[du.weekday(s.weekday, s.set_pos) for s in subset])

    until: dt.date | None = None
    count = int(parts["COUNT"][0]) if parts.get("COUNT") else None
    if count is not None and count <= MAX_COUNT:
        for occurrence in rule_for(specs, count):
            for s in specs:
                if matches_position(s.weekday, s.set_pos, occurrence.date()):
                    s.dates.append(occurrence.date())
                    break
    else:
        if parts.get("UNTIL"):
            until = _until_date(parts["UNTIL"][0], start, zone)
        for s in specs:
            first = next(iter(rule_for([s])), None)
            if first is not None:
                s.dates = [first.date()]

    out = []
    for s in specs:
        if not s.dates:
            continue
        valid_from = s.dates[0]
        valid_until = s.dates[-1] if count is not None and count <= MAX_COUNT else until
        if stop is not None:
            last = stop - dt.timedelta(days=1)
            valid_until = last if valid_until is None else min(valid_until, last)
        if valid_until is not None and valid_until < valid_from:
            continue
        out.append(ScheduleRecord(
            freq=s.freq,
            weekday=s.weekday,
            start_time=start.time().replace(second=0, microsecond=0),
            interval=interval,
            set_pos=s.set_pos,
            duration_minutes=duration,
            timezone=zone.name,
            valid_from=valid_from,
            valid_until=valid_until,
            cancelled_dates=sorted(d for d in exdates if matches_position(s.weekday, s.set_pos, d)),
        ))
    return out


def _until_date(value: dt.date | dt.datetime, start: dt.datetime, zone: _Zone) -> dt.date:
    """The last local date with a meeting: UNTIL is inclusive, so a meeting on UNTIL's own
    date counts only if it starts by UNTIL's time."""
    local = zone.local(value)
    if not isinstance(local, dt.datetime):
        return local
    if start.time() <= local.time():
        return local.date()
    return local.date() - dt.timedelta(days=1)


adapter = ICalendarAdapter()

