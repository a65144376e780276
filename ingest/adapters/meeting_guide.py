"""The Meeting Guide JSON feed (code4recovery/spec): a JSON array of weekly meetings.

Streamed with ijson, so a 100,000-meeting feed never sits in memory. Mapping decisions:

* ``slug`` is the external id (required by the spec); a second row with the same slug is a
  `RowProblem` ("duplicate id") so the same id is never written twice.
* ``day`` 0 = Sunday .. 6 = Saturday, as a number, a numeric string or a list (one weekly
  `ScheduleRecord` per day). ``time``/``end_time`` are "HH:MM" or "7:30 PM"; an end before
  the start runs past midnight; without ``end_time`` (or with one equal to ``time``, or one
  that would make the meeting last more than 12 hours) the meeting lasts 90 minutes (the
  model's default; the spec's apps assume 60) unless the source sets
  ``options.default_duration``. An unreadable ``end_time`` is a `RowProblem`.
* Format: a *physical* address is ``address`` (street) or a ``formatted_address`` containing
  a digit (a house number or postcode); a whole address in either ("8318 104 St, Edmonton,
  Alberta, T6E 4E8, Canada") is split (`common.split_address`), the feed's own ``city``,
  ``state``, ``postal_code`` and ``country`` winning. Not when ``approximate`` is "yes"
  (online meetings give "Chicago, IL, USA" as an approximate origin). Online = ``conference_url``,
  ``conference_phone`` or the ``ONL`` type (or, without an address, a registration link in the
  notes). Physical + online -> hybrid, physical -> in_person, online -> virtual; neither ->
  `RowProblem`. Coordinates alone do not make a venue (online meetings carry a city's).
* ``TC`` (location temporarily closed): the venue is ignored, so the meeting is virtual if it
  has an online option, otherwise a `RowProblem` (it is not meeting; the runner withdraws it).
* Zone: the meeting's ``timezone``, else the zone at its point (timezonefinder; online
  meetings carry their home town's), else the source's, else that of a one-zone state or
  province. Country: ``country``, else the formatted address's last part, else the state's.
* Join mode: drop in, unless the notes say otherwise (`common.infer_join_mode`:
  "register", "booking essential", "waiting list", "referral" ...). A registration link in the
  notes becomes the join link when there is no conference link. A virtual meeting with no
  conference link or phone cannot be dropped into, so it is "contact". When a join mode needs
  a way to get in touch and the row has none, the listing's ``url``, ``entity_email`` and
  ``entity_phone`` are used.
* ``entity*`` -> organisation, else the source's organisation. ``notes`` -> description;
  ``conference_url_notes``, ``conference_phone_notes`` and ``location_notes`` -> join notes.
* Types: read by `common.MeetingTypes` (the default table: standard codes for audiences,
  languages and accessibility, our loss-group codes, words such as "Stillbirth"), which a
  source overrides code by code in ``options.types`` (``options.default_types = false``
  for only its own). Other 12-step types are ignored.
* ``conference_phone``: the number to dial, and a dial-in string's codes kept as a note
  (`common.split_phone`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from typing import Any

import ijson

from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from ingest.adapters.base import Adapter, Document, DocumentError, FetchMore, RowProblem
from ingest.adapters.common import (
    JSON_TYPES,
    URL,
    check_content_type,
    country_code,
    country_from_name,
    infer_join_mode,
    json_error,
    looks_like_whole_address,
    meeting_types,
    open_json,
    point,
    postcode_text,
    region_country,
    region_zone,
    split_address,
    split_phone,
    text,
    tidy_url,
    zone_at,
)
from ingest.schedule_text import (
    DEFAULT_DURATION,
    duration_between,
    parse_clock,
    parse_day_phrase,
)
from ingest.sources import Source

# Pure, and a feed repeats its few countries and start times on every row (immutable results).
_country_code = functools.lru_cache(maxsize=1024)(country_code)
_parse_clock = functools.lru_cache(maxsize=4096)(parse_clock)


# ----------------------------------------------------------------------------- field helpers


def _types(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [t.strip() for t in value if isinstance(t, str) and t.strip()]


def _days(value: Any) -> list[int]:
    """Meeting Guide days (0 = Sunday) as our weekdays (0 = Monday)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("day is an empty list")
    out: list[int] = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"day {item!r} is not 0 (Sunday) to 6 (Saturday)")
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item.strip())
        if isinstance(item, int):
            if not 0 <= item <= 6:
                raise ValueError(f"day {item!r} is not 0 (Sunday) to 6 (Saturday)")
            weekday = (item + 6) % 7
        elif isinstance(item, str):
            try:
                found = parse_day_phrase(item)
            except ValueError as exc:
                raise ValueError(f"day {item!r} is not 0 (Sunday) to 6 (Saturday)") from exc
            if len(found) != 1 or found[0][0] != "weekly" or found[0][1] != 1:
                raise ValueError(f"day {item!r} is not one weekday")
            weekday = found[0][2]
        else:
            raise ValueError(f"day {item!r} is not 0 (Sunday) to 6 (Saturday)")
        if weekday not in out:
            out.append(weekday)
    return out


def _clock(value: Any, field: str) -> dt.time:
    raw = text(value)
    if raw is None:
        raise ValueError(f"{field} is missing")
    try:
        return _parse_clock(raw)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


def _date(value: Any) -> dt.date | None:
    """The date part of "2024-05-31 14:32:23"; an unreadable `updated` is ignored (optional)."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return None


# ----------------------------------------------------------------------------- one meeting


class _Row:
    """Reads one meeting; `problem` holds the first reason it cannot be used."""

    def __init__(self, row: dict[str, Any], source: Source) -> None:
        self.row = row
        self.source = source

    def get(self, key: str) -> str | None:
        value = self.row.get(key)
        if type(value) is str:  # `text`, inlined: called some 30 times a row
            value = value.strip()
            return value or None
        return None if value is None else text(value)

    def schedules(self) -> list[ScheduleRecord]:
        day, start, end = self.row.get("day"), self.row.get("time"), self.row.get("end_time")
        duration = self.source.options.get("default_duration", DEFAULT_DURATION)
        # a feed repeats a few dozen days and times on every row: each read once (keyed by
        # repr, which tells 1 from 1.0 and True, as the reading does)
        key = (repr(day), repr(start), repr(end), duration)
        try:
            found = _TIMES.get(key)
        except TypeError:  # an unhashable default_duration
            found, key = None, None
        if found is None:
            found = _times(day, start, end, duration)
            if key is not None:
                if len(_TIMES) >= 4096:
                    _TIMES.clear()
                _TIMES[key] = found
        days, start_time, minutes = found
        return [ScheduleRecord(freq="weekly", weekday=d, start_time=start_time,
                               duration_minutes=minutes, timezone=None) for d in days]

    def place(self) -> dict[str, Any] | None:
        """The venue's fields when the meeting has a physical address, else None."""
        if str(self.row.get("approximate") or "").strip().lower() in ("yes", "true", "1"):
            return None
        street, formatted = self.get("address"), self.get("formatted_address")
        if street and not looks_like_whole_address(street):
            return {
                "address_line1": street, "town": self.get("city"),
                "region": self.get("state") or self.get("region"),
                "postcode": postcode_text(self.row.get("postal_code")),
                "country": self.country(),
            }
        whole = street or formatted
        if whole and any(c.isdigit() for c in whole):
            # "8318 104 St, Edmonton, Alberta, T6E 4E8, Canada" in `address` (or the
            # formatted_address): split it; the feed's own columns win where it has them
            found = split_address(whole, _country_code(self.get("country")))
            return {
                "venue_name": found.venue_name,
                "address_line1": found.address_line1 or found.venue_name,
                "address_line2": found.address_line2, "town": self.get("city") or found.town,
                "region": self.get("state") or found.region or self.get("region"),
                "postcode": postcode_text(self.row.get("postal_code")) or found.postcode,
                "country": self.country() or found.country,
            }
        return None

    def country(self) -> str | None:
        given = self.get("country")
        if given is None:
            for key in ("formatted_address", "address"):
                value = self.get(key)
                if value and "," in value:
                    given = country_from_name(value.rsplit(",", 1)[1])
                    if given:
                        break
        if given is None:  # a US state or Canadian province names its country
            found = region_country(self.get("state"))
            given = found[0] if found else None
        return _country_code(given or self.source.country)

    def organisation(self) -> OrganisationRecord | None:
        entity = self.get("entity")
        if entity:
            return OrganisationRecord(
                name=entity, website=self.get("entity_website_url") or self.get("entity_url"),
                email=self.get("entity_email"), phone=self.get("entity_phone"))
        if self.source.organisation:
            return OrganisationRecord(name=self.source.organisation)
        return None


_TIMES: dict[tuple, tuple[list[int], dt.time, Any]] = {}  # see `_Row.schedules`


def _times(day: Any, time: Any, end_time: Any,
           duration: Any) -> tuple[list[int], dt.time, Any]:
    """(weekdays, start, length in minutes) of a meeting's `day`, `time` and `end_time`;
    ValueError says what cannot be read."""
    if day in (None, "", []):
        raise ValueError("day is missing (meetings by appointment are not listed)")
    days = _days(day)
    start = _clock(time, "time")
    if text(end_time) is not None:
        end = _clock(end_time, "end_time")
        # end_time is optional: one equal to the start, or one that would make the
        # meeting last more than MAX_DURATION (an end typed before the start, a copy
        # slip) says nothing usable about the length, so the default length stands
        if end != start:
            with contextlib.suppress(ValueError):
                duration = duration_between(start, end)
    return days, start, duration


def meeting_record(row: Any, n: int, source: Source) -> ListingRecord | RowProblem:
    """One array element as a listing, or the reason it cannot be one."""
    if not isinstance(row, dict):
        return RowProblem(f"row {n}", f"not a JSON object (got {type(row).__name__})")
    r = _Row(row, source)
    slug = r.get("slug")
    ref = slug or f"row {n}"
    name = r.get("name")
    if name is None:
        return RowProblem(ref, "name is missing")
    if slug is None:
        return RowProblem(ref, f"slug (the meeting's id) is missing for {name!r}")
    timezone = r.get("timezone") or source.timezone
    try:
        schedules = r.schedules()
    except ValueError as exc:
        return RowProblem(ref, str(exc))

    types = _types(row.get("types"))
    upper = {t.upper() for t in types}
    conference_url = tidy_url(r.get("conference_url"))
    join_phone, dial_note = split_phone(r.get("conference_phone"))
    notes = r.get("notes")
    place = None if "TC" in upper else r.place()
    online = bool(conference_url or join_phone or "ONL" in upper)
    join_mode = infer_join_mode(notes, r.get("conference_url_notes")) or "drop_in"
    registration_url = None
    if join_mode in ("register", "waitlist", "contact") and notes:
        m = URL.search(notes)
        registration_url = m.group(0).rstrip(".,;:)]") if m else None
    if place and online:
        fmt = "hybrid"
    elif place:
        fmt = "in_person"
    elif online or registration_url:
        fmt = "virtual"
    elif "TC" in upper:
        return RowProblem(ref, "temporarily closed (type TC) and no conference_url or "
                               "conference_phone to meet online", skipped=True)
    else:
        whole = r.get("address") or r.get("formatted_address")
        if whole:
            return RowProblem(ref, f"no address to find the venue by ({whole!r} has no "
                                   f"street number or postcode) and no conference_url or "
                                   f"conference_phone")
        return RowProblem(ref, "no address (address or formatted_address) and no "
                               "conference_url or conference_phone: where does it meet?")

    if fmt == "virtual" and join_mode == "drop_in" and not (conference_url or join_phone):
        join_mode = "contact"  # the link is given out on request
    join_url = conference_url or registration_url
    join_email = r.get("email") or r.get("contact_1_email")
    org = r.organisation()
    if join_mode != "drop_in" and not (join_url or join_phone or join_email):
        # registration-only groups are common; the listing's page or the entity take sign-ups
        join_url = r.get("url")
        join_email = org.email if org else None
        join_phone = join_phone or r.get("contact_1_phone") or (org.phone if org else None)
    join_notes = "\n".join(x for x in (r.get("conference_url_notes"),
                                       r.get("conference_phone_notes"), dial_note,
                                       r.get("location_notes")) if x)
    loss, audiences, languages, access = meeting_types(source).read(types)
    record = ListingRecord(
        source=source.name, external_id=slug, name=name, format=fmt, join_mode=join_mode,
        description=notes or "", organisation=org, join_url=join_url, join_phone=join_phone,
        join_email=join_email, join_notes=join_notes or None, loss_types=loss,
        audiences=audiences, languages=languages or ["en"],
        accessibility_notes="; ".join(access) or None, venue_name=r.get("location"),
        country=r.country(), timezone=timezone, schedules=schedules,
        last_confirmed=_date(row.get("updated")), url=r.get("url"),
    )
    if place:
        record.venue_name = record.venue_name or place.get("venue_name")
        record.address_line1 = place["address_line1"]
        record.address_line2 = place.get("address_line2")
        record.town = place["town"]
        record.region = place["region"]
        record.postcode = place["postcode"]
        record.country = _country_code(place["country"]) or record.country
        record.latitude, record.longitude = point(row.get("latitude"), row.get("longitude"))
    lat, lng = point(row.get("latitude"), row.get("longitude"))
    if not r.get("timezone") and lat is not None:
        # the zone at the meeting's point (a venue, or an online meeting's home town)
        # before the source's: a feed can span several zones
        record.timezone = zone_at(lat, lng) or record.timezone
    if record.timezone is None:
        # a state or province with one zone ("Edmonton, Alberta, T6X 1W5, Canada")
        region = (place or {}).get("region") or r.get("state")
        whole = r.get("address") or r.get("formatted_address")
        if region is None and whole:
            region = split_address(whole).region
        record.timezone = region_zone(record.country, region)
    return record


# ----------------------------------------------------------------------------- the adapter


class MeetingGuideAdapter(Adapter):
    name = "meeting_guide"
    content_types = JSON_TYPES

    def records(self, doc: Document, source: Source,
                fetch_more: FetchMore) -> Iterator[ListingRecord | RowProblem]:
        what = "Meeting Guide feed"
        check_content_type(doc, self.content_types, what)
        first, stream = open_json(doc.body, what)
        if first != "[":
            raise DocumentError(f"{what}: expected a JSON array of meetings, got an object")
        meeting_types(source)  # a wrong options.types fails the run before any row
        seen: dict[str, int] = {}
        items = ijson.items(stream, "item", use_float=True)
        n = 0
        while True:
            try:
                row = next(items)
            except StopIteration:
                break
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                raise json_error(exc, what) from exc
            n += 1
            rec = meeting_record(row, n, source)
            if isinstance(rec, ListingRecord):
                first_row = seen.setdefault(rec.external_id, n)
                if first_row != n:
                    rec = RowProblem(rec.external_id, f"duplicate id {rec.external_id!r} "
                                                      f"(first used by row {first_row})")
            yield rec


adapter = MeetingGuideAdapter()
