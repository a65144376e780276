"""Web pages carrying schema.org Event / EventSeries / Organization data (JSON-LD or
microdata), as hospital pages do. `extruct` reads both syntaxes into one shape.

Decisions, for the README:

* **What is a listing.** Every Event (any type ending in "Event", and EventSeries) found at
  the top of the page, in an @graph, in an ItemList, under a WebPage's mainEntity or an
  Organization's `event`. A subEvent, and a top-level Event whose superEvent is a series
  listed on the same page, is an occurrence of that series, not another group: a skipped
  RowProblem, as is the microdata copy of an Event the JSON-LD already gives, so a run's
  counts add up to the events on the page. JSON-LD written with the schema.org context's
  aliases (``type``, ``id``) is read as if written with ``@type`` / ``@id``. Two Events
  with the same name and no @id are two listings (the second id gets "-2").
* **Schedules** come from `eventSchedule` (schema.org Schedule): byDay (DayOfWeek URLs,
  day names, or iCal "TU" / "1TU" / "-1TH"), repeatFrequency (P1W, P2W, P14D, P1M, or
  "weekly" / "fortnightly" / "monthly"), byMonthWeek (1-4, -1 = last), startTime/endTime or
  duration, scheduleTimezone, exceptDate, startDate/endDate and repeatCount (times written
  as words, "7.30pm", are read by `ingest.schedule_text` when present). Without
  repeatFrequency a byMonthWeek or ordinal day means monthly, otherwise weekly. P1D is
  every day, or with byDay every one of those days: weekly on each. Yearly, byMonthDay,
  byMonth and a fifth week are a RowProblem. An Event with no
  eventSchedule is a one-off: RowProblem("one-off event, not a recurring group"), as in
  the iCalendar adapter. eventStatus EventCancelled is RowProblem("cancelled series").
* **Times.** startTime is local to scheduleTimezone, else the source's timezone (else
  normalise finds one from the country or postcode). A startTime with a UTC offset is
  converted to that zone on the schedule's first date. valid_from is the schedule's
  startDate, else the Event's startDate; valid_until the schedule's endDate, else the
  Event's endDate when it is on a later day (an endDate on the first day is the end time).
* **Format**: eventAttendanceMode (Offline / Online / Mixed -> in_person / virtual /
  hybrid), EventMovedOnline -> virtual; without either, a Place plus a VirtualLocation or
  video link is hybrid, only the online one virtual, only a Place in person.
* **Place**: name -> venue; PostalAddress fields map one to one (addressCountry names
  become ISO codes); a text address is split like an iCalendar LOCATION; geo ->
  latitude/longitude. VirtualLocation url -> join link.
* **Organiser**: the Event's organizer Organization, else the page's own Organization
  (Hospital, NGO, ...), else the source's organisation. A Person organizer gives a contact
  email/phone. offers price 0 or isAccessibleForFree -> free, a price -> fee; an offer
  link other than the event's own page means "register first" there. inLanguage gives
  languages; audience and keywords that name a vocabulary audience or loss type are kept.
* **External id**: @id (or microdata itemid), else url, else url + name when several
  events share one url; a repeated id is a RowProblem ("duplicate id"). An Event carried
  both as JSON-LD and as microdata (matched by id or name) is listed once, from the JSON-LD.
* **Bytes.** The declared charset, else a BOM or <meta charset>, else UTF-8 with
  replacement. A JSON-LD block that is not valid JSON is a DocumentError (it may hold
  groups we would otherwise withdraw); so is a page with no Event at all.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import extruct
import lxml.etree
from dateutil import rrule as du
from extruct.utils import parse_html

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
    HTML_TYPES,
    MAX_COUNT,
    Place,
    check_content_type,
    country_code,
    first_email,
    infer_join_mode,
    is_online_place,
    matches_position,
    split_address,
    video_link,
)
from ingest.sources import Source

try:  # times written as words ("7pm") in microdata text; optional, written alongside
    from ingest.schedule_text import parse_clock as _parse_clock
except ImportError:  # pragma: no cover
    _parse_clock = None

_ORG_TYPES = {"Organization", "Hospital", "MedicalOrganization", "MedicalClinic", "NGO",
              "LocalBusiness", "GovernmentOrganization", "Corporation", "CommunityHealth",
              "EducationalOrganization", "ReligiousOrganization", "Library", "Charity"}
_CONTAINER_KEYS = ("@graph", "mainEntity", "itemListElement", "item", "event", "events")
_RFC_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ICAL_DAY = re.compile(r"([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)")
_PERIOD = re.compile(r"P(\d+)([DWMY])")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_TIME = re.compile(
    r"(?:(\d{4}-\d{2}-\d{2})[T ])?T?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
_TEXT_FREQ = {
    "weekly": ("weekly", 1), "every week": ("weekly", 1), "fortnightly": ("weekly", 2),
    "biweekly": ("weekly", 2), "every other week": ("weekly", 2),
    "every two weeks": ("weekly", 2), "every 2 weeks": ("weekly", 2),
    "monthly": ("monthly", 1), "every month": ("monthly", 1),
}
_MODES = {"OfflineEventAttendanceMode": "in_person", "OnlineEventAttendanceMode": "virtual",
          "MixedEventAttendanceMode": "hybrid"}
_SIGN_LANGUAGES = {"bfi": "bsl", "sgn-gb": "bsl", "ase": "asl", "sgn-us": "asl"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_TAG = re.compile(r"<[^>]+>")




class WebPageAdapter(Adapter):
    name = "jsonld"
    content_types = HTML_TYPES

    def records(self, doc: Document, source: Source,
                fetch_more: FetchMore) -> Iterator[ListingRecord | RowProblem]:
        check_content_type(doc, self.content_types, "a web page")
        jsonld, microdata = _extract(doc)
        index = _index(jsonld + microdata)
        events: list[dict] = []
        orgs: list[dict] = []
        _collect(jsonld, index, events, orgs)
        seen = {k for e in events for k in (_node_id(e), _fold_name(e)) if k}
        found: list[dict] = []
        _collect(microdata, index, found, orgs)
        # pages often carry the same Event in both syntaxes: list it once, from the JSON-LD
        twins = [e for e in found if {_node_id(e), _fold_name(e)} & seen]
        events += [e for e in found if not any(e is t for t in twins)]
        if not events:
            raise DocumentError("no schema.org Event data found")
        for twin in twins:  # counted, so the run adds up to what the page holds
            yield RowProblem(_node_id(twin) or _name(twin) or "microdata event",
                             "the same event as in the page's JSON-LD (listed from there)",
                             skipped=True)
        page_org = next((_organisation(o) for o in orgs if _name(o)), None)
        if page_org is None and source.organisation:
            page_org = OrganisationRecord(source.organisation)
        scheduled = {id(e) for e in events if e.get("eventSchedule")}
        urls = [_abs(doc.url, _str(e.get("url"))) for e in events]
        seen_ids: dict[str, int] = {}
        for n, (ev, url) in enumerate(zip(events, urls, strict=True), start=1):
            ref = _node_id(ev) or url or _name(ev) or f"event {n}"
            if not ev.get("eventSchedule") and _is_occurrence(ev, index, scheduled):
                yield RowProblem(ref, "one meeting of a series listed on this page",
                                 skipped=True)
                continue
            build = partial(_listing, ev, index, source, doc.url, page_org, url,
                            shared_url=url is not None and urls.count(url) > 1)
            if _node_id(ev) is None:
                build = partial(_unique_id, build, seen_ids)
            yield guarded_event(ref, n, build, seen_ids)


def _unique_id(build: Any, seen: dict[str, int]) -> ListingRecord:
    """Two events without an @id that share a name ("Example") are two events: the second
    gets "-2" after the id made from its name (stable while the page keeps its order)."""
    record = build()
    base, k = record.external_id, 2
    while record.external_id in seen:
        record.external_id = f"{base}-{k}"
        k += 1
    return record


# ---------------------------------------------------------------------- reading the page


def _decode(raw: bytes, declared: str | None) -> str:
    """The declared charset, else a BOM, else <meta charset>, else UTF-8 with replacement."""
    candidates = [declared] if declared else []
    if raw.startswith(b"\xef\xbb\xbf"):
        candidates.append("utf-8-sig")
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates.append("utf-16")
    m = _META_CHARSET.search(raw[:4096])
    if m:
        candidates.append(m.group(1).decode("ascii"))
    for charset in candidates:
        try:
            return raw.decode(charset, errors="replace").lstrip("\ufeff")
        except LookupError:
            continue
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff")


def _extract(doc: Document) -> tuple[list[Any], list[Any]]:
    """(JSON-LD items, microdata items) in extruct's uniform shape."""
    text = _decode(doc.body.read(), doc.encoding)
    if not text.strip():
        raise DocumentError("the page is empty")
    try:
        # re-encoded so lxml ignores any (now wrong) encoding named in the page itself
        tree = parse_html(text.encode("utf-8"), encoding="UTF-8")
    except (lxml.etree.ParserError, ValueError) as exc:
        raise DocumentError(f"not a readable HTML page: {exc}") from exc
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        if not (script.text or "").strip():
            script.getparent().remove(script)  # CMSs emit empty blocks; nothing is lost
    try:
        data = extruct.extract(tree, base_url=doc.url, syntaxes=["json-ld", "microdata"],
                               uniform=True, errors="strict")
    except ValueError as exc:  # json.JSONDecodeError is one
        raise DocumentError(f"a JSON-LD block is not valid JSON ({exc}); a page cut short "
                            f"or mis-edited would lose its groups, so nothing is changed") from exc
    return [_at_keywords(item) for item in data.get("json-ld", [])], list(
        data.get("microdata", []))


def _at_keywords(node: Any) -> Any:
    """JSON-LD written with the schema.org context's aliases ("type", "id") as if written
    with the keywords ("@type", "@id"). schema.org defines no "type" or "id" property, so
    the context maps them to the keywords; reading them so needs no network (pyld would
    fetch the context)."""
    if isinstance(node, list):
        return [_at_keywords(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _at_keywords(v) for k, v in node.items()}
    for alias, keyword in (("type", "@type"), ("id", "@id")):
        if alias in out and keyword not in out and _plain_ids(out[alias]):
            out[keyword] = out.pop(alias)
    return out


def _plain_ids(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and bool(value)
                                      and all(isinstance(v, str) for v in value))


def _types(node: Any) -> set[str]:
    if not isinstance(node, dict):
        return set()
    return {re.split(r"[/#:]", str(t))[-1] for t in _list(node.get("@type"))}


def _is_event(node: Any) -> bool:
    return any(t.endswith("Event") or t == "EventSeries" for t in _types(node))


def _is_org(node: Any) -> bool:
    return any(t in _ORG_TYPES or t.endswith("Organization") for t in _types(node))


def _index(items: list[Any]) -> dict[str, dict]:
    """Nodes by @id, so {"@id": "#org"} references can be followed."""
    out: dict[str, dict] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, dict):
            key = _node_id(node)
            if key and len(node) > 1:
                out.setdefault(key, node)
            for v in node.values():
                walk(v)

    walk(items)
    return out


def _node_id(node: dict) -> str | None:
    """JSON-LD @id, or a microdata itemid (which extruct's uniform output calls "id")."""
    key = node.get("@id", node.get("id"))
    return (key.strip() or None) if isinstance(key, str) else None


def _resolve(node: Any, index: dict[str, dict]) -> Any:
    if isinstance(node, dict) and set(node) <= {"@id", "@type"} and node.get("@id") in index:
        return index[node["@id"]]
    return node


def _collect(nodes: Any, index: dict[str, dict], events: list[dict], orgs: list[dict]) -> None:
    """Events and Organizations where pages put them; not into an Event's own properties."""
    for node in _list(nodes):
        node = _resolve(node, index)
        if not isinstance(node, dict):
            continue
        if _is_event(node):
            if not any(node is e for e in events):
                events.append(node)
            continue
        if _is_org(node) and not any(node is o for o in orgs):
            orgs.append(node)
        for key in _CONTAINER_KEYS:
            if key in node:
                _collect(node[key], index, events, orgs)


def _is_occurrence(ev: dict, index: dict[str, dict], scheduled: set[int]) -> bool:
    return any(id(_resolve(s, index)) in scheduled for s in _list(ev.get("superEvent")))


# ---------------------------------------------------------------------- small readers


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _str(value: Any) -> str | None:
    """Text from a string, a number, a JSON-LD value object or the first of a list."""
    for v in _list(value):
        if isinstance(v, dict):
            v = v.get("@value", v.get("@id", v.get("name")))
        if isinstance(v, bool) or v is None:
            continue
        text = str(v).strip()
        if text:
            return text
    return None


def _plain(value: Any) -> str | None:
    """Descriptions are sometimes HTML: tags become spaces, entities characters."""
    text = _str(value)
    if text is None:
        return None
    if "<" in text:
        text = _TAG.sub(" ", re.sub(r"<br\s*/?>|</p>", "\n", text, flags=re.I))
    lines = (" ".join(line.split()) for line in html.unescape(text).split("\n"))
    return "\n".join(line for line in lines if line) or None


def _name(node: Any) -> str | None:
    return _str(node.get("name")) if isinstance(node, dict) else None


def _fold_name(node: Any) -> str | None:
    name = _name(node)
    return "name:" + vocab.fold(name) if name else None


def _abs(base: str, url: str | None) -> str | None:
    return urljoin(base, url) if url else None


def _local_name(value: Any) -> str | None:
    text = _str(value)
    return re.split(r"[/#:]", text)[-1] if text else None


def _float(value: Any) -> float | None:
    try:
        return float(_str(value) or "")
    except ValueError:
        return None


def _date(value: Any, zone: str | None = None) -> dt.date | None:
    """The local date of an ISO date or date-time (converted to `zone` if it has an offset)."""
    text = _str(value)
    if not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    if stamp.tzinfo is not None and zone:
        stamp = stamp.astimezone(ZoneInfo(zone))
    return stamp.date()


def _minutes(value: Any) -> int | None:
    """An ISO 8601 duration ("PT1H30M") in minutes."""
    text = (_str(value) or "").upper()
    m = _DURATION.fullmatch(text)
    if not text or not m or not any(m.groups()):
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    return days * 1440 + hours * 60 + minutes + round(seconds / 60)


def _time(value: Any) -> tuple[dt.time, dt.date | None, dt.tzinfo | None] | None:
    """(wall time, date if given, offset if given) from "19:00", "19:00:00+01:00" or a
    full date-time."""
    text = _str(value)
    if not text:
        return None
    m = _TIME.fullmatch(text.strip())
    if not m:
        if _parse_clock is None:
            return None
        try:
            return _parse_clock(text), None, None
        except ValueError:
            return None
    day, hour, minute, _, offset = m.groups()
    if int(hour) > 23 or int(minute) > 59:
        return None
    tz = None
    if offset:
        tz = dt.UTC if offset == "Z" else dt.datetime.strptime(
            offset.replace(":", ""), "%z").tzinfo
    return (dt.time(int(hour), int(minute)), dt.date.fromisoformat(day) if day else None, tz)


def _valid_zone(name: str | None) -> str | None:
    if not name:
        return None
    if not timezones.is_valid(name):
        raise SkipRow(f"unknown scheduleTimezone {timezones.shown(name)} (use an IANA name "
                      f"such as Europe/London)")
    return name


# ---------------------------------------------------------------------- an Event


def _listing(ev: dict, index: dict[str, dict], source: Source, page_url: str,
             page_org: OrganisationRecord | None, url: str | None,
             shared_url: bool) -> ListingRecord:
    name = _name(ev)
    status = _local_name(ev.get("eventStatus"))
    if status == "EventCancelled":
        raise NotAGroup("cancelled series (eventStatus EventCancelled)")
    raw_schedules = [_resolve(s, index) for s in _list(ev.get("eventSchedule"))]
    if not raw_schedules:
        if "EventSeries" in _types(ev):
            raise SkipRow("an event series without an eventSchedule (when does it meet?)")
        raise NotAGroup("one-off event, not a recurring group")

    places: list[Place] = []
    points: list[tuple[float, float]] = []
    online_links: list[str] = []
    online = False
    for loc in (_resolve(x, index) for x in _list(ev.get("location"))):
        if isinstance(loc, str):
            if is_online_place(loc):
                online = True
                if loc.lower().startswith(("http://", "https://")):
                    online_links.append(loc)
            else:
                places.append(split_address(loc, source.country))
        elif isinstance(loc, dict) and "VirtualLocation" in _types(loc):
            online = True
            link = _abs(page_url, _str(loc.get("url")))
            if link:
                online_links.append(link)
        elif isinstance(loc, dict):
            place, point = _place(loc, index, source)
            places.append(place)
            if point:
                points.append(point)
    description = _plain(ev.get("description")) or ""
    link = online_links[0] if online_links else video_link(description)
    has_place = bool(places or points)
    fmt = _MODES.get(_local_name(ev.get("eventAttendanceMode")) or "")
    if status == "EventMovedOnline":
        fmt = "virtual"
    if fmt is None:
        online = online or link is not None
        fmt = ("hybrid" if online and has_place else "virtual" if online
               else "in_person" if has_place else source.format or "in_person")

    organisation, contact_email, contact_phone = _organiser(ev, index)
    organisation = organisation or page_org
    offers = [_resolve(o, index) for o in _list(ev.get("offers"))]
    offers = [o for o in offers if isinstance(o, dict)]
    cost = _cost(ev, offers)
    offer_url = next((u for u in (_abs(page_url, _str(o.get("url"))) for o in offers)
                      if u and u not in (url, page_url)), None)
    email = contact_email or first_email(description)
    join_mode = source.options.get("join_mode")
    if join_mode is None:
        join_mode = "register" if offer_url else (infer_join_mode(
            description, reachable=bool(link or url or email)) or "drop_in")
    join_url = link or offer_url or (url if join_mode == "register" else None)

    zone_default = source.timezone
    schedules: list[ScheduleRecord] = []
    for raw in raw_schedules:
        if not isinstance(raw, dict):
            raise SkipRow("eventSchedule is not a Schedule")
        for s in _schedules(raw, ev, zone_default):
            if s not in schedules:
                schedules.append(s)
    if not schedules:
        raise SkipRow("the series has no meetings (it ends before its first one)")

    place = places[0] if places else Place()
    lat, lon = points[0] if points else (None, None)
    loss, audiences = _tags(ev)
    external_id = _node_id(ev) or (
        f"{url or page_url}#{vocab.fold(name or '').replace(' ', '-')}"
        if shared_url or not url else url)
    return ListingRecord(
        source=source.name,
        external_id=external_id,
        name=name or "",
        format=fmt,
        join_mode=join_mode,
        description=description,
        organisation=organisation,
        join_url=join_url,
        join_phone=contact_phone,
        join_email=email,
        loss_types=loss,
        audiences=audiences,
        languages=_languages(ev) or ["en"],
        cost=cost,
        venue_name=place.venue_name,
        address_line1=place.address_line1,
        address_line2=place.address_line2,
        town=place.town,
        region=place.region,
        postcode=place.postcode,
        country=place.country or source.country,
        latitude=lat,
        longitude=lon,
        timezone=schedules[0].timezone or source.timezone,
        schedules=schedules,
        last_confirmed=_date(ev.get("dateModified")),
        url=url,
    )


def _place(loc: dict, index: dict[str, dict],
           source: Source) -> tuple[Place, tuple[float, float] | None]:
    address = _resolve(loc.get("address"), index)
    if isinstance(address, dict):
        street = [p.strip() for p in re.split(r"[\n\r]+", _str(address.get("streetAddress"))
                                              or "") if p.strip()]
        country = address.get("addressCountry")
        country = _resolve(country, index)
        code = country_code(_name(country) if isinstance(country, dict) else _str(country))
        place = Place(
            venue_name=_name(loc),
            address_line1=street[0] if street else None,
            address_line2=", ".join(street[1:]) or None,
            town=_str(address.get("addressLocality")),
            region=_str(address.get("addressRegion")),
            postcode=_str(address.get("postalCode")),
            country=code or source.country,
        )
    else:
        text = _str(address)
        place = split_address(text, source.country) if text else Place(country=source.country)
        if _name(loc):
            if place.venue_name and place.address_line1 is None:
                place.address_line1 = place.venue_name
            elif place.venue_name:
                place.address_line1 = f"{place.venue_name}, {place.address_line1}"
            place.venue_name = _name(loc)
    geo = _resolve(loc.get("geo"), index)
    geo = geo if isinstance(geo, dict) else loc
    lat, lon = _float(geo.get("latitude")), _float(geo.get("longitude"))
    return place, (lat, lon) if lat is not None and lon is not None else None


def _organiser(ev: dict, index: dict[str, dict]
               ) -> tuple[OrganisationRecord | None, str | None, str | None]:
    org = None
    email = phone = None
    for who in (_resolve(o, index) for o in _list(ev.get("organizer"))):
        if isinstance(who, str):
            org = org or OrganisationRecord(who)
        elif isinstance(who, dict) and "Person" in _types(who):
            email = email or _strip_scheme(_str(who.get("email")), "mailto:")
            phone = phone or _strip_scheme(_str(who.get("telephone")), "tel:")
        elif isinstance(who, dict) and _name(who):
            org = org or _organisation(who)
    return org, email, phone


def _strip_scheme(text: str | None, scheme: str) -> str | None:
    if text and text.lower().startswith(scheme):
        return text[len(scheme):].strip() or None
    return text


def _organisation(node: dict) -> OrganisationRecord:
    return OrganisationRecord(
        name=_name(node) or "",
        website=_str(node.get("url")),
        email=_strip_scheme(_str(node.get("email")), "mailto:"),
        phone=_strip_scheme(_str(node.get("telephone")), "tel:"),
    )


def _cost(ev: dict, offers: list[dict]) -> str:
    for offer in offers:
        price = _str(offer.get("price"))
        if price is None:
            continue
        if price.lower() == "free":
            return "free"
        try:
            return "free" if float(price.replace(",", "")) == 0 else "fee"
        except ValueError:
            continue
    free = _str(ev.get("isAccessibleForFree"))
    if free is None and isinstance(ev.get("isAccessibleForFree"), bool):
        free = str(ev["isAccessibleForFree"])
    if free is not None and free.lower() in ("false", "no", "0"):
        return "fee"
    return "free"


def _languages(ev: dict) -> list[str]:
    out = []
    for lang in _list(ev.get("inLanguage")):
        if isinstance(lang, dict):
            text = _str(lang.get("alternateName")) or _name(lang)
        else:
            text = _str(lang)
        if not text:
            continue
        key = text.lower()
        code = _SIGN_LANGUAGES.get(key) or (key.split("-")[0] if re.fullmatch(
            r"[a-z]{2,3}(-[a-z0-9]+)*", key) else text)
        if code not in out:
            out.append(code)
    return out


def _tags(ev: dict) -> tuple[list[str], list[str]]:
    """Loss types and audiences from audience/keywords/about, where they name one."""
    words: list[str] = []
    for aud in _list(ev.get("audience")):
        if isinstance(aud, dict):
            words += [t for t in (_str(aud.get("audienceType")), _name(aud)) if t]
        elif isinstance(aud, str):
            words.append(aud)
    for key in ("keywords", "about"):
        for v in _list(ev.get(key)):
            text = _name(v) if isinstance(v, dict) else _str(v)
            if text:
                words.append(text)
    loss: list[str] = []
    audiences: list[str] = []
    for phrase in words:
        for piece in re.split(r"\s*(?:[,;/|]|\band\b|&)\s*", phrase):
            piece = piece.strip()
            if not piece:
                continue
            if vocab.LOSS.lookup(piece) and piece not in loss:
                loss.append(piece)
            elif vocab.AUDIENCE.lookup(piece) and piece not in audiences:
                audiences.append(piece)
    return loss, audiences


# ---------------------------------------------------------------------- a Schedule


def _weekday(value: Any) -> tuple[int | None, int]:
    """(ordinal, weekday) from "https://schema.org/Tuesday", "Tuesday", "TU" or "1TU"."""
    text = _local_name(value) or ""
    m = _ICAL_DAY.fullmatch(text.upper())
    if m:
        return (int(m.group(1)) if m.group(1) else None, _RFC_DAYS.index(m.group(2)))
    code = vocab.DAYS.lookup(text)
    if code is None:
        raise SkipRow(f"byDay {text!r} is not a day of the week")
    return None, vocab.DAYS.codes.index(code)


def _daily(value: Any) -> bool:
    """repeatFrequency "P1D" (or "daily"): every day."""
    text = _str(value)
    return bool(text) and (text.upper() == "P1D" or vocab.fold(text) in ("daily", "every day"))


def _frequency(value: Any) -> tuple[str, int] | None:
    text = _str(value)
    if not text:
        return None
    m = _PERIOD.fullmatch(text.upper())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if unit == "W":
            return "weekly", n
        if unit == "D" and n % 7 == 0:
            return "weekly", n // 7
        if unit == "M":
            return "monthly", n
    elif vocab.fold(text) in _TEXT_FREQ:
        return _TEXT_FREQ[vocab.fold(text)]
    raise SkipRow(f"repeatFrequency {text!r}: only weekly, fortnightly or monthly meetings on a "
                f"weekday can be listed")


def _schedules(raw: dict, ev: dict, zone_default: str | None) -> list[ScheduleRecord]:
    for key in ("byMonthDay", "byMonth"):
        if raw.get(key) not in (None, [], ""):
            raise SkipRow(f"eventSchedule uses {key}, which a weekly or monthly meeting on a "
                        f"weekday cannot express")
    zone = _valid_zone(_str(raw.get("scheduleTimezone"))) or zone_default
    days = [_weekday(d) for d in _list(raw.get("byDay"))]
    weeks: list[int] = []
    for w in _list(raw.get("byMonthWeek")):
        try:
            weeks.append(int(_str(w) or ""))
        except ValueError:
            raise SkipRow(f"byMonthWeek {w!r} is not a week number") from None
    if _daily(raw.get("repeatFrequency")):
        # every day (P1D), or every day of the listed weekdays (P1D + byDay Mon-Fri): a
        # weekly meeting on each of those days
        if raw.get("byMonthWeek") not in (None, [], "") or any(n for n, _ in days):
            raise SkipRow("a daily eventSchedule cannot pick a week of the month")
        days = days or [(None, wd) for wd in range(7)]
        raw = {**raw, "repeatFrequency": "P1W"}
    given = _frequency(raw.get("repeatFrequency"))
    ordinals = [n for n, _ in days if n is not None]
    freq, interval = given or (("monthly", 1) if weeks or ordinals else ("weekly", 1))

    start_info = _time(raw.get("startTime"))
    if start_info is None and _str(raw.get("startTime")):
        raise SkipRow(f"startTime {_str(raw.get('startTime'))!r} is not a time of day")
    start_info = start_info or _time(ev.get("startDate"))
    if start_info is None:
        raise SkipRow("eventSchedule has no startTime")
    start_time, _, offset = start_info
    valid_from = _date(raw.get("startDate"), zone) or _date(ev.get("startDate"), zone)
    if offset is not None and zone and valid_from:
        stamp = dt.datetime.combine(valid_from, start_time, offset).astimezone(ZoneInfo(zone))
        start_time = stamp.time().replace(tzinfo=None)
    if not days:
        if valid_from is None:
            raise SkipRow("eventSchedule has no byDay and no startDate to take the day from")
        days = [(None, valid_from.weekday())]

    specs: list[tuple[str, int, int | None]] = []
    if freq == "weekly":
        if weeks or ordinals:
            raise SkipRow("a weekly eventSchedule cannot pick a week of the month "
                        "(byMonthWeek); use repeatFrequency P1M")
        specs = [("weekly", wd, None) for _, wd in days]
    elif weeks:
        if ordinals:
            raise SkipRow("eventSchedule gives both byMonthWeek and an ordinal byDay")
        specs = [("monthly", wd, w) for w in weeks for _, wd in days]
    elif ordinals and len(ordinals) == len(days):
        specs = [("monthly", wd, n) for n, wd in days]
    else:
        raise SkipRow("a monthly eventSchedule needs byMonthWeek (which week of the month?)")
    for _, _wd, pos in specs:
        if pos not in (None, 1, 2, 3, 4, -1):
            raise SkipRow(f"week {pos} of the month is not supported (1 to 4, or -1 for the last)")
    specs = list(dict.fromkeys(specs))

    duration = _minutes(raw.get("duration"))
    end_info = _time(raw.get("endTime"))
    if duration is None and end_info is not None:
        end_time, _, end_offset = end_info
        if end_offset is not None and zone and valid_from:
            stamp = dt.datetime.combine(valid_from, end_time, end_offset)
            end_time = stamp.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
        span = (end_time.hour * 60 + end_time.minute) - (start_time.hour * 60 + start_time.minute)
        duration = span if span > 0 else span + 1440
    if duration is None:
        duration = _minutes(ev.get("duration")) or _event_span(ev)

    valid_until = _date(raw.get("endDate"), zone)
    if valid_until is None:
        end_day = _date(ev.get("endDate"), zone)
        start_day = _date(ev.get("startDate"), zone)
        if end_day and start_day and end_day > start_day:
            valid_until = end_day
    count = _str(raw.get("repeatCount"))
    last_by_spec: dict[tuple[str, int, int | None], dt.date] = {}
    if count and count.isdigit() and valid_from and int(count) <= MAX_COUNT:
        rule = du.rrule(du.WEEKLY if freq == "weekly" else du.MONTHLY,
                        dtstart=dt.datetime.combine(valid_from, start_time),
                        interval=interval, count=int(count),
                        byweekday=[du.weekday(wd, pos) for _, wd, pos in specs])
        for occurrence in rule:
            for spec in specs:
                if matches_position(spec[1], spec[2], occurrence.date()):
                    last_by_spec[spec] = occurrence.date()
                    break
    except_dates = {d for d in (_date(x, zone) for x in _list(raw.get("exceptDate"))) if d}

    out = []
    for spec in specs:
        until = valid_until
        if count and spec not in last_by_spec and last_by_spec:
            continue  # repeatCount ran out before this day came round
        if spec in last_by_spec:
            until = min(until, last_by_spec[spec]) if until else last_by_spec[spec]
        if until is not None and valid_from is not None and until < valid_from:
            continue
        kind, wd, pos = spec
        out.append(ScheduleRecord(
            freq=kind, weekday=wd, start_time=start_time, interval=interval, set_pos=pos,
            duration_minutes=duration if duration is not None else 90,
            timezone=zone, valid_from=valid_from, valid_until=until,
            cancelled_dates=sorted(d for d in except_dates if matches_position(wd, pos, d)),
        ))
    return out


def _event_span(ev: dict) -> int | None:
    """The first meeting's length from the Event's own start and end, if on one day."""
    start, end = _str(ev.get("startDate")), _str(ev.get("endDate"))
    if not start or not end or "T" not in start or "T" not in end:
        return None
    try:
        a = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        return None
    minutes = round((b - a).total_seconds() / 60)
    return minutes if 0 < minutes <= 1440 else None


adapter = WebPageAdapter()
