"""Open Referral HSDS 3: a JSON file of services, or the paged ``/services`` API.

The document is a list of services, or an object whose ``contents`` holds them. When that
object is a page of the API (``total_pages``, ``page_number`` ...), pages ``page_number + 1``
.. ``total_pages`` are fetched with ``fetch_more`` by setting the ``page`` query parameter of
the document's URL. Any doubt about completeness fails the whole document (so nothing is
withdrawn): more than `MAX_PAGES` pages, a page that repeats an earlier one, a page that is
empty or answers with another ``page_number``, or a service count that differs from
``total_items``.

Mapping decisions:

* One listing per service; a service at several *physical* locations gives one listing per
  location, with external id ``"<service id>@<location id>"`` (a single one keeps the service
  id). ``postal`` locations are ignored. Physical only -> in_person, virtual only -> virtual,
  both -> hybrid; no location at all -> the source's default format, else a `RowProblem`.
* ``status`` other than ``active`` (inactive, defunct, temporarily closed) is a `RowProblem`
  starting "not active": a listing record has no status, and the runner withdraws it.
* Schedules come from the service_at_location, else from the service (skipping those linked to
  another service_at_location or location). Location schedules are the building's opening
  hours, not the group's, and are not used. ``freq`` WEEKLY/MONTHLY with ``byday`` ("TU",
  "1TU", "-1TH", "MO,WE" -> one schedule per day), ``interval``, ``opens_at``/``closes_at``
  ("19:00" or "19:00:00", optionally with an offset), ``dtstart``/``valid_from`` -> valid_from,
  ``until``/``valid_to`` -> valid_until. A schedule that has ended is left out; a service
  whose every schedule has ended keeps them, and the run skips it unless it already lists it
  (then its page says it has ended). ``bymonthday``
  and ``count`` cannot be represented -> `RowProblem` naming them.
* Timezone: HSDS gives a numeric UTC offset, which ignores daylight saving, so the zone is
  the zone at the physical location's coordinates (timezonefinder: a publisher may span
  several zones), else the source's ``timezone``, else the single zone of the country
  (GB -> Europe/London); the offset (and any offset on ``opens_at``) is only checked against
  that zone's winter or summer offset, and a mismatch is a `RowProblem`. With no zone at
  all (an online service, no source zone), a whole-hour offset gives the fixed-offset zone
  it means (``3`` -> ``Etc/GMT-3``).
* Who an online service serves: ``service_areas`` ("Worldwide" -> anyone, a country's name
  -> that country, any other area -> the service's country); nothing -> its country.
* How to join is not an HSDS field: it is read from ``application_process`` ("drop in",
  "register", "referral", "contact ..."), else from the description, eligibility, alert and
  the schedules' notes (drop in when none says), and the process is kept as the join notes
  together with ``alert``. A virtual location's ``url`` is the join link; the
  service's email and first phone are the join email and phone.
* ``languages[].code`` (or name), taxonomy terms in ``attributes`` that are loss types or
  audiences, ``cost_options``/``fees_description`` (an amount -> fee, "donation" -> donation,
  else free), ``assured_date`` -> last confirmed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import ijson
from ijson.common import ObjectBuilder

from finder import timezones, vocab
from finder.listings.normalise import SINGLE_ZONE
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from ingest.adapters.base import Adapter, Document, DocumentError, FetchMore, RowProblem
from ingest.adapters.common import (
    JSON_TYPES,
    check_content_type,
    country_code,
    country_from_name,
    infer_join_mode,
    json_error,
    open_json,
    point,
    zone_at,
)
from ingest.adapters.common import text as _text
from ingest.schedule_text import DEFAULT_DURATION, duration_between, parse_byday
from ingest.sources import Source

MAX_PAGES = 1000
ENVELOPE_KEYS = ("total_items", "total_pages", "page_number", "size", "first_page",
                 "last_page", "empty")

_TIME = re.compile(r"(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d)(?:\.\d+)?)?"
                   r"\s*(?P<off>Z|[+-]\d{1,2}(?::?\d{2})?)?")
_OFFSET = re.compile(r"(?P<sign>[+-])?(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?")
_MONEY = re.compile(r"[£$€]\s*\d|\d+(?:\.\d{2})?\s*(?:gbp|usd|eur|pounds?|dollars?)",
                    re.IGNORECASE)


# ----------------------------------------------------------------------------- streaming


class _Services:
    """Iterates the services of one document as they are parsed; afterwards `envelope` holds
    the top-level scalar fields of an object document (None for a plain list).

    A document is a list of services, an object holding them in ``contents`` (the API's
    pages) or ``services`` (as Open Referral's own examples do), or one service object on
    its own (an object with an ``id`` and a ``name`` and neither list). A
    service_at_location with its service nested is read as that service (`as_service`).
    """

    def __init__(self, body: BinaryIO, what: str) -> None:
        self.what = what
        self.first, self._stream = open_json(body, what)
        self.envelope: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        lists = ("item",) if self.first == "[" else ("contents.item", "services.item")
        envelope: dict[str, Any] = {}
        whole: dict[str, Any] = {}  # an object document's other top-level members
        found_list = False
        builder: ObjectBuilder | None = None
        member: tuple[str, ObjectBuilder] | None = None
        try:
            for prefix, event, value in ijson.parse(self._stream, use_float=True):
                if builder is not None:
                    builder.event(event, value)
                    if prefix in lists and event in ("end_map", "end_array"):
                        yield builder.value
                        builder = None
                elif prefix in lists:
                    if event in ("start_map", "start_array"):
                        builder = ObjectBuilder()
                        builder.event(event, value)
                    else:
                        yield value  # a scalar where a service should be: a row problem
                elif self.first == "{" and prefix in ("contents", "services") and (
                        event in ("start_array", "end_array")):
                    found_list = True
                elif self.first == "{" and prefix in ("contents", "services") and (
                        event != "map_key"):
                    raise DocumentError(f"{self.what}: {prefix!r} is not a list")
                elif member is not None:
                    member[1].event(event, value)
                    if prefix == member[0] and event in ("end_map", "end_array"):
                        whole[member[0]] = member[1].value
                        member = None
                elif self.first == "{" and "." not in prefix and prefix:
                    if event in ("start_map", "start_array"):
                        member = (prefix, ObjectBuilder())
                        member[1].event(event, value)
                    elif event != "map_key":
                        whole[prefix] = value
                        if prefix in ENVELOPE_KEYS:
                            envelope[prefix] = value
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise json_error(exc, self.what) from exc
        if self.first == "{":
            if not found_list:
                if _text(whole.get("id")) is not None and (
                        _text(whole.get("name")) is not None
                        or isinstance(whole.get("service"), dict)):
                    yield whole  # one service (or one service_at_location) on its own
                    return
                raise DocumentError(f"{self.what}: expected a list of services, an object "
                                    f"with 'contents' or 'services', or one service (with "
                                    f"an id and a name)")
            self.envelope = envelope


def page_url(url: str, page: int) -> str:
    """`url` with its ``page`` query parameter set to `page` (other parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", str(page)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _fingerprint(digest: Any, services: list[Any]) -> Any:
    """Feed the services' ids to `digest`: equal ids in equal order = the same page."""
    for svc in services:
        digest.update(repr(svc.get("id") if isinstance(svc, dict) else svc).encode())
        digest.update(b"\0")
    return digest


def _int(value: Any, field: str, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DocumentError(f"{what}: {field} {value!r} is not a whole number")
    return value


# ----------------------------------------------------------------------------- schedules


def _date(value: Any, field: str) -> dt.date | None:
    raw = _text(value)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise ValueError(f"{field} {raw!r} is not a date like 2026-01-31") from None


def _offset_minutes(value: Any, field: str) -> int | None:
    """A UTC offset in minutes from 3, -5, 5.5, "+01:00", "-0500" or "Z"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field} {value!r} is not a UTC offset")
    if isinstance(value, int | float):
        return round(value * 60)
    raw = str(value).strip()
    if raw.upper() in ("Z", "UTC", "GMT"):
        return 0
    try:
        return round(float(raw) * 60)
    except ValueError:
        pass
    m = _OFFSET.fullmatch(raw)
    if not m:
        raise ValueError(f"{field} {raw!r} is not a UTC offset")
    minutes = int(m["h"]) * 60 + int(m["m"] or 0)
    return -minutes if m["sign"] == "-" else minutes


def _clock(value: Any, field: str) -> tuple[dt.time, int | None]:
    raw = _text(value)
    if raw is None:
        raise ValueError(f"{field} is missing")
    m = _TIME.fullmatch(raw)
    if not m:
        raise ValueError(f"{field} {raw!r} is not a time like 19:00")
    return dt.time(int(m["h"]), int(m["m"])), _offset_minutes(m["off"], field)


def _check_offset(offset: int | None, zone: str | None, on: dt.date, field: str) -> None:
    """The publisher's offset must be the zone's winter or summer offset around `on`."""
    if offset is None or zone is None:
        return
    if not timezones.is_valid(zone):
        return  # normalisation reports the bad zone name
    tz = ZoneInfo(zone)
    allowed = set()
    for month in (1, 7):
        local = dt.datetime(on.year, month, 1, 12, tzinfo=tz)
        allowed.add(round(local.utcoffset().total_seconds() / 60))  # type: ignore[union-attr]

    def fmt(minutes: int) -> str:
        sign = "+" if minutes >= 0 else "-"
        h, m = divmod(abs(minutes), 60)
        return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")

    if offset not in allowed:
        raise ValueError(f"{field} {fmt(offset)} does not match {zone} "
                         f"({' or '.join(fmt(a) for a in sorted(allowed))}); "
                         f"times must be local to the group")


def hsds_schedules(raw: Any, zone: str | None, today: dt.date | None = None
                   ) -> list[ScheduleRecord]:
    """One HSDS schedule as `ScheduleRecord`s (one per byday entry); ValueError says why not."""
    if not isinstance(raw, dict):
        raise ValueError("a schedule is not a JSON object")
    sid = _text(raw.get("id"))
    where = f"schedule {sid}: " if sid else ""
    try:
        return _hsds_schedules(raw, zone, today or dt.date.today())
    except ValueError as exc:
        raise type(exc)(f"{where}{exc}") from None


class EndedSchedule(ValueError):
    """The schedule's last date has passed: nothing wrong with it, it is just over."""


def _hsds_schedules(raw: dict, zone: str | None, today: dt.date) -> list[ScheduleRecord]:
    ended = [d for d in (_date(raw.get("until"), "until"), _date(raw.get("valid_to"),
                                                                   "valid_to")) if d]
    if ended and min(ended) < today:
        raise EndedSchedule(f"ended on {min(ended).isoformat()}")
    bymonthday = _text(raw.get("bymonthday"))
    if bymonthday:
        raise ValueError(f"bymonthday {bymonthday!r} (a date of the month) is not supported; "
                         f"use byday such as 1TU")
    if raw.get("count") not in (None, "", 0):
        raise ValueError(f"count {raw.get('count')!r} is not supported; give until instead")
    freq = (_text(raw.get("freq")) or "").upper()
    if freq not in ("", "WEEKLY", "MONTHLY"):
        raise ValueError(f"freq {freq!r} is not supported (WEEKLY or MONTHLY)")
    interval_raw = raw.get("interval")
    interval = 1
    if interval_raw not in (None, ""):
        try:
            interval = int(str(interval_raw).strip())
        except ValueError:
            raise ValueError(f"interval {interval_raw!r} is not a whole number") from None
        if not 1 <= interval <= 12:
            raise ValueError(f"interval {interval_raw!r} must be 1 to 12")
    valid_from = _date(raw.get("dtstart"), "dtstart") or _date(raw.get("valid_from"),
                                                                 "valid_from")
    ends = [d for d in (_date(raw.get("until"), "until"), _date(raw.get("valid_to"),
                                                                   "valid_to")) if d]
    valid_until = min(ends) if ends else None
    byday = _text(raw.get("byday"))
    if byday:
        days = parse_byday(byday)
    elif valid_from is not None and freq != "MONTHLY":
        days = [(None, valid_from.weekday())]  # RFC 5545: the weekday of DTSTART
    else:
        raise ValueError("byday is missing: on which weekday does it meet?")
    if not freq:
        freq = "MONTHLY" if any(pos is not None for pos, _ in days) else "WEEKLY"

    start, start_offset = _clock(raw.get("opens_at"), "opens_at")
    duration = DEFAULT_DURATION
    end_offset = None
    if _text(raw.get("closes_at")):
        end, end_offset = _clock(raw.get("closes_at"), "closes_at")
        duration = duration_between(start, end)
    on = valid_from or today
    _check_offset(_offset_minutes(raw.get("timezone"), "timezone"), zone, on, "timezone")
    _check_offset(start_offset, zone, on, "opens_at offset")
    _check_offset(end_offset, zone, on, "closes_at offset")

    out = []
    for pos, day in days:
        if freq == "WEEKLY" and pos is not None:
            raise ValueError(f"byday {byday!r} has an ordinal but freq is WEEKLY")
        if freq == "MONTHLY" and pos is None:
            if interval != 1:
                raise ValueError(f"byday {byday!r} with freq MONTHLY and interval {interval} "
                                 f"needs an ordinal such as 1TU")
            rec_freq, rec_interval = "weekly", 1  # every Tuesday of every month
        else:
            rec_freq, rec_interval = freq.lower(), interval
        out.append(ScheduleRecord(
            freq=rec_freq, weekday=day, start_time=start, interval=rec_interval, set_pos=pos,
            duration_minutes=duration, timezone=None, valid_from=valid_from,
            valid_until=valid_until))
    return out


# ----------------------------------------------------------------------------- services


_WORLDWIDE = {"worldwide", "world", "world wide", "international", "global", "globally",
              "anywhere", "everywhere", "all countries", "online", "any country", "the world"}


def _service_countries(svc: dict, country: str | None) -> list[str]:
    """Who an online service serves, from ``service_areas``: "Worldwide" (and the like)
    is everyone, a country's name is that country, any other area (a town, a region, a
    list of postcodes) lies within the service's country. Nothing said: its country."""
    out: list[str] = []
    for area in _dicts(svc.get("service_areas")):
        name = _text(area.get("name")) or _text(area.get("description")) or ""
        folded = vocab.fold(name)
        if folded in _WORLDWIDE or folded.startswith(("worldwide", "anywhere in the world")):
            return ["*"]
        code = country_from_name(name) or country
        if code and code not in out:
            out.append(code)
    return out or ([country] if country else [])


def _ended(svc: dict, today: dt.date | None) -> str | None:
    """"ended on 2020-12-20" when the service has schedules and every one has ended."""
    today = today or dt.date.today()
    ends = []
    for raw in _dicts(svc.get("schedules")):
        try:
            dates = [d for d in (_date(raw.get("until"), "until"),
                                 _date(raw.get("valid_to"), "valid_to")) if d]
        except ValueError:
            return None
        if not dates or min(dates) >= today:
            return None
        ends.append(min(dates))
    return f"ended on {max(ends).isoformat()}" if ends else None


def _join_texts(svc: dict) -> list[str | None]:
    texts = [_text(svc.get(k)) for k in ("description", "eligibility_description", "alert")]
    for raw in _dicts(svc.get("schedules")):
        texts += [_text(raw.get(k)) for k in ("description", "notes", "attending_type")]
    return texts


def _offset_zone(schedules: list[dict]) -> str | None:
    """An IANA fixed-offset zone (Etc/GMT-3 is UTC+3) for the whole-hour UTC offset the
    schedules give, when nothing else says where the service is: the publisher's times
    mean that offset, and no daylight saving is the most it tells us."""
    for raw in schedules:
        candidates = [raw.get("timezone")]
        for key in ("opens_at", "closes_at"):
            m = _TIME.fullmatch(_text(raw.get(key)) or "")
            candidates.append(m["off"] if m else None)
        for value in candidates:
            try:
                minutes = _offset_minutes(value, "timezone")
            except ValueError:
                continue
            if minutes is None:
                continue
            if minutes == 0:
                return "UTC"
            if minutes % 60 == 0 and -12 <= minutes // 60 <= 14:
                hours = minutes // 60
                return f"Etc/GMT{-hours:+d}"
    return None


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _first_phone(*holders: Any) -> str | None:
    for holder in holders:
        if isinstance(holder, dict):
            for phone in _dicts(holder.get("phones")):
                number = _text(phone.get("number"))
                if number:
                    return number
    return None


def _organisation(svc: dict, source: Source) -> OrganisationRecord | None:
    org = svc.get("organization")
    if isinstance(org, dict) and _text(org.get("name")):
        return OrganisationRecord(name=_text(org.get("name")) or "",
                                  website=_text(org.get("website")),
                                  email=_text(org.get("email")), phone=_first_phone(org))
    if source.organisation:
        return OrganisationRecord(name=source.organisation)
    return None


def _languages(svc: dict) -> list[str]:
    out = []
    for lang in _dicts(svc.get("languages")):
        code, name = _text(lang.get("code")), _text(lang.get("name"))
        value = code if code and vocab.LANGUAGE.lookup(code) else (name or code)
        if value and value not in out:
            out.append(value)
    return out or ["en"]


def _terms(svc: dict) -> tuple[list[str], list[str]]:
    """Loss types and audiences among the service's taxonomy terms; others are not ours."""
    loss: list[str] = []
    audiences: list[str] = []
    for attr in _dicts(svc.get("attributes")):
        term = attr.get("taxonomy_term")
        candidates = [_text(attr.get("value"))]
        if isinstance(term, dict):
            candidates += [_text(term.get("name")), _text(term.get("term")),
                           _text(term.get("code"))]
        for cand in candidates:
            if not cand:
                continue
            if vocab.LOSS.lookup(cand):
                loss.append(cand)
                break
            if vocab.AUDIENCE.lookup(cand):
                audiences.append(cand)
                break
    return loss, audiences


def _cost(svc: dict) -> str:
    for option in _dicts(svc.get("cost_options")):
        amount = option.get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool) and amount > 0:
            return "fee"
    fees = " ".join(t for t in (_text(svc.get("fees_description")), _text(svc.get("fees")))
                    if t)
    if "donation" in fees.lower():
        return "donation"
    if _MONEY.search(fees):
        return "fee"
    return "free"


def _accessibility(loc: dict) -> str | None:
    notes = []
    for item in _dicts(loc.get("accessibility")):
        for key in ("description", "details"):
            value = _text(item.get(key))
            if value and value not in notes:
                notes.append(value)
    return "; ".join(notes) or None


def _address(loc: dict) -> dict | None:
    addresses = _dicts(loc.get("addresses"))
    for addr in addresses:
        if (_text(addr.get("address_type")) or "physical").lower() == "physical":
            return addr
    return addresses[0] if addresses else None


def _location_kind(loc: dict) -> str | None:
    kind = (_text(loc.get("location_type")) or "").lower()
    if kind in ("physical", "virtual", "postal"):
        return kind
    if loc.get("addresses") or loc.get("latitude") is not None:
        return "physical"
    return "virtual" if _text(loc.get("url")) else None


def _applies(schedule: dict, sal: dict | None, loc: dict | None) -> bool:
    """A service-level schedule tied to another service_at_location or location is not ours."""
    sal_id = _text(schedule.get("service_at_location_id"))
    loc_id = _text(schedule.get("location_id"))
    if sal_id and (sal is None or sal_id != _text(sal.get("id"))):
        return False
    return not (loc_id and (loc is None or loc_id != _text(loc.get("id"))))


def as_service(item: Any) -> Any:
    """A service_at_location (the /service_at_locations endpoint: the service nested in it)
    as the service it belongs to, listed at that one location; anything else as it is."""
    if (isinstance(item, dict) and isinstance(item.get("service"), dict)
            and "name" not in item):
        svc = dict(item["service"])
        sal = {k: v for k, v in item.items() if k != "service"}
        svc["service_at_locations"] = [sal]
        return svc
    return item


def service_records(svc: Any, n: int, source: Source,
                    today: dt.date | None = None) -> list[ListingRecord | RowProblem]:
    """One service as listings (one per physical location), or the reason it cannot be."""
    if not isinstance(svc, dict):
        return [RowProblem(f"service {n}", f"not a JSON object (got {type(svc).__name__})")]
    sid = _text(svc.get("id"))
    name = _text(svc.get("name"))
    ref = sid or f"service {n}"
    if sid is None:
        return [RowProblem(ref, f"id is missing for {name!r}" if name else "id is missing")]
    if name is None:
        return [RowProblem(ref, "name is missing")]
    status = (_text(svc.get("status")) or "active").lower()
    if status != "active":
        return [RowProblem(ref, f"not active: status is {status!r}", skipped=True)]

    physical: list[tuple[dict, dict]] = []
    virtual: list[tuple[dict, dict]] = []
    for sal in _dicts(svc.get("service_at_locations")):
        loc = sal.get("location")
        if not isinstance(loc, dict):
            continue
        kind = _location_kind(loc)
        if kind == "physical":
            physical.append((sal, loc))
        elif kind == "virtual":
            virtual.append((sal, loc))
    if physical:
        fmt = "hybrid" if virtual else "in_person"
    elif virtual:
        fmt = "virtual"
    elif source.format:
        fmt = source.format
    else:
        ends = _ended(svc, today)
        if ends:  # a service whose every schedule is over is not meeting, wherever it was
            return [RowProblem(ref, f"no current schedule ({ends})", skipped=True)]
        return [RowProblem(ref, "no physical or virtual location in service_at_locations "
                                "(and the source has no default format)")]

    process = _text(svc.get("application_process"))
    # how to join: the application process first, else what the service says elsewhere
    # (its description, eligibility, alert, the schedules' notes)
    join_mode = infer_join_mode(process) or infer_join_mode(*_join_texts(svc)) or "drop_in"
    org = _organisation(svc, source)
    join_url = next((_text(loc.get("url")) for _, loc in virtual if _text(loc.get("url"))),
                    None)
    join_email = _text(svc.get("email"))
    join_phone = _first_phone(svc)
    if join_mode != "drop_in" and not (join_url or join_email or join_phone):
        join_url = _text(svc.get("url")) or (org.website if org else None)
        join_email = org.email if org else None
        join_phone = org.phone if org else None
    loss, audiences = _terms(svc)
    confirmed = None
    for key in ("assured_date", "last_modified"):
        try:
            confirmed = confirmed or _date(svc.get(key), key)
        except ValueError:
            pass  # optional metadata; an unreadable date is not a reason to drop the group
    base = dict(
        source=source.name, name=name, format=fmt, join_mode=join_mode,
        description=_text(svc.get("description")) or "", organisation=org,
        join_url=join_url, join_phone=join_phone, join_email=join_email,
        join_notes="\n\n".join(t for t in (process, _text(svc.get("alert"))) if t) or None,
        loss_types=loss, audiences=audiences, languages=_languages(svc), cost=_cost(svc),
        country=country_code(source.country), timezone=source.timezone,
        last_confirmed=confirmed, url=_text(svc.get("url")),
    )
    service_schedules = _dicts(svc.get("schedules"))
    online: tuple[dict | None, dict | None] = virtual[0] if virtual else (None, None)
    places: list[tuple[dict | None, dict | None, bool]] = (
        [(sal, loc, True) for sal, loc in physical] or [(*online, False)])
    out: list[ListingRecord | RowProblem] = []
    for i, (sal, loc, is_physical) in enumerate(places, start=1):
        external_id = sid
        if len(places) > 1 and loc is not None:
            external_id = f"{sid}@{_text(loc.get('id')) or i}"
        record = ListingRecord(external_id=external_id, **base)
        if is_physical and loc is not None:
            addr = _address(loc) or {}
            record.venue_name = _text(loc.get("name"))
            record.address_line1 = _text(addr.get("address_1"))
            record.address_line2 = _text(addr.get("address_2"))
            record.town = _text(addr.get("city"))
            record.region = _text(addr.get("state_province")) or _text(addr.get("region"))
            record.postcode = _text(addr.get("postal_code"))
            record.country = country_code(_text(addr.get("country"))) or record.country
            record.latitude, record.longitude = point(loc.get("latitude"),
                                                      loc.get("longitude"))
            record.accessibility_notes = _accessibility(loc)
        # the venue's own zone (a publisher may span several), else the source's or the
        # country's only one, else the fixed offset the schedules give (`_offset_zone`)
        zone = ((zone_at(record.latitude, record.longitude) if is_physical else None)
                or record.timezone or SINGLE_ZONE.get(record.country or ""))
        # the group's own times: this service_at_location's, else the service's, else (for a
        # hybrid group) those of its online service_at_location
        raw_schedules = (
            (_dicts(sal.get("schedules")) if sal else [])
            or [s for s in service_schedules if _applies(s, sal, loc)]
            or (_dicts(online[0].get("schedules")) if online[0] else [])
        )
        if not raw_schedules:
            out.append(RowProblem(external_id, "no schedules (on the service or its "
                                                "service_at_location)"))
            continue
        if zone is None:
            zone = _offset_zone(raw_schedules)
        record.timezone = zone or record.timezone
        record.schedules, over = [], []
        try:
            for raw in raw_schedules:
                try:
                    record.schedules += hsds_schedules(raw, zone, today)
                except EndedSchedule:
                    over += hsds_schedules(raw, zone, dt.date.min)  # as published
        except ValueError as exc:
            out.append(RowProblem(external_id, str(exc)))
            continue
        if not record.schedules:
            # every schedule is over: the run keeps a group it already lists, saying it has
            # ended, and skips one it never listed (`ingest.runner`)
            record.schedules = over
        if fmt != "in_person":
            record.service_countries = _service_countries(svc, record.country)
        out.append(record)
    return out


# ----------------------------------------------------------------------------- the adapter


class HsdsAdapter(Adapter):
    name = "hsds"
    content_types = JSON_TYPES

    def records(self, doc: Document, source: Source,
                fetch_more: FetchMore) -> Iterator[ListingRecord | RowProblem]:
        what = "HSDS document"
        check_content_type(doc, self.content_types, what)
        seen: dict[str, int] = {}  # listing ids ("<service>@<location>" included)
        seen_services: dict[str, int] = {}
        counter = [0]

        def emit(services: Any) -> Iterator[ListingRecord | RowProblem]:
            for svc in map(as_service, services):
                counter[0] += 1
                n = counter[0]
                sid = _text(svc.get("id")) if isinstance(svc, dict) else None
                if sid is not None:
                    first = seen_services.setdefault(sid, n)
                    if first != n:
                        yield RowProblem(sid, f"duplicate id {sid!r} (first used by service "
                                              f"{first})")
                        continue
                for rec in service_records(svc, n, source):
                    if isinstance(rec, ListingRecord):
                        first = seen.setdefault(rec.external_id, n)
                        if first != n:
                            rec = RowProblem(rec.external_id, f"duplicate id "
                                                              f"{rec.external_id!r} (first "
                                                              f"used by service {first})")
                    yield rec

        first_page = _Services(doc.body, what)
        ids = hashlib.sha256()

        def fingerprinted(services: Any) -> Iterator[Any]:
            for svc in services:
                _fingerprint(ids, [svc])
                yield svc

        yield from emit(fingerprinted(first_page))
        env = first_page.envelope
        if env is None:
            return  # a plain list: the whole file
        total_pages = _int(env.get("total_pages"), "total_pages", what)
        total_items = _int(env.get("total_items"), "total_items", what)
        start = _int(env.get("page_number"), "page_number", what) or 1
        if total_pages is not None and total_pages > MAX_PAGES:
            raise DocumentError(f"{what}: total_pages is {total_pages}; more than "
                                f"{MAX_PAGES} pages are not followed")
        fingerprints = {ids.hexdigest(): start} if counter[0] else {}
        for page in range(start + 1, (total_pages or 0) + 1):
            url = page_url(doc.url, page)
            page_what = f"HSDS page {page} ({url})"
            more = fetch_more(url)
            check_content_type(more, self.content_types, page_what)
            parsed = _Services(more.body, page_what)
            services = list(parsed)  # one page is small; hold it to check it first
            if parsed.envelope is None:
                raise DocumentError(f"{page_what}: expected a paged object with 'contents', "
                                    f"got a list")
            number = _int(parsed.envelope.get("page_number"), "page_number", page_what)
            if number is not None and number != page:
                raise DocumentError(f"{page_what}: asked for page {page}, got page_number "
                                    f"{number}")
            if not services:
                raise DocumentError(f"{page_what}: empty, but total_pages is {total_pages} "
                                    f"(the list changed while paging?)")
            digest = _fingerprint(hashlib.sha256(), services).hexdigest()
            repeated = fingerprints.get(digest)
            if repeated is not None:
                raise DocumentError(f"{page_what}: repeats page {repeated} (does the API "
                                    f"ignore the 'page' parameter?)")
            fingerprints[digest] = page
            yield from emit(services)
        if total_items is not None and counter[0] != total_items:
            raise DocumentError(f"{what}: total_items is {total_items} but {counter[0]} "
                                f"services arrived (the list changed while paging?)")


adapter = HsdsAdapter()
