"""From a `ListingRecord` to a `NormalisedListing`: pure, no database.

`normalise` maps what a publisher wrote onto the vocabularies and the model's limits, or
returns a `Rejection` that names the field and the value, so an adapter, the demo and the
organiser form all reject the same things with the same words. The database edges that
follow it (`geocode`, `upsert`, `withdraw`) are in `finder.listings.store`.

The `content_hash` covers what the publisher said, after cleaning, not what we derived from it
(geocoded points, defaulted start dates), so a record that has not changed is not rewritten.

An ingestion run (`ingest.runner`) stores more than that in `listing_sources.content_hash`:
`stored_hash` is the first half (128 bits) of the content hash followed by the first half of
`record_hash`, a fingerprint of the record as the adapter read it, salted with the code that
normalises records. A re-run compares the fingerprint first and skips normalising (and
geocoding and writing) a record the adapter read exactly as last time; a record that reads
differently is normalised, and is still "unchanged" when its content half matches (a cosmetic
edit). A hash stored by any other path (the whole content hash: the demo, `upsert`) matches
on its content half the same way, so nothing is rewritten when the format changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
import os
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from finder import schedules as _schedules_module
from finder import timezones, vocab
from finder.geocode import normalise as _postcode_module
from finder.geocode.normalise import postcode_for_country
from finder.listings import records as _records_module
from finder.listings.records import ListingRecord, OrganisationRecord
from finder.schedules import Recurrence

# Bump when the cleaning rules change, so every listing is rewritten once on the next run.
NORMALISER_VERSION = 1

# Column sizes in finder.models; a longer value is rejected rather than cut mid-word.
LIMITS = {
    "source": 100, "external_id": 300, "name": 200, "description": 5000,
    "organisation.name": 200, "organisation.website": 500, "organisation.email": 254,
    "organisation.phone": 40, "join_url": 500, "join_phone": 40, "join_email": 254,
    "join_notes": 2000, "accessibility_notes": 2000, "venue_name": 200, "address_line1": 200,
    "address_line2": 200, "town": 100, "region": 100, "postcode": 16, "url": 1000,
}
MAX_SCHEDULES = 20

# Countries with one zone, so a listing there needs no timezone of its own.
SINGLE_ZONE = {
    "GB": "Europe/London", "IE": "Europe/Dublin", "IM": "Europe/Isle_of_Man",
    "JE": "Europe/Jersey", "GG": "Europe/Guernsey", "NZ": "Pacific/Auckland",
}
COUNTRY_ALIASES = {"UK": "GB"}

# Finest first: a better fix of a shared venue replaces a coarser one, never the reverse.
PRECISION_RANK = {
    "given": 0, "point": 0, "postcode": 1, "zip": 2, "sector": 2, "district": 3, "area": 4,
    "place": 5,
}

_NOUNS = {
    "format": "format", "join_mode": "way to join", "loss_types": "loss type",
    "audiences": "audience", "languages": "language", "cost": "cost",
    "facilitation": "facilitation",
}
_VOCABS = {
    "format": vocab.FORMAT, "join_mode": vocab.JOIN, "loss_types": vocab.LOSS,
    "audiences": vocab.AUDIENCE, "languages": vocab.LANGUAGE, "cost": vocab.COST,
    "facilitation": vocab.FACILITATION,
}
# Invisible characters that only ever hide or reorder text: zero-width spaces, word joiners,
# byte-order marks and bidi overrides. ZWJ/ZWNJ stay: scripts and emoji need them.
_KEEP_FORMAT_CHARS = {"\u200c", "\u200d"}
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_PHONE = re.compile(r"\+?[0-9 ()./-]+(?:\s*(?:ext\.?|x)\s*[0-9]{1,6})?", re.IGNORECASE)
_COUNTRY = re.compile(r"[A-Z]{2}")
_TIME = re.compile(r"([01]?[0-9]|2[0-3])[:.]([0-5][0-9])(?::([0-5][0-9]))?")
_FREQ_SYNONYMS = {"fortnightly": ("weekly", 2), "biweekly": ("weekly", 2),
                  "every other week": ("weekly", 2)}


@dataclass(frozen=True)
class Rejection:
    """Why a record cannot be listed: the field, the value as given, and a reason to show."""

    field: str
    value: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass(frozen=True)
class NormalisedOrganisation:
    name: str
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class NormalisedListing:
    """A record in the model's terms, ready for `geocode` and then `upsert`.

    `timezone` is None only for an in-person or hybrid listing whose zone must come from its
    postcode; its schedules then carry "UTC" as a stand-in that `geocode` replaces.
    """

    source: str
    external_id: str
    name: str
    description: str
    format: str
    join_mode: str
    join_url: str | None
    join_phone: str | None
    join_email: str | None
    join_notes: str | None
    loss_types: tuple[str, ...]
    audiences: tuple[str, ...]
    languages: tuple[str, ...]
    cost: str
    facilitation: str
    accessibility_notes: str | None
    organisation: NormalisedOrganisation | None
    venue_name: str | None
    address_line1: str | None
    address_line2: str | None
    town: str | None
    region: str | None
    postcode: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    geocode_precision: str | None
    timezone: str | None
    service_countries: tuple[str, ...]
    schedules: tuple[Recurrence, ...]
    last_confirmed: dt.date | None
    url: str | None
    content_hash: str

    @property
    def address_key(self) -> str:
        """The venue's identity, folded so "St. Mary's, 1 High St" and "st marys 1 high st"
        are one Location; a bare point when the publisher gave only coordinates."""
        return address_key(
            self.venue_name, self.address_line1, self.postcode, self.country,
            town=self.town, latitude=self.latitude, longitude=self.longitude,
        )


class Rejected(Exception):
    """Raised by the `clean_*` helpers (usable on their own); `normalise` returns it instead."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(str(rejection))
        self.rejection = rejection


def _reject(field: str, value: Any, reason: str) -> Rejected:
    return Rejected(Rejection(field=field, value=value, reason=reason))


# ----------------------------------------------------------------------------- text


def _strip_invisible(text: str, keep_newlines: bool) -> str:
    # str.isprintable() is False for every Cc, Cf and Cs character, so printable text (the
    # usual case) has nothing to strip; the loop below only runs for the rest
    if text.isprintable() or (keep_newlines and all(
            line.isprintable() for line in text.split("\n"))):
        return text
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif cat == "Cc":
            out.append(" " if ch in "\t\n" else "")
        elif cat == "Cs" or (cat == "Cf" and ch not in _KEEP_FORMAT_CHARS):
            continue
        else:
            out.append(ch)
    return "".join(out)


def clean_text(value: Any, field: str, *, required: bool = False, multiline: bool = False,
               limit: int | None = None) -> str | None:
    """Whitespace collapsed, invisible characters dropped, NFC; None for an empty value.

    Multi-line fields keep paragraph breaks (one blank line at most) because descriptions
    are read as paragraphs; everything else becomes one line.
    """
    if value is None:
        if required:
            raise _reject(field, value, f"{field} is required")
        return None
    if isinstance(value, str):
        text = value
    else:
        raise _reject(field, value, f"{field} must be text")
    if text.isprintable():
        # the common case, kept cheap for 100,000-row feeds: no line breaks or invisible
        # characters, and the only whitespace str.split() sees is the plain space
        text = " ".join(text.split())
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
    else:
        text = _LINE_BREAKS.sub("\n", text)
        text = _strip_invisible(text, keep_newlines=multiline)
        if multiline:
            lines = [" ".join(line.split()) for line in text.split("\n")]
            text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        else:
            text = " ".join(text.split())
        text = unicodedata.normalize("NFC", text)
    if not text:
        if required:
            raise _reject(field, value, f"{field} is required")
        return None
    limit = limit if limit is not None else LIMITS.get(field)
    if limit is not None and len(text) > limit:
        raise _reject(field, value, f"{field} is {len(text)} characters long; the limit is {limit}")
    return text


# An http(s) link that `clean_url` would give back exactly as written: lower-case scheme
# and host with a dot, no user, password or port, no empty "?" or "#" (urlunsplit drops them).
_PLAIN_URL = re.compile(
    r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)+|localhost)(?:/[^?#\s]*)?"
    r"(?:\?[^#\s]+)?(?:#\S+)?")


def clean_url(value: Any, field: str) -> str | None:
    """An absolute http(s) link; anything else (javascript:, mailto:, ftp:) is refused."""
    if type(value) is str:
        if value.isascii() and value.isprintable() and _PLAIN_URL.fullmatch(value):
            limit = LIMITS.get(field)
            if limit is None or len(value) <= limit:
                return value
        return _clean_url_text(value, field)
    return _clean_url(value, field)


@functools.lru_cache(maxsize=4096)
def _clean_url_text(value: str, field: str) -> str | None:
    """Cached: an organisation's website is repeated on every one of its listings."""
    return _clean_url(value, field)


def _clean_url(value: Any, field: str) -> str | None:
    text = clean_text(value, field)
    if text is None:
        return None
    if " " in text:
        raise _reject(field, value, f"{field} is not a web address (it contains spaces)")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _reject(field, value, f"{field} must start with http:// or https://")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError as exc:
        raise _reject(field, value, f"{field} is not a valid web address") from exc
    if not host or ("." not in host and host != "localhost"):
        raise _reject(field, value, f"{field} has no website name")
    if parts.username or parts.password:
        raise _reject(field, value, f"{field} must not contain a user name or password")
    return parts._replace(scheme=scheme, netloc=parts.netloc.lower()).geturl()


def clean_email(value: Any, field: str) -> str | None:
    text = clean_text(value, field)
    if text is None:
        return None
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):]
    if not _EMAIL.fullmatch(text):
        raise _reject(field, value, f"{field} is not an email address")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def clean_phone(value: Any, field: str) -> str | None:
    text = clean_text(value, field)
    if text is None:
        return None
    if text.lower().startswith("tel:"):
        text = text[len("tel:"):].strip()
    digits = sum(c.isdigit() for c in text)
    if not _PHONE.fullmatch(text) or not 7 <= digits <= 20:
        raise _reject(field, value, f"{field} is not a phone number")
    return text


def clean_country(value: Any, field: str = "country") -> str | None:
    text = clean_text(value, field)
    if text is None:
        return None
    code = COUNTRY_ALIASES.get(text.upper(), text.upper())
    if not _COUNTRY.fullmatch(code):
        raise _reject(field, value, f"{field} must be a two-letter ISO country code")
    return code


def clean_timezone(value: Any, field: str = "timezone") -> str | None:
    """An IANA zone name; bare offsets ("+01:00", "-5") are refused because they ignore DST."""
    text = clean_text(value, field, limit=64)
    if text is None:
        return None
    try:
        return timezones.check(text)
    except timezones.InvalidTimezone as exc:
        raise _reject(field, value, exc.message) from exc


def clean_codes(values: Any, field: str) -> tuple[str, ...]:
    """Codes of a controlled list in the vocabulary's order, so the hash ignores ordering."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = re.split(r"[,;]", values)
    if not isinstance(values, Iterable):
        raise _reject(field, values, f"{field} must be a list")
    v = _VOCABS[field]
    found = set()
    for raw in values:
        text = clean_text(raw, field, limit=200)
        if text is None:
            continue
        code = _lookup(field, text)
        if code is None:
            raise _reject(field, raw, f"unknown {_NOUNS[field]} {text!r}")
        found.add(code)
    return tuple(c for c in v.codes if c in found)


@functools.lru_cache(maxsize=4096)
def _lookup(field: str, text: str) -> str | None:
    """`Vocabulary.lookup` folds every label on each call; the vocabularies never change."""
    return _VOCABS[field].lookup(text)


def clean_code(value: Any, field: str) -> str:
    text = clean_text(value, field, required=True, limit=200)
    code = _lookup(field, text)
    if code is None:
        raise _reject(field, value, f"unknown {_NOUNS[field]} {text!r}")
    return code


def _by_text(fn: Any) -> Any:
    """`fn(value, field)` remembered for text values: these cleaners are pure, and a feed
    repeats the same few countries, zones and codes on every row. Rejections (exceptions)
    are never remembered, so each row's is raised with its own value."""
    cached = functools.lru_cache(maxsize=4096)(fn)

    def call(value: Any, field: str) -> Any:
        if value is None or type(value) is str:
            return cached(value, field)
        return fn(value, field)

    return call


_country = _by_text(clean_country)
_timezone = _by_text(clean_timezone)
_code = _by_text(clean_code)


@functools.lru_cache(maxsize=4096)
def _codes_cached(values: tuple[str, ...], field: str) -> tuple[str, ...]:
    return clean_codes(values, field)


def _codes(values: Any, field: str) -> tuple[str, ...]:
    if type(values) in (list, tuple) and all(type(v) is str for v in values):
        return _codes_cached(tuple(values), field)
    return clean_codes(values, field)


def clean_float(value: Any, field: str, low: float, high: float) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _reject(field, value, f"{field} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise _reject(field, value, f"{field} must be a number") from exc
    if not math.isfinite(number) or not low <= number <= high:
        raise _reject(field, value, f"{field} must be between {low:g} and {high:g}")
    return round(number, 6)  # about 10 cm: finer digits are noise that would change the hash


def clean_date(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise _reject(field, value, f"{field} must be a date like 2026-12-24") from exc
    raise _reject(field, value, f"{field} must be a date like 2026-12-24")


def clean_time(value: Any, field: str) -> dt.time:
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise _reject(field, value, f"{field} must be a local time without a UTC offset")
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str):
        m = _TIME.fullmatch(value.strip())
        if m:
            return dt.time(int(m.group(1)), int(m.group(2)))
    raise _reject(field, value, f"{field} must be a 24-hour time like 19:00")


def clean_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        raise _reject(field, value, f"{field} must be a whole number")
    return value


def _weekday(value: Any, field: str) -> int:
    """0 = Monday, as in Python; day names ("tue", "Tuesday") as publishers write them."""
    if isinstance(value, str) and not value.strip().isdigit():
        code = vocab.DAYS.lookup(value.strip())
        if code is None:
            raise _reject(field, value, f"unknown weekday {value!r}")
        return vocab.DAYS.codes.index(code)
    day = clean_int(value, field)
    if not 0 <= day <= 6:
        raise _reject(field, value, f"{field} must be 0 (Monday) to 6 (Sunday)")
    return day


@functools.lru_cache(maxsize=65536)  # every meeting at a venue repeats its name and street
def _fold_address_part(text: str | None) -> str:
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub("", text).split())


_NOT_WORD = re.compile(r"[^\w\s]")


def address_key(venue: str | None, line1: str | None, postcode: str | None,
                country: str | None, *, town: str | None = None,
                latitude: float | None = None, longitude: float | None = None) -> str:
    """Case, accents-kept, punctuation and spacing folded; the town counts only without a
    postcode, because publishers name the same place "London" or "Westminster"."""
    fold = _fold_address_part
    parts = [fold(venue), fold(line1), fold(postcode), fold(country)]
    if not postcode:
        parts.append(fold(town))
    if not any(parts[:3]) and latitude is not None and longitude is not None:
        parts.append(f"@{latitude:.5f},{longitude:.5f}")
    return "|".join(parts)


# ----------------------------------------------------------------------------- normalise


def _organisation(org: OrganisationRecord | None) -> NormalisedOrganisation | None:
    if org is None:
        return None
    key = (org.name, org.website, org.email, org.phone)
    if all(v is None or type(v) is str for v in key):
        # a feed repeats its few organisations on every row; the result is immutable
        return _organisation_cached(*key)
    return _clean_organisation(org)


@functools.lru_cache(maxsize=1024)
def _organisation_cached(name: str, website: str | None, email: str | None,
                         phone: str | None) -> NormalisedOrganisation:
    return _clean_organisation(OrganisationRecord(name, website, email, phone))


def _clean_organisation(org: OrganisationRecord) -> NormalisedOrganisation:
    name = clean_text(org.name, "organisation.name", required=True)
    assert name is not None
    return NormalisedOrganisation(
        name=name,
        website=clean_url(org.website, "organisation.website"),
        email=clean_email(org.email, "organisation.email"),
        phone=clean_phone(org.phone, "organisation.phone"),
    )


def _service_countries(values: Any) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = re.split(r"[,;\s]+", values)
    codes = set()
    for raw in values:
        text = clean_text(raw, "service_countries", limit=10)
        if text is None:
            continue
        if text == "*":
            return ("*",)  # worldwide covers every other entry
        code = clean_country(text, "service_countries")
        assert code is not None
        codes.add(code)
    return tuple(sorted(codes))


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone -> the ISO country it belongs to, from the tz database's zone.tab (shipped
    by the tzdata package, or the system's zoneinfo)."""
    text = None
    try:
        from importlib.resources import files

        text = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ImportError, OSError, ModuleNotFoundError):
        from zoneinfo import TZPATH

        for base in TZPATH:
            try:
                text = (Path(base) / "zone.tab").read_text(encoding="utf-8")
                break
            except OSError:
                continue
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                out[parts[2]] = parts[0]
    return out


def zone_country(zone: str) -> str | None:
    """"US" for America/New_York, "GB" for Europe/London; None for Etc/ and unknown zones."""
    return _zone_countries().get(zone)


@dataclass(frozen=True)
class _ScheduleSpec:
    """A schedule as the publisher stated it, before defaults: what the hash covers."""

    freq: str
    interval: int
    weekday: int
    set_pos: int | None
    start_time: dt.time
    duration_minutes: int
    timezone: str | None
    valid_from: dt.date | None
    valid_until: dt.date | None
    cancelled_dates: tuple[dt.date, ...]


_SPEC_FIELDS = ("freq", "interval", "set_pos", "duration_minutes", "weekday", "start_time",
                "timezone", "valid_from", "valid_until")
_SPEC_DEFAULTS = {"interval": 1, "duration_minutes": 90}


def _schedule_spec(rec: Any, i: int) -> _ScheduleSpec:
    """Cached by what `_read_schedule_spec` reads: a feed has few distinct schedules."""
    cancelled = getattr(rec, "cancelled_dates", None)
    if cancelled is None or type(cancelled) in (list, tuple):
        values = [getattr(rec, name, _SPEC_DEFAULTS.get(name)) for name in _SPEC_FIELDS]
        # (type, value) pairs: True == 1 and 1.0 == 1, but only an int is a valid weekday
        key = (i, *((type(v), v) for v in values),
               tuple((type(d), d) for d in cancelled or ()))
        try:
            return _cached_spec(key, rec)
        except TypeError:  # an unhashable value: read it uncached (and reject it there)
            pass
    return _read_schedule_spec(rec, i)


_SPECS: dict[tuple, _ScheduleSpec] = {}
_MAX_SPECS = 8192


def _cached_spec(key: tuple, rec: Any) -> _ScheduleSpec:
    found = _SPECS.get(key)
    if found is None:
        found = _read_schedule_spec(rec, key[0])
        if len(_SPECS) >= _MAX_SPECS:
            _SPECS.clear()
        _SPECS[key] = found
    return found


def _read_schedule_spec(rec: Any, i: int) -> _ScheduleSpec:
    where = f"schedules[{i}]"
    freq_raw = clean_text(getattr(rec, "freq", None), f"{where}.freq", required=True, limit=30)
    assert freq_raw is not None
    freq = freq_raw.lower()
    interval = clean_int(getattr(rec, "interval", 1) or 1, f"{where}.interval")
    if freq in _FREQ_SYNONYMS:
        freq, every = _FREQ_SYNONYMS[freq]
        if interval != 1:
            raise _reject(f"{where}.interval", interval,
                          f"{freq_raw!r} already means every {every} weeks")
        interval = every
    if freq not in ("weekly", "monthly"):
        raise _reject(f"{where}.freq", freq_raw, f"unknown frequency {freq_raw!r}")
    set_pos = getattr(rec, "set_pos", None)
    set_pos = None if set_pos in (None, "") else clean_int(set_pos, f"{where}.set_pos")
    duration = getattr(rec, "duration_minutes", 90)
    cancelled = getattr(rec, "cancelled_dates", None) or []
    if isinstance(cancelled, str | bytes) or not isinstance(cancelled, Iterable):
        raise _reject(f"{where}.cancelled_dates", cancelled, "cancelled_dates must be a list")
    dates = {clean_date(d, f"{where}.cancelled_dates") for d in cancelled}
    return _ScheduleSpec(
        freq=freq,
        interval=interval,
        weekday=_weekday(getattr(rec, "weekday", None), f"{where}.weekday"),
        set_pos=set_pos,
        start_time=clean_time(getattr(rec, "start_time", None), f"{where}.start_time"),
        duration_minutes=clean_int(90 if duration is None else duration,
                                   f"{where}.duration_minutes"),
        timezone=clean_timezone(getattr(rec, "timezone", None), f"{where}.timezone"),
        valid_from=clean_date(getattr(rec, "valid_from", None), f"{where}.valid_from"),
        valid_until=clean_date(getattr(rec, "valid_until", None), f"{where}.valid_until"),
        cancelled_dates=tuple(sorted(d for d in dates if d is not None)),
    )


@functools.lru_cache(maxsize=4096)  # the arguments are immutable, and so is a Recurrence
def _recurrence(spec: _ScheduleSpec, i: int, timezone: str | None, today: dt.date) -> Recurrence:
    if spec.valid_from is None and spec.interval > 1:
        # without an anchor "every other Tuesday" could be either half of the Tuesdays
        raise _reject(f"schedules[{i}].valid_from", None,
                      f"every {spec.interval} {'weeks' if spec.freq == 'weekly' else 'months'} "
                      f"needs a first meeting date (valid_from) to count from")
    valid_from = spec.valid_from or today
    if spec.valid_until is not None and spec.valid_from is None and spec.valid_until < today:
        valid_from = spec.valid_until  # an ended series: keep it valid, it simply has no dates
    try:
        return Recurrence(
            freq=spec.freq, interval=spec.interval, weekday=spec.weekday, set_pos=spec.set_pos,
            start_time=spec.start_time, duration_minutes=spec.duration_minutes,
            timezone=spec.timezone or timezone or "UTC", valid_from=valid_from,
            valid_until=spec.valid_until, cancelled_dates=frozenset(spec.cancelled_dates),
        )
    except ValueError as exc:
        raise _reject(f"schedules[{i}]", dataclasses.asdict(spec), str(exc)) from exc


_PLAIN = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _canonical(value: Any) -> Any:
    """JSON-ready: dataclasses as dicts, dates and times as ISO text, tuples as lists.

    Reads dataclass fields directly: `dataclasses.asdict` deep-copies every value first,
    which cost more than the rest of the hash. The output (and so every stored hash) is the
    same as converting with `asdict`.
    """
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(type(value))
        if names is None:
            names = _FIELD_NAMES[type(value)] = tuple(
                f.name for f in dataclasses.fields(value))
        return {k: _canonical(getattr(value, k)) for k in names}
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def content_hash(content: dict[str, Any]) -> str:
    """sha256 of sorted-key JSON: the same content always gives the same hash.

    The JSON is `json.dumps(_canonical(...), sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))`, byte for byte (stored hashes must not change); `_json` writes
    it faster for the plain values a listing holds, and remembers the JSON of the few
    schedules and organisations a feed repeats.
    """
    return hashlib.sha256(_json_bytes({"v": NORMALISER_VERSION, **content})).hexdigest()


def _json_bytes(content: dict[str, Any]) -> bytes:
    """`_json(content)` as UTF-8, written by orjson (several times faster) when its output is
    the same byte for byte: text (orjson escapes exactly as `json.dumps` with
    `ensure_ascii=False`), whole numbers, booleans, dates, lists of codes, and the schedules
    and organisation as `_json` writes them (`orjson.Fragment`). A float below 1e-4, not
    finite, or anything else (which the two would write differently) goes to `_json`."""
    for value in content.values():
        t = type(value)
        if t in _ORJSON_SAME:
            continue
        if t is float:
            if not (value == 0 or 1e-4 <= abs(value) < math.inf):
                return _json(content).encode()
        elif t is tuple or t is list:
            for item in value:
                if type(item) is not str and type(item) is not _ScheduleSpec:
                    return _json(content).encode()
        else:
            return _json(content).encode()
    try:
        return orjson.dumps(content, default=_fragment,
                            option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS)
    except orjson.JSONEncodeError:  # a lone surrogate, a huge integer: `_json` decides
        return _json(content).encode()


def _fragment(value: Any) -> orjson.Fragment:
    """A schedule or organisation inside `_json_bytes`: as `_json` writes it (remembered)."""
    if type(value) is _ScheduleSpec or type(value) is NormalisedOrganisation:
        found = _SUB_FRAGMENT.get(value)
        if found is None:
            if len(_SUB_FRAGMENT) >= _MAX_SUB_JSON:
                _SUB_FRAGMENT.clear()
            found = _SUB_FRAGMENT[value] = orjson.Fragment(_json(value))
        return found
    raise TypeError(f"not written by orjson: {type(value).__name__}")


_encode_str = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
_SUB_JSON: dict[Any, str] = {}  # JSON of immutable schedule specs and organisations
_KEY_ORDER: dict[tuple[str, ...], list[tuple[str, str]]] = {}  # a listing has one key set
_MAX_SUB_JSON = 8192
_SUB_FRAGMENT: dict[Any, orjson.Fragment] = {}


def _json_general(value: Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))


def _json(value: Any) -> str:
    t = type(value)
    if t is str:
        return _encode_str(value)
    if value is None:
        return "null"
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return int.__repr__(value)
    if t is float:
        if math.isfinite(value):
            return float.__repr__(value)
        return _json_general(value)
    if t is list or t is tuple:
        return "[" + ",".join([_json(v) for v in value]) + "]"
    if t is dict and all(type(k) is str for k in value):
        keys = tuple(value)
        order = _KEY_ORDER.get(keys)
        if order is None:  # the sorted keys, each as '"key":'
            if len(_KEY_ORDER) > 64:
                _KEY_ORDER.clear()
            order = _KEY_ORDER[keys] = [(k, _encode_str(k) + ":") for k in sorted(keys)]
        parts = []
        for k, label in order:
            v = value[k]
            t = type(v)
            if t is str:
                parts.append(label + _encode_str(v))
            elif v is None:
                parts.append(label + "null")
            elif t is tuple or t is list:
                try:  # a list of text, as codes and country lists are
                    parts.append(label + "[" + ",".join(map(_encode_str, v)) + "]")
                except TypeError:
                    parts.append(label + _json(v))
            else:
                parts.append(label + _json(v))
        return "{" + ",".join(parts) + "}"
    if t is dt.date or t is dt.time:
        return _encode_str(value.isoformat())
    if t is _ScheduleSpec or t is NormalisedOrganisation:
        found = _SUB_JSON.get(value)
        if found is None:
            found = _json_general(value)
            if len(_SUB_JSON) >= _MAX_SUB_JSON:
                _SUB_JSON.clear()
            _SUB_JSON[value] = found
        return found
    return _json_general(value)


# values `_json_bytes` hands to orjson as they are (floats and lists are checked apart)
_ORJSON_SAME = frozenset({str, int, bool, type(None), dt.date, NormalisedOrganisation,
                          _ScheduleSpec})


# ----------------------------------------------------------------------------- stored hash

HALF = 32  # hex digits of each half of a stored hash


@functools.cache
def _code_salt() -> bytes:
    """What decides how a record normalises: this module, the record types, the
    vocabularies, schedule and postcode validation (and the Python running them). A change
    to any of them changes every fingerprint, so the next run normalises every record again
    (rewriting only those whose content then differs)."""
    digest = hashlib.sha256(f"{NORMALISER_VERSION}|{sys.version}".encode())
    try:
        for module in (sys.modules[__name__], _records_module, vocab, _schedules_module,
                       _postcode_module):
            digest.update(Path(module.__file__).read_bytes())
    except (OSError, TypeError, AttributeError):
        return os.urandom(16)  # unknown code: fingerprints never match, nothing is skipped
    return digest.digest()


def record_hash(record: ListingRecord) -> str:
    """A fingerprint of `record` as the adapter read it (source defaults applied).

    Every field is in it (records hold plain values: text, numbers, dates, lists and nested
    records), so two records with the same fingerprint normalise to the same listing. orjson
    writes a record in a third of the time its repr takes; what JSON cannot tell apart (a
    point that is not a finite number is written as null) or cannot write is fingerprinted
    by its repr instead. A value without a stable repr only makes the fingerprint differ
    from run to run, which costs a normalisation, never a wrong skip.
    """
    try:
        if _finite(record.latitude) and _finite(record.longitude):
            body = orjson.dumps(record)
        else:
            body = repr(record).encode()
    except TypeError:
        body = repr(record).encode()
    return hashlib.blake2b(_code_salt() + body, digest_size=HALF // 2).hexdigest()


def _finite(value: object) -> bool:
    return type(value) is not float or math.isfinite(value)  # type: ignore[arg-type]


def stored_hash(listing: NormalisedListing, fingerprint: str) -> str:
    """What a run stores for `listing`, read from a record with this fingerprint; the
    record half (from HALF on) is what `store.mark_unchanged` compares."""
    return listing.content_hash[:HALF] + fingerprint


def same_content(stored: str, content_hash: str) -> bool:
    """The stored listing has this content (whatever path stored it)."""
    return stored[:HALF] == content_hash[:HALF]


def with_content_hash(listing: NormalisedListing, content_hash: str) -> NormalisedListing:
    """`dataclasses.replace(listing, content_hash=...)` without running the 33-field
    constructor again: the listing is frozen, so the copy can share every other value."""
    copy = object.__new__(NormalisedListing)
    copy.__dict__.update(listing.__dict__)
    copy.__dict__["content_hash"] = content_hash
    return copy


def listing_key(record: ListingRecord) -> tuple[str, str] | None:
    """(source, external_id) as `normalise` will clean them; None when it will reject them."""
    try:
        source = clean_text(record.source, "source", required=True)
        external_id = clean_text(record.external_id, "external_id", required=True)
    except Rejected:
        return None
    assert source is not None and external_id is not None
    return source, external_id


def normalise(
    record: ListingRecord, *, today: dt.date | None = None
) -> NormalisedListing | Rejection:
    """The record in the model's terms, or the first reason it cannot be listed.

    `today` only fills a missing start date of a weekly/monthly schedule (that date is
    left out of the hash, so normalising tomorrow does not look like a change).
    """
    try:
        return _normalise(record, today or dt.datetime.now(dt.UTC).date())
    except Rejected as exc:
        return exc.rejection


def _normalise(r: ListingRecord, today: dt.date) -> NormalisedListing:
    source = clean_text(r.source, "source", required=True)
    external_id = clean_text(r.external_id, "external_id", required=True)
    name = clean_text(r.name, "name", required=True)
    fmt = _code(r.format, "format")
    join_mode = _code(r.join_mode, "join_mode")
    country = _country(r.country, "country")
    timezone = _timezone(r.timezone, "timezone")
    join = {
        "join_url": clean_url(r.join_url, "join_url"),
        "join_phone": clean_phone(r.join_phone, "join_phone"),
        "join_email": clean_email(r.join_email, "join_email"),
    }
    if join_mode != "drop_in" and not any(join.values()):
        raise _reject("join_mode", r.join_mode,
                      f"'{vocab.JOIN.label(join_mode)}' needs a join link, email or phone")

    place: dict[str, Any] = {
        "venue_name": None, "address_line1": None, "address_line2": None, "town": None,
        "region": None, "postcode": None, "latitude": None, "longitude": None,
    }
    precision = None
    if fmt != "virtual":
        for key in ("venue_name", "address_line1", "address_line2", "town", "region"):
            place[key] = clean_text(getattr(r, key), key)
        place["latitude"] = clean_float(r.latitude, "latitude", -90, 90)
        place["longitude"] = clean_float(r.longitude, "longitude", -180, 180)
        has_point = place["latitude"] is not None and place["longitude"] is not None
        if (place["latitude"] is None) != (place["longitude"] is None):
            missing = "longitude" if place["longitude"] is None else "latitude"
            raise _reject(missing, None, "give both latitude and longitude, or neither")
        if has_point and place["latitude"] == 0 and place["longitude"] == 0:
            raise _reject("latitude", r.latitude, "0,0 is a missing location, not a venue")
        postcode = clean_text(r.postcode, "postcode")
        if not (place["address_line1"] or postcode or has_point):
            # nothing to find the venue by: say that first, whatever else is missing
            raise _reject("address_line1", r.address_line1,
                          f"a {vocab.FORMAT.label(fmt).lower()} group needs an address, "
                          f"a postcode or coordinates")
        if country is None:
            raise _reject("country", r.country, f"a {vocab.FORMAT.label(fmt).lower()} group "
                                                f"needs a country")
        if postcode is not None:
            spelt = postcode_for_country(country, postcode)
            if spelt is None:
                raise _reject("postcode", r.postcode,
                              f"{postcode!r} is not a postcode in {country}")
            place["postcode"] = spelt[1]
        precision = "given" if has_point else None
    if timezone is None and country is not None:
        timezone = SINGLE_ZONE.get(country)

    services: tuple[str, ...] = ()
    if fmt != "in_person":
        services = _service_countries(r.service_countries)
        if not services and country is not None:
            services = (country,)
        if not services:
            # nothing says who it serves: the country its meeting times are set in
            zone = timezone or next((s.timezone for s in r.schedules or ()
                                     if isinstance(getattr(s, "timezone", None), str)), None)
            found = zone_country(zone) if isinstance(zone, str) else None
            services = (found,) if found else ()
            if zone is None and fmt == "virtual":
                # neither countries nor a zone: the times cannot be placed, say that first
                raise _reject("timezone", r.timezone, "an online group needs a timezone (an "
                                                      "IANA name such as Europe/London)")
        if not services:
            raise _reject("service_countries", list(r.service_countries or []),
                          "an online group needs the countries it serves (or '*' for anywhere)")

    specs = list(r.schedules or [])
    if not specs:
        raise _reject("schedules", [], "a listing needs at least one meeting schedule")
    if len(specs) > MAX_SCHEDULES:
        raise _reject("schedules", len(specs), f"at most {MAX_SCHEDULES} schedules")
    parsed = [_schedule_spec(s, i) for i, s in enumerate(specs)]
    if timezone is None:
        given = next((s.timezone for s in parsed if s.timezone), None)
        if fmt == "virtual" and given is None:
            raise _reject("timezone", r.timezone,
                          "an online group needs a timezone (an IANA name such as Europe/London)")
        timezone = given  # None: geocode() finds it from the postcode
    built = {spec: _recurrence(spec, i, timezone, today) for i, spec in enumerate(parsed)}
    schedule_specs = list(built)  # a schedule listed twice is one schedule
    schedules = tuple(built.values())

    fields: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "name": name,
        "description": clean_text(r.description, "description", multiline=True) or "",
        "format": fmt,
        "join_mode": join_mode,
        **join,
        "join_notes": clean_text(r.join_notes, "join_notes", multiline=True),
        "loss_types": _codes(r.loss_types, "loss_types"),
        "audiences": _codes(r.audiences, "audiences"),
        "languages": _codes(r.languages, "languages") or ("en",),
        "cost": _code(r.cost or "free", "cost"),
        "facilitation": _code(r.facilitation or "peer", "facilitation"),
        "accessibility_notes": clean_text(r.accessibility_notes, "accessibility_notes",
                                          multiline=True),
        "organisation": _organisation(r.organisation),
        **place,
        "country": country,
        "timezone": timezone,
        "service_countries": services,
        "last_confirmed": clean_date(r.last_confirmed, "last_confirmed"),
        "url": clean_url(r.url, "url"),
    }
    hashed = {k: v for k, v in fields.items() if k not in ("source", "external_id")}
    hashed["schedules"] = schedule_specs
    return NormalisedListing(
        **fields, geocode_precision=precision, schedules=schedules,
        content_hash=content_hash(hashed),
    )
