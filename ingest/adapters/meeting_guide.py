"""The Meeting Guide JSON feed (code4recovery/spec): a JSON array of weekly meetings.

Streamed with ijson, so a 100,000-meeting feed never sits in memory. Mapping decisions:

* ``slug`` is the external id (required by the spec); a second row with the same slug is a
  `RowProblem` ("duplicate id") so the same id is never written twice.
* ``day`` 0 = Sunday .. 6 = Saturday, as a number, a numeric string or a list (one weekly
  `ScheduleRecord` per day). ``time``/``end_time`` are "HH:MM"; an end before the start runs
  past midnight; without ``end_time`` the meeting lasts 90 minutes (the model's default; the
  spec's apps assume 60) unless the source sets ``options.default_duration``.
* Format: a *physical* address is ``address`` (street) or a ``formatted_address`` containing
  a digit (a house number or postcode), unless ``approximate`` is "yes" (online meetings give
  "Chicago, IL, USA" as an approximate origin). Online = ``conference_url``,
  ``conference_phone`` or the ``ONL`` type (or, without an address, a registration link in the
  notes). Physical + online -> hybrid, physical -> in_person, online -> virtual; neither ->
  `RowProblem`. Coordinates alone do not make a venue (online meetings carry a city's).
* ``TC`` (location temporarily closed): the venue is ignored, so the meeting is virtual if it
  has an online option, otherwise a `RowProblem` (it is not meeting; the runner withdraws it).
* Join mode: drop in, unless the notes say otherwise (`schedule_text.infer_join_mode`:
  "register", "booking essential", "waiting list", "referral" ...). A registration link in the
  notes becomes the join link when there is no conference link. A virtual meeting with no
  conference link or phone cannot be dropped into, so it is "contact". When a join mode needs
  a way to get in touch and the row has none, the listing's ``url``, ``entity_email`` and
  ``entity_phone`` are used.
* ``entity*`` -> organisation, else the source's organisation. ``notes`` -> description;
  ``conference_url_notes``, ``conference_phone_notes`` and ``location_notes`` -> join notes.
* Types: standard codes for audiences (M, W, LGBTQ, G, L, BI, T, NB, P), languages (EN, S,
  FR, ...) and accessibility (X, XB, FF) are mapped; custom loss-group codes are documented in
  `LOSS_TYPES` / `AUDIENCE_TYPES`, and a type that is already a loss type or audience in words
  ("Stillbirth", "Dads") is passed through. Other 12-step types are ignored.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import ijson

from finder import vocab
from ingest.adapters.base import Adapter, Document, DocumentError, FetchMore, RowProblem
from ingest.records import ListingRecord, OrganisationRecord, ScheduleRecord
from ingest.schedule_text import (
    DEFAULT_DURATION,
    country_code,
    country_from_name,
    duration_between,
    infer_join_mode,
    parse_clock,
    parse_day_phrase,
)
from ingest.sources import Source

JSON_TYPES = ("application/json", "text/json", "text/plain", "application/octet-stream")

# Custom type codes a loss-support feed may use; none clashes with a reserved spec code.
LOSS_TYPES = {
    "MIS": "miscarriage", "RM": "recurrent miscarriage", "ECT": "ectopic", "MOL": "molar",
    "SB": "stillbirth", "NND": "neonatal death", "TFMR": "TFMR", "IL": "infant loss",
    "PAL": "pregnancy after loss", "RAIN": "rainbow",
}
AUDIENCE_TYPES = {
    # reserved spec codes
    "M": "men", "W": "women", "LGBTQ": "LGBTQ+", "G": "LGBTQ+", "L": "LGBTQ+", "BI": "LGBTQ+",
    "T": "LGBTQ+", "NB": "LGBTQ+", "P": "professionals",
    # custom codes
    "DAD": "dads", "PART": "partners", "COU": "couples", "GP": "grandparents", "FAM": "families",
}
LANGUAGE_TYPES = {
    "EN": "English", "S": "Spanish", "FR": "French", "DE": "German", "POL": "Polish",
    "POR": "Portuguese", "PUN": "Punjabi", "ASL": "American Sign Language", "AM": "Amharic",
    "DA": "Danish", "EL": "Greek", "FA": "Persian", "HE": "Hebrew", "HI": "Hindi",
    "HR": "Croatian", "HU": "Hungarian", "ITA": "Italian", "JA": "Japanese", "KOR": "Korean",
    "LT": "Lithuanian", "ML": "Malayalam", "NO": "Norwegian", "RUS": "Russian", "SK": "Slovak",
    "SV": "Swedish", "TH": "Thai", "TL": "Tagalog", "UK": "Ukrainian",
}
ACCESS_TYPES = {"X": "Wheelchair access", "XB": "Wheelchair-accessible bathroom",
                "FF": "Fragrance free", "D-HOH": "Deaf / hard of hearing friendly",
                "BV-I": "Blind / visually impaired friendly"}

_URL = re.compile(r"https?://[^\s<>\"']+")
_US_STATE_ZIP = re.compile(r"(?P<state>[A-Za-z]{2})\s+(?P<zip>\d{5}(?:-\d{4})?)")
_UK_POSTCODE = re.compile(r"(?P<town>.*?)\s*(?P<pc>[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2})")
_PHONE_SUFFIX = re.compile(r"[,;#*]|\bp\b|\bext\b", re.IGNORECASE)

# Pure, and a feed repeats its few countries and start times on every row (immutable results).
_country_code = functools.lru_cache(maxsize=1024)(country_code)
_parse_clock = functools.lru_cache(maxsize=4096)(parse_clock)


# ----------------------------------------------------------------------------- shared JSON helpers
# Used by the HSDS adapter too (and by CSV for the content-type check).


def check_content_type(doc: Document, allowed: Iterable[str], what: str) -> None:
    """DocumentError unless the media type is one we read; no type (a local file) is fine."""
    if not doc.content_type:
        return
    media = doc.content_type.split(";", 1)[0].strip().lower()
    allowed = tuple(allowed)
    if media in allowed or ("application/json" in allowed and media.endswith("+json")):
        return
    raise DocumentError(f"wrong content type {media!r} for {what} (expected "
                        f"{', '.join(allowed)})")


class _Replay:
    """A read-only stream that gives back bytes already peeked at before the rest."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


def open_json(body: BinaryIO, what: str) -> tuple[str, _Replay]:
    """The first significant character ("[" or "{") and a stream to parse from it.

    ijson cannot tell "not JSON" or "an object, not a list" before it has read the whole
    document, so we look first; a UTF-8 byte-order mark is skipped.
    """
    head = b""
    while True:
        chunk = body.read(4096)
        if not chunk:
            break
        head += chunk
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        if head.lstrip():
            break
        if len(head) > 1 << 20:
            break
    stripped = head.lstrip()
    if not stripped:
        raise DocumentError(f"{what}: the document is empty")
    first = chr(stripped[0])
    if first not in "[{":
        shown = stripped[:20].decode("utf-8", "replace")
        raise DocumentError(f"{what}: not JSON (it starts with {shown!r})")
    return first, _Replay(stripped, body)


def json_error(exc: Exception, what: str) -> DocumentError:
    """A one-line reason from ijson's multi-line (sometimes bytes) message."""
    msg = exc.args[0] if exc.args else str(exc)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    first = str(msg).strip().splitlines()[0] if str(msg).strip() else type(exc).__name__
    return DocumentError(f"{what}: invalid or truncated JSON ({first})")


# ----------------------------------------------------------------------------- field helpers


def text(value: Any) -> str | None:
    """A stripped string, or None for null/empty; numbers become strings (ids, postcodes)."""
    if type(value) is str:  # the common case first
        value = value.strip()
        return value or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


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


def split_formatted_address(value: str) -> dict[str, str | None]:
    """Best-effort street/town/region/postcode/country from "4953 W Addison St, Chicago,
    IL 60641, USA" or "1 High St, Leeds LS1 3EX, UK"; the geocoder does the rest."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    out: dict[str, str | None] = {"address_line1": None, "town": None, "region": None,
                                  "postcode": None, "country": None}
    if len(parts) > 1 and country_from_name(parts[-1]):
        out["country"] = country_from_name(parts.pop())
    if not parts:
        return out
    out["address_line1"] = parts[0]
    rest = parts[1:]
    if rest:
        last = rest[-1]
        us = _US_STATE_ZIP.fullmatch(last)
        uk = _UK_POSTCODE.fullmatch(last)
        if us:
            out["region"], out["postcode"] = us["state"].upper(), us["zip"]
            out["country"] = out["country"] or "US"
            rest = rest[:-1]
        elif uk:
            out["postcode"] = uk["pc"].upper()
            out["country"] = out["country"] or "GB"
            rest = rest[:-1] + ([uk["town"]] if uk["town"] else [])
        if rest:
            out["town"] = rest[-1]
    else:
        uk = _UK_POSTCODE.fullmatch(parts[0])
        if uk and uk["town"]:
            out["address_line1"], out["postcode"] = uk["town"], uk["pc"].upper()
    return out


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
        if self.row.get("day") in (None, "", []):
            raise ValueError("day is missing (meetings by appointment are not listed)")
        days = _days(self.row["day"])
        start = _clock(self.row.get("time"), "time")
        duration = self.source.options.get("default_duration", DEFAULT_DURATION)
        if self.get("end_time") is not None:
            end = _clock(self.row.get("end_time"), "end_time")
            try:
                duration = duration_between(start, end)
            except ValueError as exc:
                raise ValueError(f"end_time {self.get('end_time')!r}: {exc}") from None
        return [ScheduleRecord(freq="weekly", weekday=d, start_time=start,
                               duration_minutes=duration, timezone=None) for d in days]

    def place(self) -> dict[str, Any] | None:
        """The venue's fields when the meeting has a physical address, else None."""
        if str(self.row.get("approximate") or "").strip().lower() in ("yes", "true", "1"):
            return None
        street, formatted = self.get("address"), self.get("formatted_address")
        if street:
            return {
                "address_line1": street, "town": self.get("city"),
                "region": self.get("state") or self.get("region"),
                "postcode": self.get("postal_code"), "country": self.get("country"),
            }
        if formatted and any(c.isdigit() for c in formatted):
            found = split_formatted_address(formatted)
            found["town"] = self.get("city") or found["town"]
            found["region"] = self.get("state") or found["region"] or self.get("region")
            found["postcode"] = self.get("postal_code") or found["postcode"]
            found["country"] = self.get("country") or found["country"]
            return found
        return None

    def country(self) -> str | None:
        given = self.get("country")
        formatted = self.get("formatted_address")
        if given is None and formatted and "," in formatted:
            given = country_from_name(formatted.rsplit(",", 1)[1])
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


def _phone(raw: str | None) -> tuple[str | None, str | None]:
    """("+1 646 558 8656", one-tap note) from "+1 646 558 8656,,123456#"."""
    if raw is None:
        return None, None
    m = _PHONE_SUFFIX.search(raw)
    if not m:
        return raw, None
    number = raw[:m.start()].strip()
    return (number or None), f"Dial-in (one tap): {raw}"


def _vocab_types(types: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(loss types, audiences, languages, accessibility notes) from the meeting's types."""
    loss: list[str] = []
    audiences: list[str] = []
    languages: list[str] = []
    access: list[str] = []
    for t in types:
        code = t.upper()
        for table, out in ((LOSS_TYPES, loss), (AUDIENCE_TYPES, audiences),
                           (LANGUAGE_TYPES, languages), (ACCESS_TYPES, access)):
            if code in table:
                if table[code] not in out:
                    out.append(table[code])
                break
        else:
            if len(t) > 3 and vocab.LOSS.lookup(t):
                loss.append(t)
            elif len(t) > 3 and vocab.AUDIENCE.lookup(t):
                audiences.append(t)
    return loss, audiences, languages, access


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
    conference_url = r.get("conference_url")
    join_phone, dial_note = _phone(r.get("conference_phone"))
    notes = r.get("notes")
    place = None if "TC" in upper else r.place()
    online = bool(conference_url or join_phone or "ONL" in upper)
    join_mode = infer_join_mode(notes, r.get("conference_url_notes")) or "drop_in"
    registration_url = None
    if join_mode in ("register", "waitlist", "contact") and notes:
        m = _URL.search(notes)
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
    loss, audiences, languages, access = _vocab_types(types)
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
        record.address_line1 = place["address_line1"]
        record.town = place["town"]
        record.region = place["region"]
        record.postcode = place["postcode"]
        record.country = _country_code(place["country"]) or record.country
        record.latitude = row.get("latitude")
        record.longitude = row.get("longitude")
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
