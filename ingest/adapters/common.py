"""What every adapter reads the same way: media types, countries, addresses, phones, zones,
how to join, and the JSON stream helpers.

One module so that the formats agree: a country name, a whole address in one field, a
dial-in string or "please contact the facilitator first" mean the same in a spreadsheet, a
calendar, a Meeting Guide feed and an HSDS service. Everything here is pure except `zone_at`,
which loads timezonefinder's bundled data once, on first use.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from ingest.fetch import Document, DocumentError

# ----------------------------------------------------------------------------- media types

JSON_TYPES = ("application/json", "text/json", "text/plain", "application/octet-stream")
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel",
             "text/tab-separated-values")
# text/plain and octet-stream: many web servers send .ics files so; the parser decides
ICAL_TYPES = ("text/calendar", "application/ics", "application/x-ics", "text/x-vcalendar",
              "text/plain", "application/octet-stream")
HTML_TYPES = ("text/html", "application/xhtml+xml")


def media_type(content_type: str | None) -> str | None:
    """"text/csv" from "text/csv; charset=utf-8"; None when there is none."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def check_content_type(doc: Document, allowed: Iterable[str], what: str) -> None:
    """DocumentError unless the media type is one we read; no type (a local file) is fine."""
    media = media_type(doc.content_type)
    if media is None:
        return
    allowed = tuple(allowed)
    if media in allowed or ("application/json" in allowed and media.endswith("+json")):
        return
    raise DocumentError(f"wrong content type {media!r} for {what} (expected "
                        f"{', '.join(allowed)})")


def decode_text(raw: bytes, declared: str | None, fallback: str) -> str:
    """The declared charset, else UTF-8 (BOM dropped), else `fallback` with replacement."""
    if declared:
        try:
            return raw.decode(declared, errors="replace").lstrip("\ufeff")
        except LookupError:
            pass  # an unknown charset name: guess as if none was given
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode(fallback, errors="replace")


# ----------------------------------------------------------------------------- JSON streams


class Replay:
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


def open_json(body: BinaryIO, what: str) -> tuple[str, Replay]:
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
    return first, Replay(stripped, body)


def json_error(exc: Exception, what: str) -> DocumentError:
    """A one-line reason from ijson's multi-line (sometimes bytes) message."""
    msg = exc.args[0] if exc.args else str(exc)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    first = str(msg).strip().splitlines()[0] if str(msg).strip() else type(exc).__name__
    return DocumentError(f"{what}: invalid or truncated JSON ({first})")


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


# ----------------------------------------------------------------------------- countries


def _fold(value: str) -> str:
    """Upper-case letters only, accents dropped: "Royaume-Uni" -> "ROYAUME UNI"."""
    value = unicodedata.normalize("NFKD", value)
    value = "".join(c for c in value if not unicodedata.combining(c))
    return re.sub(r"[^A-Z]+", " ", value.upper()).strip()


_COUNTRY_NAMES = {
    "UK": "GB", "U K": "GB", "GREAT BRITAIN": "GB", "BRITAIN": "GB", "UNITED KINGDOM": "GB",
    "ENGLAND": "GB", "SCOTLAND": "GB", "WALES": "GB", "CYMRU": "GB", "NORTHERN IRELAND": "GB",
    "USA": "US", "U S A": "US", "U S": "US", "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US", "AMERICA": "US", "CANADA": "CA", "IRELAND": "IE",
    "EIRE": "IE", "REPUBLIC OF IRELAND": "IE", "AUSTRALIA": "AU", "NEW ZEALAND": "NZ",
    "AOTEAROA": "NZ", "ISLE OF MAN": "IM", "JERSEY": "JE", "GUERNSEY": "GG", "FRANCE": "FR",
    "GERMANY": "DE", "DEUTSCHLAND": "DE", "SPAIN": "ES", "ESPANA": "ES", "NETHERLANDS": "NL",
    "THE NETHERLANDS": "NL", "BELGIUM": "BE", "SWITZERLAND": "CH", "SCHWEIZ": "CH",
    "AUSTRIA": "AT", "OSTERREICH": "AT", "DENMARK": "DK", "DANMARK": "DK", "SWEDEN": "SE",
    "NORWAY": "NO", "FINLAND": "FI", "ITALY": "IT", "ITALIA": "IT", "PORTUGAL": "PT",
    "POLAND": "PL", "MEXICO": "MX", "SOUTH AFRICA": "ZA", "INDIA": "IN",
}
# the names alone (two-letter keys are also plain ISO codes, handled by `country_code`)
_NAMED = {k for k in _COUNTRY_NAMES if len(k.replace(" ", "")) > 2}


@functools.lru_cache(maxsize=1024)
def country_code(value: str | None) -> str | None:
    """ISO alpha-2 for a code or a common name ("UK", "United Kingdom", "USA", "Denmark");
    anything else comes back as given, so normalisation rejects it with the publisher's
    own words. None for nothing."""
    if value is None:
        return None
    key = _fold(str(value))
    if not key:
        return None
    if len(key) == 2 and key.isalpha():
        return _COUNTRY_NAMES.get(key, key)
    return _COUNTRY_NAMES.get(key, str(value).strip())


def country_from_name(value: str | None) -> str | None:
    """ISO alpha-2 only when `value` is plainly a country ("UK", "USA", "United Kingdom");
    None for anything else, such as a US state ("CA") at the end of an address."""
    if not value:
        return None
    key = _fold(str(value))
    if key in ("US", "GB", "UK"):
        return _COUNTRY_NAMES.get(key, key)
    return _COUNTRY_NAMES[key] if key in _NAMED else None


US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
    "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
}
CA_PROVINCES = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
    "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
    "SK": "Saskatchewan", "YT": "Yukon",
}
AU_STATES = {
    "NSW": "New South Wales", "VIC": "Victoria", "QLD": "Queensland", "SA": "South Australia",
    "WA": "Western Australia", "TAS": "Tasmania", "NT": "Northern Territory",
    "ACT": "Australian Capital Territory",
}
_REGIONS = {**{_fold(v): ("US", k) for k, v in US_STATES.items()},
            **{_fold(v): ("CA", k) for k, v in CA_PROVINCES.items()},
            **{_fold(v): ("AU", k) for k, v in AU_STATES.items()},
            **{k: ("US", k) for k in US_STATES}, **{k: ("CA", k) for k in CA_PROVINCES},
            # three-letter ones only: "SA" and "WA" are US/Australian look-alikes
            **{k: ("AU", k) for k in AU_STATES if len(k) == 3}}


def region_country(value: str | None) -> tuple[str, str] | None:
    """("US", "MI") for "MI" or "Michigan", ("CA", "AB") for "Alberta"; None otherwise.
    The US and Canadian abbreviations do not overlap, so the region names its country."""
    if not value:
        return None
    return _REGIONS.get(_fold(value))


# ----------------------------------------------------------------------------- addresses

# A UK postcode (the Royal Mail shape, not a list of real ones: the gazetteer checks it)
UK_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})\b", re.IGNORECASE)
_CA_POSTCODE = re.compile(r"\b([ABCEGHJ-NPRSTVXY][0-9][A-Z]) ?([0-9][A-Z][0-9])\b",
                          re.IGNORECASE)
_ZIP = re.compile(r"^(?:(?P<town>.*?)[\s,]+)?(?P<state>[A-Za-z]{2}|[A-Za-z .]{4,})"
                           r"\.?\s+(?P<zip>\d{5}(?:-\d{4})?)$")
_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")
# "12764 Happyville", "8001 Zürich", "1010 Wien": a continental postcode before the town
# "Sydney NSW 2000": town, state, four-digit postcode
_AU_STATE_CODE = re.compile(r"^(?:(?P<town>.*?)\s+)?(?P<state>NSW|VIC|QLD|SA|WA|TAS|NT|ACT)"
                            r"\s+(?P<code>\d{4})$", re.IGNORECASE)
_CODE_TOWN = re.compile(r"^(?:[A-Z]{1,2}-)?(?P<code>\d{4,5})\s+(?P<town>\D.*)$")


@dataclass
class Place:
    venue_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    town: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None


def looks_like_whole_address(value: str | None) -> bool:
    """"2634 Union Ave, San Jose, CA 95124, USA": a street with more parts after it (a town,
    a postcode, a country), rather than a street line alone."""
    if not value or ("," not in value and "\n" not in value):
        return False
    parts = [p.strip() for p in re.split(r"[,\n]", value) if p.strip()]
    if len(parts) < 2:
        return False
    tail = " ".join(parts[1:])
    return bool(country_from_name(parts[-1]) or UK_POSTCODE.search(tail)
                or _CA_POSTCODE.search(tail) or re.search(r"\b\d{5}(?:-\d{4})?\b", tail)
                or region_country(parts[-1]) or len(parts) >= 3)


def _state_zip(part: str) -> tuple[str | None, str, str] | None:
    """(town before it, state code, ZIP) for "Springfield IL 62704", "CA 95124",
    "New York, New York 10001-1234"; None when the part does not end so."""
    words = part.replace(",", " ").split()
    if len(words) < 2 or not _ZIP.match(words[-1]):
        return None
    for n in (1, 2, 3):  # "IL", "New York", "District of Columbia"
        if len(words) - 1 < n:
            break
        found = region_country(" ".join(words[-1 - n:-1]))
        if found and found[0] == "US":
            town = " ".join(words[:-1 - n]) or None
            return town, found[1], words[-1][:5]
    return None


def split_address(value: str, country: str | None = None) -> Place:
    """Venue, street, town, region, postcode and country from one address written on one
    line (comma-separated) or on several: "2634 Union Ave, San Jose, CA 95124, USA",
    "8318 104 St, Edmonton, Alberta, T6E 4E8, Canada", "Room 2, Community Centre, 5 High
    St, Leeds LS1 4AP", "Roadstar 16\\n12764 Happyville\\nDenmark". Postcodes by their
    national patterns (a UK postcode, a US ZIP after a state, a Canadian postcode, a
    continental code before the town); a US address written without commas is tagged by
    usaddress. Of what is left, the last part is the town; with two or more before it the
    first is the venue's name, unless it starts with a house number. Best effort: the
    postcode is what geocoding needs, the rest is kept for display."""
    parts = [p.strip(" .") for p in re.split(r"[,\n]", value) if p.strip(" .")]
    place = Place(country=country)
    if len(parts) > 1 and country_from_name(parts[-1]):
        place.country = country_from_name(parts.pop())
    postcode_part = None  # the index of a part that held the postcode and a town
    for i in range(len(parts) - 1, -1, -1):
        part = parts[i]
        if place.country in (None, "US"):
            found_us = _state_zip(part)
            if found_us is not None:
                town, place.region, place.postcode = found_us
                place.country = "US"
                parts[i:i + 1] = [town] if town else []
                postcode_part = i if town else None
                break
            if _ZIP.match(part) and place.country == "US":
                place.postcode = part[:5]
                del parts[i]
                break
        if place.country in (None, "CA"):
            m = _CA_POSTCODE.search(part)
            if m and m.end() == len(part):
                place.country = "CA"
                place.postcode = f"{m[1]} {m[2]}".upper()
                rest = part[:m.start()].strip(" ,")
                found = region_country(rest)
                if found:
                    place.region, rest = found[1], ""
                parts[i:i + 1] = [rest] if rest else []
                break
        if place.country in (None, "GB", "IE", "IM", "JE", "GG"):
            m = UK_POSTCODE.search(part)
            if m and m.end() == len(part):
                place.country = place.country or "GB"
                place.postcode = f"{m[1]} {m[2]}".upper()
                rest = part[:m.start()].strip(" ,")
                parts[i:i + 1] = [rest] if rest else []
                postcode_part = i if rest else None
                break
        if place.country in (None, "AU"):
            m = _AU_STATE_CODE.match(part)
            if m:
                place.country, place.region, place.postcode = "AU", m["state"].upper(), m["code"]
                parts[i:i + 1] = [m["town"]] if m["town"] else []
                postcode_part = i if m["town"] else None
                break
        m = _CODE_TOWN.match(part)
        if m and i > 0 and place.country not in ("US", "GB", "CA"):
            place.postcode, parts[i] = m["code"], m["town"].strip()
            postcode_part = i
            break
    if place.region is None and len(parts) > 1:
        found = region_country(parts[-1])
        if found and place.country in (None, found[0]) and (
                len(parts[-1]) > 2 or place.country or place.postcode or len(parts) >= 3):
            place.country, place.region = found[0], found[1]
            parts.pop()
    if place.country == "US" and len(parts) == 1 and " " in parts[0]:
        tagged = _us_tags(value)  # "123 Main St Springfield IL 62704": no commas to go by
        if tagged is not None:
            street, town, region, postcode = tagged
            if town:
                place.address_line1, place.town = street or parts[0], town
                place.region = region or place.region
                place.postcode = postcode or place.postcode
                return place
    town_last = postcode_part is not None and postcode_part == len(parts) - 1
    plain_last = bool(parts) and not re.search(r"\d", parts[-1])
    if len(parts) >= 2 and (town_last or plain_last):
        place.town = parts.pop()
    if len(parts) >= 2 and not re.match(r"\d", parts[0]):
        place.venue_name, place.address_line1 = parts[0], ", ".join(parts[1:])
    elif len(parts) >= 2:
        place.address_line1, place.address_line2 = parts[0], ", ".join(parts[1:])
    elif parts and place.region and not re.search(r"\d", parts[0]):
        place.town = parts[0]  # "Edmonton, Alberta, T5B 0S5": the town before the province
    elif parts and place.postcode and not re.search(r"\d", parts[0]):
        place.venue_name = parts[0]
    elif parts:
        place.address_line1 = parts[0]
    return place


_STREET_LABELS = ("AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix",
                  "StreetNamePreModifier", "StreetNamePreDirectional", "StreetNamePreType",
                  "StreetName", "StreetNamePostType", "StreetNamePostDirectional",
                  "StreetNamePostModifier", "OccupancyType", "OccupancyIdentifier",
                  "USPSBoxType", "USPSBoxID", "IntersectionSeparator", "SecondStreetName",
                  "SecondStreetNamePostType")


@functools.lru_cache(maxsize=2048)
def _us_tags(value: str) -> tuple[str | None, str | None, str | None, str | None] | None:
    """(street, town, state, ZIP) of a US address by usaddress; None when it cannot tell."""
    import usaddress  # loaded only for the feeds that need it

    try:
        tags, kind = usaddress.tag(value)
    except usaddress.RepeatedLabelError:
        return None
    if kind not in ("Street Address", "Intersection"):
        return None
    street = " ".join(tags[k] for k in _STREET_LABELS if k in tags) or None
    state = region_country(tags.get("StateName"))
    zip_code = tags.get("ZipCode")
    return (street, tags.get("PlaceName"), state[1] if state else None,
            zip_code[:5] if zip_code else None)


# ----------------------------------------------------------------------------- points


def point(latitude: Any, longitude: Any) -> tuple[Any, Any]:
    """The publisher's point, or (None, None) for 0,0 (a missing point that some feeds
    fill in): the venue is then found from its postcode like any other without one."""
    try:
        if float(latitude) == 0 and float(longitude) == 0:
            return None, None
    except (TypeError, ValueError):
        pass  # not numbers: normalisation rejects them with the value
    return latitude, longitude


def postcode_text(value: Any) -> str | None:
    """A postcode cell; 0 or 00000 (a number column left empty) is no postcode."""
    found = text(value)
    if found is not None and found.strip("0") == "":
        return None
    return found


# ----------------------------------------------------------------------------- phones

_PHONE_SUFFIX = re.compile(r"[,;#*]|\bp\b|\bext\b|\bpin\b", re.IGNORECASE)
_DIALLABLE = re.compile(r"\+?[0-9 ()./-]+")


def split_phone(raw: str | None) -> tuple[str | None, str | None]:
    """("+1 646 558 8656", a one-tap note) from "+1 646 558 8656,,123456#": the number to
    dial, and the whole dial string (meeting id and passcode codes) kept as a note."""
    if raw is None:
        return None, None
    raw = raw.strip()
    if raw.lower().startswith("tel:"):
        raw = raw[4:].strip()
    raw = re.sub(r"^\+(\d{1,3})\s*\+\1", r"+\1", raw)  # "+1+16699006833": one "+1" too many
    m = _PHONE_SUFFIX.search(raw)
    number = raw[:m.start()].strip() if m else raw
    note = f"Dial-in (one tap): {raw}" if m else None
    digits = sum(c.isdigit() for c in number)
    if not number or not _DIALLABLE.fullmatch(number) or not 7 <= digits <= 20:
        # not a number anyone can dial ("+11"): kept as a note, never a reason to drop
        # a listing that has other ways in
        return None, (f"Phone: {raw}" if raw else None)
    return number, note


# ----------------------------------------------------------------------------- time zones


@functools.lru_cache(maxsize=1)
def _finder() -> Any:
    from timezonefinder import TimezoneFinder  # its data ships in the wheel: no network

    return TimezoneFinder()


@functools.lru_cache(maxsize=8192)
def zone_at(latitude: Any, longitude: Any) -> str | None:
    """The IANA zone at a point (timezonefinder, offline), or None (at sea, or not numbers).
    Remembered: the venues of a feed repeat."""
    try:
        lat, lng = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return None
    zone = _finder().timezone_at(lng=lng, lat=lat)
    if zone is None or zone.startswith("Etc/"):
        return None
    return zone


# States and provinces that keep one time zone throughout (those split between zones, such
# as Texas, Florida or Ontario, are left out: their zone needs the venue's point).
_REGION_ZONES = {
    ("US", "AL"): "America/Chicago", ("US", "AZ"): "America/Phoenix",
    ("US", "AR"): "America/Chicago", ("US", "CA"): "America/Los_Angeles",
    ("US", "CO"): "America/Denver", ("US", "CT"): "America/New_York",
    ("US", "DE"): "America/New_York", ("US", "DC"): "America/New_York",
    ("US", "GA"): "America/New_York", ("US", "HI"): "Pacific/Honolulu",
    ("US", "IL"): "America/Chicago", ("US", "IA"): "America/Chicago",
    ("US", "LA"): "America/Chicago", ("US", "ME"): "America/New_York",
    ("US", "MD"): "America/New_York", ("US", "MA"): "America/New_York",
    ("US", "MN"): "America/Chicago", ("US", "MS"): "America/Chicago",
    ("US", "MO"): "America/Chicago", ("US", "MT"): "America/Denver",
    ("US", "NV"): "America/Los_Angeles", ("US", "NH"): "America/New_York",
    ("US", "NJ"): "America/New_York", ("US", "NM"): "America/Denver",
    ("US", "NY"): "America/New_York", ("US", "NC"): "America/New_York",
    ("US", "OH"): "America/New_York", ("US", "OK"): "America/Chicago",
    ("US", "PA"): "America/New_York", ("US", "RI"): "America/New_York",
    ("US", "SC"): "America/New_York", ("US", "UT"): "America/Denver",
    ("US", "VT"): "America/New_York", ("US", "VA"): "America/New_York",
    ("US", "WA"): "America/Los_Angeles", ("US", "WV"): "America/New_York",
    ("US", "WI"): "America/Chicago", ("US", "WY"): "America/Denver",
    ("US", "PR"): "America/Puerto_Rico",
    ("CA", "AB"): "America/Edmonton", ("CA", "MB"): "America/Winnipeg",
    ("CA", "NB"): "America/Moncton", ("CA", "NS"): "America/Halifax",
    ("CA", "PE"): "America/Halifax", ("CA", "SK"): "America/Regina",
    ("CA", "YT"): "America/Whitehorse", ("CA", "NT"): "America/Yellowknife",
    ("AU", "NSW"): "Australia/Sydney", ("AU", "VIC"): "Australia/Melbourne",
    ("AU", "QLD"): "Australia/Brisbane", ("AU", "SA"): "Australia/Adelaide",
    ("AU", "WA"): "Australia/Perth", ("AU", "TAS"): "Australia/Hobart",
    ("AU", "NT"): "Australia/Darwin", ("AU", "ACT"): "Australia/Sydney",
}


def region_zone(country: str | None, region: str | None) -> str | None:
    """The zone of a state or province that has only one ("AB" -> America/Edmonton)."""
    found = region_country(region)
    if found is None or (country is not None and found[0] != country):
        return None
    return _REGION_ZONES.get(found)


# ----------------------------------------------------------------------------- recurrences

MAX_COUNT = 10_000  # a longer COUNT is, for a support group, "until further notice"


def matches_position(weekday: int, set_pos: int | None, day: dt.date) -> bool:
    """Whether `day` is that weekday (and that week of the month, for monthly)."""
    if day.weekday() != weekday:
        return False
    if set_pos is None:
        return True
    if set_pos == -1:
        return day.day + 7 > _calendar.monthrange(day.year, day.month)[1]
    return (day.day - 1) // 7 + 1 == set_pos


# ----------------------------------------------------------------------------- links

_VIDEO_HOSTS = (
    r"(?:[\w-]+\.)*zoom\.us", r"(?:[\w-]+\.)*zoomgov\.com", r"teams\.microsoft\.com",
    r"teams\.live\.com", r"meet\.google\.com", r"(?:[\w-]+\.)*whereby\.com",
    r"(?:[\w-]+\.)*webex\.com", r"meet\.jit\.si", r"(?:[\w-]+\.)*gotomeeting\.com",
    r"(?:[\w-]+\.)*skype\.com", r"(?:[\w-]+\.)*bluejeans\.com",
)
VIDEO_LINK = re.compile(
    r"https?://(?:" + "|".join(_VIDEO_HOSTS) + r")(?::\d+)?(?:/[^\s<>\"')\]]*)?",
    re.IGNORECASE,
)
URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ONLINE_PLACE = re.compile(
    r"(online|virtual|remote|zoom|(microsoft |ms )?teams|google meet|whereby|webex|skype|"
    r"video( call| meeting)?|web ?(meeting|call)|internet)( meeting| call| only)?",
    re.IGNORECASE,
)


def tidy_url(value: str | None) -> str | None:
    """A link as pasted into a cell: surrounding quotes or angle brackets and a trailing
    encoded space ("...pwd=abc%20\"") removed."""
    if not value:
        return value
    value = value.strip().strip("<>\"'").strip()
    while value.endswith("%20"):
        value = value[:-3].rstrip()
    return value.rstrip("\"'") or None


def video_link(*texts: str | None) -> str | None:
    """The first video-meeting link in any of the texts (Zoom, Teams, Meet, ...)."""
    for value in texts:
        if value:
            m = VIDEO_LINK.search(value)
            if m:
                return m.group(0).rstrip(".,;:")
    return None


def first_email(*texts: str | None) -> str | None:
    for value in texts:
        if value:
            m = _EMAIL.search(value)
            if m:
                return m.group(0).rstrip(".")
    return None


def is_online_place(value: str) -> bool:
    """"Online", "Zoom", a bare link: a place name that is not a venue."""
    value = value.strip()
    return bool(_ONLINE_PLACE.fullmatch(value.rstrip(".")) or URL.fullmatch(value))


# ----------------------------------------------------------------------------- how to join

# Each phrase is an instruction to the reader ("please register", "email first"), not a
# mention of a channel: "to contact the group by email, please see website" says where the
# address is, not that one must get in touch before coming. "No need to book" is tried
# before "book", so drop-in phrases come first; "all welcome" is tried last, as
# "everyone welcome, registration required" asks for registration.
_JOIN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("drop_in", re.compile(
        r"\bdrop[- ]?in\b|\bjust (?:turn|come|show) (?:up|along)\b|\bturn up\b|\bno need to "
        r"(?:book|register|sign up)|\b(?:do not|don't|dont|doesn't|no) need to "
        r"(?:book|register|sign up)|\bno (?:booking|registration|referral)s? (?:is )?(?:needed|"
        r"required|necessary)|\bwithout (?:booking|registering|a referral)")),
    ("waitlist", re.compile(r"\bwait(?:ing)?[- ]?list\b")),
    ("register", re.compile(
        r"\bregist(?:er|ration) (?:is )?(?:required|essential|needed|first|in advance|before)|"
        r"\b(?:please|must|you need to|you will need to|you'll need to) (?:pre-?)?regist"
        r"(?:er)?|\bregister (?:at|here|online|via|on|with|for)\b|\bsign[- ]?up (?:is )?"
        r"(?:required|essential|first|at|here|online|via)\b|\b(?:please|must) sign[- ]?up\b|"
        r"\bbook(?:ing)? (?:is )?(?:essential|required|needed)|\bplease book\b|\bbook (?:a|your)"
        r" (?:place|space|seat)\b|\bbook (?:in )?(?:in )?advance\b|\brsvp\b|\bpre-?book|"
        r"\bby registration\b|\bregistration only\b|^regist(?:er|ration)$|^book(?:ing)?$|"
        r"reg[ií]strese|registrarse|inscr[ií]base|inscripci[oó]n|cofrestru")),
    ("contact", re.compile(
        r"\breferral (?:is )?(?:needed|required|essential|only|from|letter)\b|\bby referral\b|"
        r"^referral\b|\b(?:by|arrange an|make an|book an) appointment\b|"
        r"\bask (?:your|a) (?:gp|doctor|midwife|nurse|consultant) (?:for|to) (?:a )?refer|"
        r"\b(?:contact|call|phone|ring|email|e-mail|message|text) (?:the |our )?(?:facilitator|"
        r"organi[sz]er|group|team|us|midwife|coordinator)?\s*(?:first|before|in advance|"
        r"beforehand|ahead)\b|\bget in touch (?:first|before|beforehand)\b|\bplease (?:contact|"
        r"call|email|e-mail|ring|phone|get in touch)\b(?! .{0,40}\b(?:with questions|if you "
        r"have (?:any )?questions|for (?:more )?info))|^(?:contact|email|call|phone)(?: first|"
        r" us)?$")),
    # welcoming words say "drop in" only when nothing above asks for more
    ("drop_in", re.compile(r"\ball welcome\b|\beveryone (?:is )?welcome\b|\bopen to all\b|"
                           r"\bjust (?:click|join)\b")),
)


def infer_join_mode(*texts: str | None, reachable: bool = True) -> str | None:
    """A JOIN code from what the publisher wrote ("Registration required", "Just turn up",
    "Email first"), or None when it says nothing about joining. "contact" needs a way to
    be contacted: without one (`reachable` False) the text says nothing we can use."""
    code = _infer(tuple(t.strip() for t in texts if isinstance(t, str) and t.strip()))
    if code == "contact" and not reachable:
        return None
    return code


@functools.lru_cache(maxsize=4096)  # a feed repeats its few notes on many rows
def _infer(texts: tuple[str, ...]) -> str | None:
    if not texts:
        return None
    folded = [unicodedata.normalize("NFKC", t.lower()).replace("\u2019", "'") for t in texts]
    joined = " ".join(folded)
    for code, pattern in _JOIN_PATTERNS:
        if pattern.search(joined) or (len(folded) > 1 and any(
                pattern.search(t) for t in folded)):
            return code
    return None


def join_mode_cell(value: str | None) -> tuple[str | None, str | None]:
    """A "How to join" cell: (JOIN code or synonym, the text to keep as a note). A code
    ("drop in", "register") is used as it is; a sentence ("Just turn up", "Email first")
    is read for what it says and kept as a note; a sentence that says nothing about
    joining gives no code."""
    if not value or not value.strip():
        return None, None
    from finder import vocab

    if vocab.JOIN.lookup(value.strip()):
        return value.strip(), None
    return infer_join_mode(value), value.strip()


# ----------------------------------------------------------------------------- type codes

# Meeting Guide type codes (also the "Types" column of its spreadsheet template): the
# default reading. The spec's reserved codes keep their spec meaning; the custom loss-group
# codes are ours (none clashes with a reserved one). A source whose codes mean something
# else maps them in `options.types` (see `MeetingTypes`).
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
# spelt-out forms the spreadsheet template uses ("Women", "Wheelchair Access", "Spanish")
_ACCESS_WORDS = {_fold(v): v for v in ACCESS_TYPES.values()} | {
    "WHEELCHAIR ACCESS": "Wheelchair access", "WHEELCHAIR ACCESSIBLE": "Wheelchair access"}


# The Meeting Guide spec's names of the reserved codes we read (its "types" list)
_SPEC_NAMES = {_fold(name): code for code, name in {
    "M": "Men", "W": "Women", "G": "Gay", "L": "Lesbian", "BI": "Bisexual",
    "T": "Transgender", "NB": "Non-Binary", "LGBTQ": "LGBTQIAA+", "P": "Professionals",
    "EN": "English", "S": "Spanish", "FR": "French", "DE": "German", "POL": "Polish",
    "POR": "Portuguese", "ITA": "Italian", "JA": "Japanese", "KOR": "Korean",
    "RUS": "Russian", "ASL": "American Sign Language", "X": "Wheelchair Access",
    "XB": "Wheelchair-Accessible Bathroom", "FF": "Fragrance Free",
}.items()} | {"LGBTQ": "LGBTQ", "WHEELCHAIR ACCESSIBLE": "X"}


class MeetingTypes:
    """Reads a meeting's type codes into (loss types, audiences, languages, access notes).

    `options.types` of a source overrides the default table code by code: a value is a
    loss type, an audience or a language in words or codes of our vocabularies ("dads",
    "stillbirth", "es"), a list of them, or "" to ignore the code. With
    `options.default_types = false` only the source's own codes are read. A value that is
    none of ours is a `DocumentError` naming `options.types.<CODE>`, before any row is read.
    """

    def __init__(self, mapping: dict[str, Any] | None = None, use_default: bool = True) -> None:
        from finder import vocab

        self.codes: dict[str, tuple[str, str]] = {}  # CODE -> (kind, value)
        self.extra: dict[str, list[tuple[str, str]]] = {}
        self._read: dict[tuple[str, ...], tuple] = {}  # types -> what `read` found
        if use_default:
            for table, kind in ((LOSS_TYPES, "loss"), (AUDIENCE_TYPES, "audience"),
                                (LANGUAGE_TYPES, "language"), (ACCESS_TYPES, "access")):
                for code, value in table.items():
                    self.codes[code] = (kind, value)
        for code, value in (mapping or {}).items():
            key = str(code).strip().upper()
            self.codes.pop(key, None)
            values = value if isinstance(value, list) else [value]
            read: list[tuple[str, str]] = []
            for v in values:
                if not isinstance(v, str):
                    raise DocumentError(f"options.types.{code}: must be text or a list of "
                                        f"text (got {v!r})")
                if not v.strip():
                    continue
                kind = ("loss" if vocab.LOSS.lookup(v) else
                        "audience" if vocab.AUDIENCE.lookup(v) else
                        "language" if vocab.LANGUAGE.lookup(v) else None)
                if kind is None:
                    raise DocumentError(f"options.types.{code}: {v!r} is not a loss type, "
                                        f"audience or language we know")
                read.append((kind, v))
            self.extra[key] = read
        # the spec's languages we have no code for (Russian...) say nothing we can list
        for code, (kind, value) in list(self.codes.items()):
            if kind == "language" and not vocab.LANGUAGE.lookup(value):
                del self.codes[code]
        self.use_default = use_default

    def read(self, types: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
        """A feed repeats a few dozen type lists on every row: each is read once (the
        lists returned are the caller's own)."""
        key = tuple(types)
        found = self._read.get(key)
        if found is None:
            if len(self._read) >= 4096:
                self._read.clear()
            found = self._read[key] = self._read_types(types)
        loss, audiences, languages, access = found
        return list(loss), list(audiences), list(languages), list(access)

    def _read_types(self, types: list[str]
                    ) -> tuple[list[str], list[str], list[str], list[str]]:
        from finder import vocab

        out: dict[str, list[str]] = {"loss": [], "audience": [], "language": [], "access": []}
        for t in types:
            code = t.strip().upper()
            if code not in self.extra and code not in self.codes:
                # the spec's names for its codes ("Women", "Gay", "Spanish"), as the
                # spreadsheet template writes them: read as the code (and its mapping)
                code = _SPEC_NAMES.get(_fold(t), code)
            found = self.extra.get(code)
            if found is None:
                hit = self.codes.get(code)
                found = [hit] if hit else None
            if found is None and self.use_default and (len(t) > 3 or t != t.upper()):
                # spelt out ("Women", "Men", "Wheelchair Access"), as the spreadsheet
                # template and some feeds write them; short capitals are codes
                access = _ACCESS_WORDS.get(_fold(t))
                found = ([("access", access)] if access else
                         [("loss", t)] if vocab.LOSS.lookup(t) else
                         [("audience", t)] if vocab.AUDIENCE.lookup(t) else
                         [("language", t)] if vocab.LANGUAGE.lookup(t) else None)
            for kind, value in found or ():
                if value not in out[kind]:
                    out[kind].append(value)
        return out["loss"], out["audience"], out["language"], out["access"]


_MEETING_TYPES: dict[tuple[str, str], MeetingTypes] = {}
_LAST: list[Any] = [None, None]  # (source, its MeetingTypes): asked for on every row


def meeting_types(source: Any) -> MeetingTypes:
    """The source's reading of type codes (built once per source and options)."""
    if _LAST[0] is source:
        return _LAST[1]
    found = _meeting_types(source)
    _LAST[:] = [source, found]
    return found


def _meeting_types(source: Any) -> MeetingTypes:
    options = source.options or {}
    key = (source.name, repr((options.get("types"), options.get("default_types"))))
    found = _MEETING_TYPES.get(key)
    if found is None:
        mapping = options.get("types")
        if mapping is not None and not isinstance(mapping, dict):
            raise DocumentError(f"options.types: must be a table of CODE = \"value\" "
                                f"(got {mapping!r})")
        use_default = options.get("default_types", True)
        if not isinstance(use_default, bool):
            raise DocumentError(f"options.default_types: must be true or false "
                                f"(got {use_default!r})")
        found = _MEETING_TYPES[key] = MeetingTypes(mapping, use_default)
    return found
