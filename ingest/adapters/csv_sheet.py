"""CSV and spreadsheet exports, with column names that differ from sheet to sheet.

``source.options["columns"]`` maps our field names to the sheet's headers, e.g.
``{"name": "Group Name", "day": "Day", "time": "Start", "postcode": "Post Code"}``; fields it
does not map are found by common header names (`SYNONYMS`), compared without case, accents or
punctuation. The header is the first row (up to `HEADER_SEARCH` rows are tried, so a title row
above it is fine) that has a name and a day column.

Mapping decisions:

* Bytes are decoded with the declared charset, else UTF-8 (a byte-order mark is dropped), else
  cp1252 (logged as a warning, since Excel on Windows writes it); UTF-16 with a BOM is read
  too. The delimiter is whichever of ``,`` ``;`` tab ``|`` the header row uses most.
* Day and time are words (`ingest.schedule_text`): "1st & 3rd Tuesday", "every other
  Wednesday", "7-9pm"; an optional frequency column is read in front of the day ("Monthly" +
  "1st Tuesday"), an end-time column gives the duration, and the time may instead end the day
  cell ("Tuesdays 7-9pm"). Start/end date columns bound every schedule (ISO dates, or
  day/month/year, month/day/year for US sources).
* Format: the format column, else a venue (address, postcode or coordinates) -> in_person, or
  hybrid when the join link is a video-call link; only a link -> virtual; else the source's
  default format. Join mode: the column when it holds a code ("drop in", "register");
  a sentence there ("Just turn up", "Email first") is read for what it says and kept as a
  join note; else read from the join notes and description ("register", "referral" ...),
  else drop in.
* The Meeting Guide import template's headers are known (Address, City, State, Postal
  Code, Types, Conference URL, Conference Phone, Location Notes, Slug): a whole address in
  the address cell is split (`common.split_address`), Types are read like a Meeting Guide
  feed's (`common.MeetingTypes`, per-source ``options.types``), and a dial-in phone
  ("16699006833,,802496652") gives the number with the codes kept as a note.
* External id: the id column, else a stable hash of (name, postcode, day text), so re-running
  an unchanged sheet gives the same ids. A repeated id is a `RowProblem` ("duplicate id").
* Entirely blank rows are skipped; a row with more cells than the header, an empty name, or a
  day/time or date that cannot be read is a `RowProblem` naming the column and the value.
  Refs are "row N" as the spreadsheet numbers them (the header is usually row 1).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from typing import Any

from finder.listings.records import ListingRecord, OrganisationRecord
from finder.vocab import fold
from ingest.adapters.base import Adapter, Document, DocumentError, FetchMore, RowProblem
from ingest.adapters.common import (
    CSV_TYPES,
    check_content_type,
    country_code,
    infer_join_mode,
    join_mode_cell,
    looks_like_whole_address,
    meeting_types,
    point,
    region_country,
    split_address,
    split_phone,
    tidy_url,
    zone_at,
)
from ingest.schedule_text import parse_schedule_phrase
from ingest.sources import Source

log = logging.getLogger(__name__)

HEADER_SEARCH = 10
DELIMITERS = (",", ";", "\t", "|")

# our field -> header names publishers use (compared folded: "Post Code" == "post-code")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "ref", "reference", "group id", "listing id", "uid", "slug"),
    "name": ("name", "group name", "group", "title", "meeting name", "group title"),
    "description": ("description", "about", "details", "summary", "notes",
                    "about the group"),
    "frequency": ("frequency", "how often", "recurrence", "repeats"),
    "day": ("day", "days", "day of week", "weekday", "when", "meets", "meeting day",
            "day s", "schedule"),
    "time": ("time", "start", "start time", "starts", "time from", "meeting time", "from"),
    "end_time": ("end", "end time", "finish", "finish time", "ends", "time to", "until"),
    "valid_from": ("start date", "first meeting", "first date", "starting from"),
    "valid_until": ("end date", "last meeting", "last date", "until date"),
    "format": ("format", "meeting format", "in person or online", "delivery", "type"),
    "join_mode": ("how to join", "joining", "join", "booking", "registration"),
    "join_url": ("join link", "join url", "online link", "zoom link", "meeting link", "link",
                 "registration link", "booking link", "video", "video link", "zoom"),
    # the Meeting Guide template's: how to join online, before a contact phone or link
    "conference_url": ("conference url",),
    "conference_phone": ("conference phone", "dial in", "dial in number"),
    "join_email": ("email", "contact email", "e mail", "email address"),
    "join_phone": ("phone", "telephone", "tel", "contact number", "phone number",
                   "contact phone"),
    "join_notes": ("joining instructions", "join notes", "how to find us", "location notes",
                   "conference url notes", "conference phone notes"),
    "types": ("types", "meeting types", "type codes", "categories"),
    "loss_types": ("loss type", "loss types", "type of loss", "loss"),
    "audiences": ("audience", "who for", "who is it for", "suitable for", "for"),
    "languages": ("language", "languages"),
    "cost": ("cost", "price", "fee", "fees", "charge"),
    "facilitation": ("facilitation", "led by", "facilitated by"),
    "accessibility_notes": ("accessibility", "access", "access notes", "accessibility notes"),
    "venue_name": ("venue", "venue name", "location", "place", "building"),
    "address_line1": ("address", "address 1", "address line 1", "street", "street address",
                      "address1"),
    "address_line2": ("address 2", "address line 2", "address2"),
    "town": ("town", "city", "town city", "locality"),
    "region": ("region", "county", "state", "area"),
    "postcode": ("postcode", "post code", "postal code", "zip", "zip code", "zipcode",
                 "eircode"),
    "country": ("country",),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lng", "lon", "long"),
    "timezone": ("timezone", "time zone", "tz"),
    "service_countries": ("serves", "countries served", "service countries"),
    "url": ("url", "website", "web page", "more info", "web"),
    "organisation": ("organisation", "organization", "charity", "provider", "run by",
                     "hosted by"),
    "organisation_website": ("organisation website", "organization website"),
    "organisation_email": ("organisation email", "organization email"),
    "organisation_phone": ("organisation phone", "organization phone"),
    "last_confirmed": ("last confirmed", "last updated", "updated", "confirmed",
                       "last checked", "last contact"),
}
LIST_FIELDS = ("loss_types", "audiences", "languages", "service_countries")
_LIST_SPLIT = re.compile(r"\s*[,;/|&\n]\s*")
_VIDEO = re.compile(r"zoom\.us|teams\.microsoft|teams\.live|meet\.google|whereby\.com|webex|"
                    r"jit\.si|gotomeeting|skype", re.IGNORECASE)
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})")
_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%d %B, %Y", "%B %d, %Y")


# ----------------------------------------------------------------------------- decoding


def decode(data: bytes, declared: str | None, where: str = "CSV") -> tuple[str, str]:
    """(text, encoding used): the declared charset, else UTF-8, else cp1252 (then latin-1)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    tried: list[str] = []
    candidates = ([declared] if declared else []) + ["utf-8-sig", "cp1252", "latin-1"]
    for enc in candidates:
        name = "utf-8-sig" if enc.lower().replace("_", "-") in ("utf-8", "utf8") else enc
        try:
            text = data.decode(name)
        except (LookupError, UnicodeDecodeError):
            tried.append(enc)
            continue
        if tried:
            log.warning("%s: not valid %s; read as %s", where, " or ".join(tried), name)
        return text.lstrip("\ufeff"), name
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _delimiter(lines: list[str]) -> str:
    """The separator the header uses most (checked over the first lines, for title rows)."""
    counts = {d: max((ln.count(d) for ln in lines), default=0) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# ----------------------------------------------------------------------------- columns


def resolve_columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """Our field -> column index; a mapped header that is missing is a DocumentError."""
    folded = [fold(h) for h in header]
    out: dict[str, int] = {}
    for field, wanted in mapping.items():
        if field not in SYNONYMS:
            raise DocumentError(f"options.columns: unknown field {field!r} (known: "
                                f"{', '.join(SYNONYMS)})")
        if not isinstance(wanted, str) or fold(wanted) not in folded:
            raise DocumentError(f"options.columns.{field}: header {wanted!r} is not in the "
                                f"sheet (headers: {', '.join(repr(h) for h in header)})")
        out[field] = folded.index(fold(wanted))
    used = set(out.values())
    for field, names in SYNONYMS.items():
        if field in out:
            continue
        for name in names:
            key = fold(name)
            idx = next((i for i, f in enumerate(folded) if f == key and i not in used), None)
            if idx is not None:
                out[field] = idx
                used.add(idx)
                break
    return out


def _date(value: str, us: bool) -> dt.date:
    value = value.strip()
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        pass
    m = _DMY.fullmatch(value)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        y += 2000 if y < 100 else 0
        day, month = (b, a) if us else (a, b)
        try:
            return dt.date(y, month, day)
        except ValueError:
            pass
    for f in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.replace("  ", " "), f).date()
        except ValueError:
            continue
    order = "MM/DD/YYYY" if us else "DD/MM/YYYY"
    raise ValueError(f"{value!r} is not a date (use 2026-01-31 or {order})")


def stable_id(name: str, postcode: str | None, day: str | None) -> str:
    """The same group in the next export gets the same id, without an id column."""
    key = "|".join(fold(x or "") for x in (name, postcode, day))
    return "csv-" + hashlib.sha256(key.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- one row


def row_record(cells: list[str], line: int, cols: dict[str, int], header: list[str],
               source: Source) -> ListingRecord | RowProblem:
    """One sheet row as a listing, or the reason it cannot be one."""

    def get(field: str) -> str | None:
        i = cols.get(field)
        if i is None or i >= len(cells):
            return None
        value = cells[i].strip()
        return value or None

    def col(field: str) -> str:
        return f"column {header[cols[field]]!r}" if field in cols else field

    ref = get("id") or f"row {line}"
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
        return RowProblem(ref, f"the row has {len(cells)} cells but the header has "
                               f"{len(header)} (an unquoted comma?)")
    name = get("name")
    if name is None:
        return RowProblem(ref, f"name ({col('name')}) is empty")
    day = get("day")
    if day is None:
        return RowProblem(ref, f"day ({col('day')}) is empty for {name!r}")
    day_text = f"{get('frequency')} {day}" if get("frequency") else day
    try:
        schedules = parse_schedule_phrase(day_text, get("time"), get("end_time"))
    except ValueError as exc:
        shown = ", ".join(f"{col(f)} = {get(f)!r}" for f in ("frequency", "day", "time",
                                                             "end_time") if get(f))
        return RowProblem(ref, f"schedule ({shown}): {exc}")
    us = country_code(get("country") or source.country) == "US"
    for field in ("valid_from", "valid_until"):
        value = get(field)
        if value:
            try:
                when = _date(value, us)
            except ValueError as exc:
                return RowProblem(ref, f"{field} ({col(field)}): {exc}")
            for s in schedules:
                setattr(s, field, when)

    join_url = tidy_url(get("conference_url") or get("join_url"))
    place = _place(get, source)
    has_place = bool(place["address_line1"] or place["postcode"]
                     or (get("latitude") and get("longitude")))
    fmt = get("format")
    if fmt is None:
        if has_place:
            fmt = "hybrid" if join_url and _VIDEO.search(join_url) else "in_person"
        elif join_url:
            fmt = "virtual"
        elif source.format:
            fmt = source.format
        else:
            return RowProblem(ref, "no format column, and neither an address/postcode nor a "
                                   "join link to tell in person from online")
    join_phone, dial_note = split_phone(get("conference_phone") or get("join_phone"))
    join_mode, how_to_join = join_mode_cell(get("join_mode"))
    join_notes = "\n".join(t for t in (how_to_join, get("join_notes"), dial_note) if t) or None
    description = get("description") or ""
    join_mode = join_mode or infer_join_mode(get("join_notes"), description) or "drop_in"
    loss, audiences, languages, access = meeting_types(source).read(
        [t for t in _LIST_SPLIT.split(get("types") or "") if t])

    org_name = get("organisation") or source.organisation
    org = None
    if org_name:
        org = OrganisationRecord(name=org_name, website=get("organisation_website"),
                                 email=get("organisation_email"),
                                 phone=get("organisation_phone"))
    confirmed = None
    if get("last_confirmed"):
        try:
            confirmed = _date(get("last_confirmed") or "", us)
        except ValueError:
            confirmed = None  # optional metadata: not a reason to reject the group
    latitude, longitude = point(get("latitude"), get("longitude"))
    timezone = get("timezone") or (zone_at(latitude, longitude) if latitude else None)
    record = ListingRecord(
        source=source.name, external_id=get("id") or stable_id(name, get("postcode"), day_text),
        name=name, format=fmt, join_mode=join_mode, description=description,
        organisation=org, join_url=join_url, join_phone=join_phone,
        join_email=get("join_email"), join_notes=join_notes,
        accessibility_notes="; ".join(t for t in (get("accessibility_notes"), *access) if t)
        or None,
        venue_name=get("venue_name") or place["venue_name"],
        address_line1=place["address_line1"], address_line2=place["address_line2"],
        town=place["town"], region=place["region"], postcode=place["postcode"],
        country=place["country"], latitude=latitude, longitude=longitude,  # type: ignore[arg-type]
        timezone=timezone or source.timezone, schedules=schedules,
        last_confirmed=confirmed, url=get("url"),
        loss_types=loss, audiences=audiences, languages=languages or ["en"],
    )
    for field in LIST_FIELDS:
        value = get(field)
        if value:
            setattr(record, field, [v for v in _LIST_SPLIT.split(value) if v])
    for field in ("cost", "facilitation"):
        if get(field):
            setattr(record, field, get(field))
    return record


def _place(get: Any, source: Source) -> dict[str, str | None]:
    """The venue's address fields. A whole address in the address cell ("2634 Union Ave,
    San Jose, CA 95124, USA", as the Meeting Guide template has it) is split; the sheet's
    own town, postcode and country columns win where they are filled, its region column
    only when the address names none (the template's "Region" is an area of the town)."""
    street = get("address_line1")
    given_country = country_code(get("country"))
    out: dict[str, str | None] = {
        "venue_name": None, "address_line1": street, "address_line2": get("address_line2"),
        "town": get("town"), "region": get("region"), "postcode": get("postcode"),
        "country": given_country}
    if street and looks_like_whole_address(street):
        found = split_address(street, given_country or country_code(source.country))
        out.update(venue_name=found.venue_name,
                   address_line1=found.address_line1 or found.venue_name,
                   address_line2=out["address_line2"] or found.address_line2,
                   town=out["town"] if found.town is None else (get("town") or found.town),
                   region=found.region or out["region"],
                   postcode=out["postcode"] or found.postcode,
                   country=given_country or found.country)
        if found.town and get("town") and found.region:
            out["town"] = found.town  # the address's town, the column an area of it
    if out["country"] is None:
        known = region_country(out["region"])
        out["country"] = known[0] if known else country_code(source.country)
    return out


# ----------------------------------------------------------------------------- the adapter


class CsvAdapter(Adapter):
    name = "csv"
    content_types = CSV_TYPES

    def records(self, doc: Document, source: Source,
                fetch_more: FetchMore) -> Iterator[ListingRecord | RowProblem]:
        what = "CSV sheet"
        check_content_type(doc, self.content_types, what)
        text, _ = decode(doc.body.read(), doc.encoding, doc.url)
        if not text.strip():
            raise DocumentError(f"{what}: the document is empty")
        if "\x00" in text:
            raise DocumentError(f"{what}: contains NUL bytes (a binary file, not CSV?)")
        lines = [ln for ln in text[:65536].splitlines() if ln.strip()][:HEADER_SEARCH]
        delimiter = _delimiter(lines)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        mapping = source.options.get("columns") or {}
        if not isinstance(mapping, dict):
            raise DocumentError("options.columns must be a table of field = \"Header\"")

        header: list[str] | None = None
        cols: dict[str, int] = {}
        seen: dict[str, int] = {}
        mapping_error: DocumentError | None = None
        try:
            for row_no, cells in enumerate(reader, start=1):
                if header is None:
                    if not any(c.strip() for c in cells):
                        continue
                    try:
                        found = resolve_columns(cells, mapping)
                    except DocumentError as exc:  # maybe a title row above the header
                        mapping_error, found = exc, {}
                    if "name" in found and "day" in found:
                        header, cols = [c.strip() for c in cells], found
                    elif row_no >= HEADER_SEARCH:
                        break
                    continue
                if not any(c.strip() for c in cells):
                    continue  # an entirely blank row
                rec = row_record(cells, row_no, cols, header, source)
                if isinstance(rec, ListingRecord):
                    first = seen.setdefault(rec.external_id, row_no)
                    if first != row_no:
                        rec = RowProblem(f"row {row_no}", f"duplicate id {rec.external_id!r} "
                                                          f"(first used by row {first})")
                yield rec
        except csv.Error as exc:
            raise DocumentError(f"{what}: not valid CSV at line {reader.line_num} "
                                f"({exc})") from exc
        if header is None:
            if mapping_error is not None:
                raise mapping_error
            first = next(csv.reader(lines[:1], delimiter=delimiter), [])
            shown = ", ".join(repr(c) for c in first)[:300]
            raise DocumentError(f"{what}: no header row with a name and a day column "
                                f"(first row: {shown}); map them in options.columns")


adapter = CsvAdapter()
