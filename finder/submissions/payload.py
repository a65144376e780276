"""The group JSON organisations send (API and form alike) <-> `ListingRecord`, and its
validation. Pure: no database, no Flask (geocoding is the caller's step; see `service`).

The shape mirrors the read API's group (`finder.api.openapi`, schema `Group`), so a group as
`GET /api/v1/organisations/me/groups` shows it can be sent back with `PATCH`:

    {"name": "...", "description": "...", "format": "in_person" | "virtual" | "hybrid",
     "join": {"mode": "drop_in", "url": null, "phone": null, "email": null, "notes": null},
     "location": {"venue_name", "address_line1", "address_line2", "town", "region",
                  "postcode", "country", "latitude", "longitude", "geocode_precision"},
     "timezone": "Europe/London", "service_countries": ["GB"],
     "schedules": [{"freq": "weekly" | "monthly", "interval": 1, "weekday": 0-6 (0 = Monday)
                    or "mon".."sun", "set_pos": 1-4 or -1 (monthly only), "start_time": "19:00",
                    "duration_minutes": 90, "timezone": null, "valid_from": "2026-01-06",
                    "valid_until": null, "cancelled_dates": ["2026-12-29"]}],
     "loss_types": ["miscarriage"], "audiences": [], "languages": ["en"],
     "cost": "free", "facilitation": "peer", "accessibility_notes": null}

Codes are the vocabularies' codes (`finder.vocab`); `{"code": ..., "label": ...}` objects as
the read API gives them are accepted too. Keys the read API shows but an organisation cannot
set (`id`, `status`, `organisation`, `links`, labels...) are ignored; any other unknown key is
an error, so a typo is never silently dropped. `location.latitude`/`longitude` are used only
when `location.geocode_precision` is absent or "given": coordinates we derived from a postcode
are derived again, so sending a group back unchanged does not turn them into "given" ones.
A virtual group's location and an in-person group's service countries are ignored.

Validation returns every error at once, each naming its field in this JSON's terms
(`schedules[0].weekday`, `join.url`, `loss_types[1]`) and quoting the value. A group that
passes is then normalised (`finder.listings.normalise`); its rejection (and geocoding's) is
translated to the same form by `rejection_error`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finder import timezones, vocab
from finder.accounts.text import shown
from finder.geocode.normalise import postcode_for_country
from finder.listings import normalise as norm
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from finder.schedules import SET_POSITIONS

SOURCE = "submission"  # the `source` of submitted listings (no ListingSource row is made)

MAX_SCHEDULES = norm.MAX_SCHEDULES
MAX_CANCELLED_DATES = 100
MAX_LIST_ITEMS = 50  # codes and countries: more than any vocabulary holds
MAX_INTERVAL = 12
# what the read API's group shows that a submission cannot set: accepted and ignored
READ_ONLY = frozenset({
    "id", "format_label", "status", "organisation", "distance", "distance_unit",
    "next_meeting", "links", "sources", "updated_at", "last_confirmed",
})
GROUP_KEYS = frozenset({
    "name", "description", "format", "join", "location", "timezone", "service_countries",
    "schedules", "loss_types", "audiences", "languages", "cost", "facilitation",
    "accessibility_notes",
})
JOIN_KEYS = ("mode", "url", "phone", "email", "notes")
LOCATION_KEYS = ("venue_name", "address_line1", "address_line2", "town", "region",
                 "postcode", "country", "latitude", "longitude", "geocode_precision")
SCHEDULE_KEYS = ("freq", "interval", "weekday", "set_pos", "start_time", "duration_minutes",
                 "timezone", "valid_from", "valid_until", "cancelled_dates")
SCHEDULE_READ_ONLY = frozenset({"description", "rrule"})
# the few keys of a request that are about the submission, not the group
REQUEST_KEYS = frozenset({"note", "not_duplicate_of"})
MAX_NOTE = 2000

# the flat names normalisation and the listing store use -> this JSON's paths
FLAT_TO_PATH = {
    "join_mode": "join.mode", "join_url": "join.url", "join_phone": "join.phone",
    "join_email": "join.email", "join_notes": "join.notes",
    **{k: f"location.{k}" for k in LOCATION_KEYS},
}
PATH_TO_FLAT = {v: k for k, v in FLAT_TO_PATH.items()}

_VOCABS = {"format": vocab.FORMAT, "join.mode": vocab.JOIN, "loss_types": vocab.LOSS,
           "audiences": vocab.AUDIENCE, "languages": vocab.LANGUAGE, "cost": vocab.COST,
           "facilitation": vocab.FACILITATION}
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::00)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class FieldError:
    field: str  # a path in the group JSON; "" for the body as a whole
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class Invalid(ValueError):
    """Every reason a group cannot be accepted, each naming its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    def as_list(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]


def q(value: Any) -> str:
    """A value as quoted in a message: typed text shown safely and cut short."""
    if isinstance(value, str):
        return f"“{shown(value, 60)}”"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"



def known_countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes of every country with a time zone (the tz database's list)."""
    return _countries()


def _countries() -> frozenset[str]:
    global _COUNTRIES
    if _COUNTRIES is None:
        _COUNTRIES = frozenset(norm._zone_countries().values()) | {"GB", "US"}
    return _COUNTRIES


_COUNTRIES: frozenset[str] | None = None


class _Check:
    """Collects field errors while reading one body."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def unknown_keys(self, data: Mapping, allowed: Any, where: str) -> None:
        for key in data:
            if key not in allowed:
                name = f"{where}.{key}" if where else str(key)
                self.add(name, f"unknown field {q(key)}; the fields are "
                               f"{', '.join(sorted(k for k in allowed if k not in READ_ONLY))}")

    def text(self, value: Any, field: str, *, required: bool = False, multiline: bool = False,
             limit: int) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(field, f"{field} is required")
            return None
        if not isinstance(value, str):
            self.add(field, f"{field} must be text, not {q(value)}")
            return None
        cleaned = norm.clean_text(value, field, multiline=multiline, limit=10**9)
        if cleaned is None:
            if required:
                self.add(field, f"{field} is required (only invisible characters were given)")
            return None
        if len(cleaned) > limit:
            self.add(field, f"{field} has {len(cleaned)} characters; at most {limit}")
            return None
        return cleaned

    def code(self, value: Any, field: str, *, default: str | None = None) -> str | None:
        v = _VOCABS[field.split("[")[0]]
        if isinstance(value, Mapping) and "code" in value:
            value = value["code"]
        if value is None or value == "":
            if default is None:
                self.add(field, f"{field} is required: one of {', '.join(v.codes)}")
            return default
        if not isinstance(value, str) or value not in v.codes:
            self.add(field, f"unknown {field.split('[')[0].split('.')[-1].rstrip('s')} "
                            f"{q(value)}; use one of {', '.join(v.codes)}")
            return None
        return value

    def codes(self, values: Any, field: str) -> list[str]:
        if values is None:
            return []
        if not isinstance(values, list):
            self.add(field, f"{field} must be a list of codes, not {q(values)}")
            return []
        if len(values) > MAX_LIST_ITEMS:
            self.add(field, f"{field} has {len(values)} entries; at most {MAX_LIST_ITEMS}")
            return []
        found = []
        for i, raw in enumerate(values):
            code = self.code(raw, f"{field}[{i}]", default="")
            if code and code not in found:
                found.append(code)
        return found

    def link(self, value: Any, field: str) -> str | None:
        if not self._plain(value, field):
            return None
        try:
            return norm.clean_url(value, field)
        except norm.Rejected:
            self.add(field, f"{q(value)} is not a web address starting with https:// or "
                            f"http:// (at most {norm.LIMITS[PATH_TO_FLAT.get(field, field)]} "
                            "characters)")
            return None

    def email(self, value: Any, field: str) -> str | None:
        if not self._plain(value, field):
            return None
        try:
            return norm.clean_email(value, PATH_TO_FLAT[field])
        except norm.Rejected:
            self.add(field, f"{q(value)} is not an email address")
            return None

    def phone(self, value: Any, field: str) -> str | None:
        if not self._plain(value, field):
            return None
        try:
            return norm.clean_phone(value, PATH_TO_FLAT[field])
        except norm.Rejected:
            self.add(field, f"{q(value)} is not a phone number (digits, spaces, + ( ) - .)")
            return None

    def _plain(self, value: Any, field: str) -> bool:
        """Present and text (None and "" are absent)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return False
        if not isinstance(value, str):
            self.add(field, f"{field} must be text, not {q(value)}")
            return False
        if len(value) > 2000:
            self.add(field, f"{field} has {len(value)} characters; at most "
                            f"{norm.LIMITS.get(PATH_TO_FLAT.get(field, field), 2000)}")
            return False
        return True

    def country(self, value: Any, field: str, *, worldwide: bool = False) -> str | None:
        if isinstance(value, str) and value.strip().upper() in norm.COUNTRY_ALIASES:
            value = norm.COUNTRY_ALIASES[value.strip().upper()]
        if worldwide and value == "*":
            return "*"
        if not isinstance(value, str) or value.strip().upper() not in _countries():
            also = " or \"*\" for anywhere" if worldwide else ""
            self.add(field, f"{q(value)} is not a two-letter ISO country code such as GB or "
                            f"US{also}")
            return None
        return value.strip().upper()

    def timezone(self, value: Any, field: str) -> str | None:
        if value is None or value == "":
            return None
        try:
            return timezones.check(value)
        except timezones.InvalidTimezone as exc:
            self.add(field, exc.message)
            return None

    def integer(self, value: Any, field: str, low: int, high: int, *,
                default: int | None = None, what: str = "") -> int | None:
        if value is None:
            if default is None:
                self.add(field, f"{field} is required{what}")
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not value.is_integer()):
            self.add(field, f"{field} must be a whole number{what}, not {q(value)}")
            return None
        if not low <= value <= high:
            self.add(field, f"{q(value)} is out of range: {field} is {low} to {high}{what}")
            return None
        return int(value)

    def number(self, value: Any, field: str, low: float, high: float) -> float | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            self.add(field, f"{field} must be a number, not {q(value)}")
            return None
        if not low <= value <= high:
            self.add(field, f"{q(value)} is out of range: {field} is {low:g} to {high:g}")
            return None
        return float(value)

    def date(self, value: Any, field: str) -> dt.date | None:
        if value is None or value == "":
            return None
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                day = None
            if day is not None:
                if not 2000 <= day.year <= 2100:
                    self.add(field, f"{q(value)} is not a date between 2000 and 2100")
                    return None
                return day
        self.add(field, f"{q(value)} is not a date like 2026-12-24")
        return None

    def clock(self, value: Any, field: str) -> dt.time | None:
        if value is None or value == "":
            self.add(field, f"{field} is required: a 24-hour time like 19:00")
            return None
        m = _TIME.fullmatch(value.strip()) if isinstance(value, str) else None
        if m is None:
            self.add(field, f"{q(value)} is not a 24-hour time like 19:00 (00:00 to 23:59)")
            return None
        return dt.time(int(m.group(1)), int(m.group(2)))


def _weekday(check: _Check, value: Any, field: str) -> int | None:
    what = " (0 = Monday ... 6 = Sunday, or mon ... sun)"
    if isinstance(value, str) and value.strip() and not value.strip().lstrip("-").isdigit():
        code = vocab.DAYS.lookup(value.strip())
        if code is None:
            check.add(field, f"unknown weekday {q(value)}{what}")
            return None
        return vocab.DAYS.codes.index(code)
    if isinstance(value, str) and value.strip():
        value = int(value.strip())
    return check.integer(value, field, 0, 6, what=what)


def _schedule(check: _Check, raw: Any, i: int) -> ScheduleRecord | None:
    where = f"schedules[{i}]"
    if not isinstance(raw, Mapping):
        check.add(where, f"{where} must be an object with freq, weekday, start_time..., "
                         f"not {q(raw)}")
        return None
    before = len(check.errors)
    check.unknown_keys(raw, (*SCHEDULE_KEYS, *SCHEDULE_READ_ONLY), where)
    freq = raw.get("freq")
    if freq not in ("weekly", "monthly"):
        if freq is None and "rrule" in raw:
            check.add(where, f"{where}: give freq, weekday, start_time (and interval, "
                             "set_pos, valid_from...); rrule and description are read-only")
            return None
        else:
            check.add(f"{where}.freq", f"{where}.freq must be \"weekly\" or \"monthly\", "
                                       f"not {q(freq)}")
        freq = None
    interval = check.integer(raw.get("interval"), f"{where}.interval", 1, MAX_INTERVAL,
                             default=1, what=" (every N weeks or months)")
    weekday = _weekday(check, raw.get("weekday"), f"{where}.weekday")
    set_pos = raw.get("set_pos")
    if freq == "monthly":
        if set_pos is None:
            check.add(f"{where}.set_pos", f"{where}.set_pos is required for a monthly "
                                          "schedule: 1, 2, 3, 4 (first to fourth) or -1 (last)")
        elif isinstance(set_pos, bool) or set_pos not in SET_POSITIONS:
            check.add(f"{where}.set_pos", f"{q(set_pos)} is not a week of the month: use 1, 2, "
                                          "3, 4 (first to fourth) or -1 (last)")
            set_pos = None
    elif freq == "weekly" and set_pos is not None:
        check.add(f"{where}.set_pos", f"a weekly schedule has no set_pos (got {q(set_pos)}); "
                                      "use freq \"monthly\" for \"first Saturday\"")
    start = check.clock(raw.get("start_time"), f"{where}.start_time")
    duration = check.integer(raw.get("duration_minutes"), f"{where}.duration_minutes", 1, 1440,
                             default=90, what=" (minutes)")
    zone = check.timezone(raw.get("timezone"), f"{where}.timezone")
    valid_from = check.date(raw.get("valid_from"), f"{where}.valid_from")
    valid_until = check.date(raw.get("valid_until"), f"{where}.valid_until")
    if valid_from and valid_until and valid_until < valid_from:
        check.add(f"{where}.valid_until", f"{where}.valid_until ({valid_until}) is before "
                                          f"valid_from ({valid_from})")
    if interval and interval > 1 and valid_from is None and "valid_from" not in {
            e.field.rpartition(".")[2] for e in check.errors[before:]}:
        check.add(f"{where}.valid_from", f"every {interval} "
                  f"{'weeks' if freq != 'monthly' else 'months'} needs the first meeting's "
                  "date (valid_from) to count from")
    cancelled_raw = raw.get("cancelled_dates")
    cancelled: list[dt.date] = []
    if cancelled_raw is not None:
        if not isinstance(cancelled_raw, list):
            check.add(f"{where}.cancelled_dates", f"{where}.cancelled_dates must be a list of "
                                                  f"dates, not {q(cancelled_raw)}")
        elif len(cancelled_raw) > MAX_CANCELLED_DATES:
            check.add(f"{where}.cancelled_dates", f"{where}.cancelled_dates has "
                      f"{len(cancelled_raw)} dates; at most {MAX_CANCELLED_DATES}")
        else:
            for j, d in enumerate(cancelled_raw):
                day = check.date(d, f"{where}.cancelled_dates[{j}]")
                if day is not None and day not in cancelled:
                    cancelled.append(day)
    if len(check.errors) > before:
        return None
    return ScheduleRecord(freq=freq, weekday=weekday, start_time=start, interval=interval,
                          set_pos=set_pos if freq == "monthly" else None,
                          duration_minutes=duration, timezone=zone, valid_from=valid_from,
                          valid_until=valid_until, cancelled_dates=sorted(cancelled))


def _location(check: _Check, raw: Any, fmt: str) -> dict[str, Any]:
    place: dict[str, Any] = {}
    label = "in person" if fmt == "in_person" else "in person (hybrid)"
    if raw is None:
        check.add("location", f"a group that meets {label} needs a location: an address, a "
                              "postcode or coordinates, and its country")
        return place
    if not isinstance(raw, Mapping):
        check.add("location", f"location must be an object, not {q(raw)}")
        return place
    check.unknown_keys(raw, LOCATION_KEYS, "location")
    for key in ("venue_name", "address_line1", "address_line2", "town", "region"):
        place[key] = check.text(raw.get(key), f"location.{key}", limit=norm.LIMITS[key])
    country = None
    if raw.get("country") in (None, ""):
        check.add("location.country", f"a group that meets {label} needs its country (a "
                                      "two-letter code such as GB or US)")
    else:
        country = check.country(raw.get("country"), "location.country")
    place["country"] = country
    postcode = check.text(raw.get("postcode"), "location.postcode", limit=norm.LIMITS["postcode"])
    if postcode is not None and country is not None:
        spelt = postcode_for_country(country, postcode)
        if spelt is None:
            check.add("location.postcode", f"{q(postcode)} is not a postcode in {country}")
            postcode = None
        else:
            postcode = spelt[1]
    place["postcode"] = postcode
    precision = raw.get("geocode_precision")
    lat = lng = None
    if precision in (None, "", "given", "point"):
        lat = check.number(raw.get("latitude"), "location.latitude", -90, 90)
        lng = check.number(raw.get("longitude"), "location.longitude", -180, 180)
        if (lat is None) != (lng is None) and not any(
                e.field in ("location.latitude", "location.longitude") for e in check.errors):
            missing = "location.longitude" if lng is None else "location.latitude"
            check.add(missing, "give both latitude and longitude, or neither")
        if lat == 0 and lng == 0:
            check.add("location.latitude", "0,0 is a missing location, not a venue")
    place["latitude"], place["longitude"] = lat, lng
    given_point = precision in (None, "", "given", "point") and raw.get("latitude") not in (
        None, "")
    if not (place.get("address_line1") or raw.get("postcode") or given_point):
        check.add("location", f"a group that meets {label} needs where it meets: an address "
                              "(address_line1), a postcode or coordinates")
    return place


def parse_group(data: Any, *, organisation: OrganisationRecord | None = None,
                external_id: str = "new") -> ListingRecord:
    """The record `data` describes, or Invalid with every error found."""
    check = _Check()
    if not isinstance(data, Mapping):
        raise Invalid([FieldError("", f"the body must be a JSON object (a group), not "
                                      f"{q(data)}")])
    check.unknown_keys(data, GROUP_KEYS | READ_ONLY, "")
    name = check.text(data.get("name"), "name", required=True, limit=norm.LIMITS["name"])
    description = check.text(data.get("description"), "description", multiline=True,
                             limit=norm.LIMITS["description"]) or ""
    fmt = check.code(data.get("format"), "format")
    join = data.get("join")
    join_values: dict[str, Any] = {}
    if not isinstance(join, Mapping):
        check.add("join", f"join is required: an object with mode ({', '.join(vocab.JOIN.codes)})"
                          f" and url, email or phone" + ("" if join is None else
                                                        f", not {q(join)}"))
        join = {}
    else:
        check.unknown_keys(join, (*JOIN_KEYS, "label"), "join")
        join_values["join_mode"] = check.code(join.get("mode"), "join.mode")
        join_values["join_url"] = check.link(join.get("url"), "join.url")
        join_values["join_phone"] = check.phone(join.get("phone"), "join.phone")
        join_values["join_email"] = check.email(join.get("email"), "join.email")
        join_values["join_notes"] = check.text(join.get("notes"), "join.notes", multiline=True,
                                               limit=norm.LIMITS["join_notes"])
        mode = join_values["join_mode"]
        if mode and mode != "drop_in" and not any(
                join.get(k) for k in ("url", "phone", "email")):
            check.add("join", f"“{vocab.JOIN.label(mode)}” needs a join link (url), an email "
                              "or a phone number")
    zone = check.timezone(data.get("timezone"), "timezone")
    place: dict[str, Any] = {}
    if fmt in ("in_person", "hybrid"):
        place = _location(check, data.get("location"), fmt)
    services: list[str] = []
    if fmt in ("virtual", "hybrid"):
        raw = data.get("service_countries")
        if raw is None or raw == []:
            if fmt == "virtual":
                check.add("service_countries", "an online group needs the countries it serves "
                                               "(two-letter codes such as [\"GB\"], or [\"*\"] "
                                               "for anywhere)")
        elif not isinstance(raw, list):
            check.add("service_countries", f"service_countries must be a list of country "
                                           f"codes, not {q(raw)}")
        elif len(raw) > MAX_LIST_ITEMS:
            check.add("service_countries", f"service_countries has {len(raw)} entries; at "
                                           f"most {MAX_LIST_ITEMS}")
        else:
            for i, c in enumerate(raw):
                code = check.country(c, f"service_countries[{i}]", worldwide=True)
                if code and code not in services:
                    services.append(code)
    raw_schedules = data.get("schedules")
    records: list[ScheduleRecord] = []
    if not isinstance(raw_schedules, list) or not raw_schedules:
        check.add("schedules", "a group needs at least one meeting schedule" + (
            "" if raw_schedules in (None, []) else f" (a list), not {q(raw_schedules)}"))
    elif len(raw_schedules) > MAX_SCHEDULES:
        check.add("schedules", f"{len(raw_schedules)} schedules; at most {MAX_SCHEDULES}")
    else:
        for i, raw in enumerate(raw_schedules):
            rec = _schedule(check, raw, i)
            if rec is not None:
                records.append(rec)
    if fmt == "virtual" and zone is None and data.get("timezone") in (None, "") and records \
            and not all(r.timezone for r in records):
        check.add("timezone", "an online group needs the timezone its times are in (an IANA "
                              "name such as Europe/London)")
    loss_types = check.codes(data.get("loss_types"), "loss_types")
    audiences = check.codes(data.get("audiences"), "audiences")
    languages = check.codes(data.get("languages"), "languages") or ["en"]
    cost = check.code(data.get("cost"), "cost", default="free")
    facilitation = check.code(data.get("facilitation"), "facilitation", default="peer")
    accessibility = check.text(data.get("accessibility_notes"), "accessibility_notes",
                               multiline=True, limit=norm.LIMITS["accessibility_notes"])
    if check.errors:
        raise Invalid(check.errors)
    return ListingRecord(
        source=SOURCE, external_id=external_id, name=name, format=fmt,
        join_mode=join_values["join_mode"], description=description, organisation=organisation,
        join_url=join_values["join_url"], join_phone=join_values["join_phone"],
        join_email=join_values["join_email"], join_notes=join_values["join_notes"],
        loss_types=loss_types, audiences=audiences, languages=languages, cost=cost,
        facilitation=facilitation, accessibility_notes=accessibility,
        venue_name=place.get("venue_name"), address_line1=place.get("address_line1"),
        address_line2=place.get("address_line2"), town=place.get("town"),
        region=place.get("region"), postcode=place.get("postcode"),
        country=place.get("country"), latitude=place.get("latitude"),
        longitude=place.get("longitude"), timezone=zone, service_countries=services,
        schedules=records,
    )


def rejection_error(rejection: norm.Rejection) -> FieldError:
    """A normalisation or geocoding rejection as a field error in this JSON's terms."""
    flat = rejection.field
    path = FLAT_TO_PATH.get(flat, "organisation" if flat.startswith("organisation") else flat)
    message = rejection.reason
    if message.startswith(flat + " "):
        message = path + message[len(flat):]
    value = rejection.value
    if value not in (None, "", []) and not isinstance(value, dict | list) \
            and q(value) not in message and repr(value) not in message:
        message += f" (got {q(value)})"
    return FieldError(path, message)


def to_listing(data: Any, *, organisation: OrganisationRecord | None = None,
               external_id: str = "new", today: dt.date | None = None) -> norm.NormalisedListing:
    """`data` validated and normalised (not yet geocoded: see `service.prepare`), or Invalid."""
    record = parse_group(data, organisation=organisation, external_id=external_id)
    listing = norm.normalise(record, today=today)
    if isinstance(listing, norm.Rejection):
        raise Invalid([rejection_error(listing)])
    return listing


def validate(data: Any, *, today: dt.date | None = None) -> list[dict[str, str]]:
    """Every error in `data` as `{"field", "message"}`; [] when it can be listed (before
    geocoding, which needs the database)."""
    try:
        to_listing(data, today=today)
    except Invalid as exc:
        return exc.as_list()
    return []


def split_request(body: Any) -> tuple[Any, dict[str, Any]]:
    """A request body -> (the group JSON, the submission's options `note` and
    `not_duplicate_of`), or Invalid naming a bad option."""
    if not isinstance(body, Mapping):
        return body, {"note": None, "not_duplicate_of": []}
    group = {k: v for k, v in body.items() if k not in REQUEST_KEYS}
    check = _Check()
    note = check.text(body.get("note"), "note", multiline=True, limit=MAX_NOTE)
    raw = body.get("not_duplicate_of")
    ids: list[int] = []
    if raw is not None:
        if not isinstance(raw, list) or len(raw) > MAX_LIST_ITEMS:
            check.add("not_duplicate_of", f"not_duplicate_of must be a list of group ids "
                                          f"(at most {MAX_LIST_ITEMS}), not {q(raw)}")
        else:
            for i, v in enumerate(raw):
                if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 2**31:
                    check.add(f"not_duplicate_of[{i}]", f"{q(v)} is not a group id")
                else:
                    ids.append(v)
    if check.errors:
        raise Invalid(check.errors)
    return group, {"note": note, "not_duplicate_of": ids}


MAX_STORED = 256 * 1024  # characters of a stored draft or submission, as JSON


def storable(data: Any) -> Any:
    """`data` as it can be kept in a JSONB column: NUL characters (which PostgreSQL's text
    cannot hold) removed from every string, keys included; everything else as typed."""
    if isinstance(data, str):
        return data.replace("\x00", "") if "\x00" in data else data
    if isinstance(data, Mapping):
        return {storable(str(k)): storable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [storable(v) for v in data]
    if data is None or isinstance(data, bool | int | str):
        return data
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    return str(data)


def merge_patch(base: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, null removes, the rest replaces."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(base) if isinstance(base, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _iso(value: Any) -> Any:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def json_from_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A listing's field view (`finder.listings.fields`) as this module's group JSON: what
    an organisation's own group looks like to it, and what a PATCH is merged onto."""
    fmt = fields.get("format")
    location = None
    if fmt != "virtual":
        location = {k: _iso(fields.get(k)) for k in LOCATION_KEYS}
    schedules = []
    for s in fields.get("schedules") or []:
        item = {k: _iso(s.get(k)) for k in SCHEDULE_KEYS}
        start = item.get("start_time")
        if isinstance(start, str) and len(start) == 8 and start.endswith(":00"):
            item["start_time"] = start[:5]
        item["cancelled_dates"] = [_iso(d) for d in item.get("cancelled_dates") or []]
        if item.get("freq") == "weekly":
            item["set_pos"] = None
        schedules.append(item)
    return {
        "name": fields.get("name"),
        "description": fields.get("description") or "",
        "format": fmt,
        "join": {"mode": fields.get("join_mode"), "url": fields.get("join_url"),
                 "phone": fields.get("join_phone"), "email": fields.get("join_email"),
                 "notes": fields.get("join_notes")},
        "location": location,
        "timezone": fields.get("timezone"),
        "service_countries": list(fields.get("service_countries") or []),
        "schedules": schedules,
        "loss_types": list(fields.get("loss_types") or []),
        "audiences": list(fields.get("audiences") or []),
        "languages": list(fields.get("languages") or []),
        "cost": fields.get("cost"),
        "facilitation": fields.get("facilitation"),
        "accessibility_notes": fields.get("accessibility_notes"),
    }
