"""The field view of a listing: one flat, JSON-able dict per group, the same whether it is
read from a `NormalisedListing` or from the database.

The audit log (`finder.listings.audit`) records `{field: [before, after]}` in these terms,
moderators see submissions' changes as `diff`s of them, and a submission's payload can
carry them (`listing_from_fields` turns them back into a listing for the store).

Values are plain JSON: text, numbers, booleans, lists; dates and times as ISO text;
schedules as a list of dicts of the `ScheduleRecord` fields (in the order they are stored).
A virtual group has no venue: every venue field is None, whatever the listing said.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.listings.normalise import NormalisedListing, NormalisedOrganisation
from finder.models import Group, Location, Organisation, Schedule
from finder.schedules import Recurrence

# key -> plain-language label, in the order a person reads a listing
FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "description": "Description",
    "format": "Meets in person, online or both",
    "organisation": "Organisation",
    "venue_name": "Venue",
    "address_line1": "Address",
    "address_line2": "Address (second line)",
    "town": "Town or city",
    "region": "County, state or region",
    "postcode": "Postcode",
    "country": "Country",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "geocode_precision": "How exactly the venue is placed",
    "timezone": "Time zone",
    "service_countries": "Countries served online",
    "schedules": "When it meets",
    "join_mode": "How to join",
    "join_url": "Joining link",
    "join_phone": "Joining phone number",
    "join_email": "Joining email address",
    "join_notes": "Joining notes",
    "loss_types": "Kinds of loss",
    "audiences": "Who it is for",
    "languages": "Languages",
    "cost": "Cost",
    "facilitation": "Who runs the meetings",
    "accessibility_notes": "Accessibility",
    "last_confirmed": "Last confirmed by the organiser",
}

VENUE_FIELDS = ("venue_name", "address_line1", "address_line2", "town", "region", "postcode",
                "country", "latitude", "longitude", "geocode_precision")
_LIST_FIELDS = ("service_countries", "loss_types", "audiences", "languages")
_PLAIN_FIELDS = ("name", "description", "format", "join_mode", "join_url", "join_phone",
                 "join_email", "join_notes", "cost", "facilitation", "accessibility_notes",
                 "timezone")
COORDINATE_DIGITS = 6  # about 0.1 m: what survives a round trip through the database


def _iso(value: dt.date | dt.time | None) -> str | None:
    return None if value is None else value.isoformat()


def _coordinate(value: float | None) -> float | None:
    return None if value is None else round(float(value), COORDINATE_DIGITS)


def schedule_fields(rec: Any) -> dict[str, Any]:
    """One schedule (a `Recurrence` or a `Schedule` row) as JSON: the `ScheduleRecord`
    fields."""
    return {
        "freq": rec.freq, "interval": rec.interval, "weekday": rec.weekday,
        "set_pos": rec.set_pos, "start_time": _iso(rec.start_time),
        "duration_minutes": rec.duration_minutes, "timezone": rec.timezone,
        "valid_from": _iso(rec.valid_from), "valid_until": _iso(rec.valid_until),
        "cancelled_dates": [d.isoformat() for d in sorted(rec.cancelled_dates or ())],
    }


def listing_fields(listing: NormalisedListing) -> dict[str, Any]:
    """The field view of a (geocoded) listing; pure."""
    out: dict[str, Any] = {key: getattr(listing, key) for key in _PLAIN_FIELDS}
    out["organisation"] = listing.organisation.name if listing.organisation else None
    for key in _LIST_FIELDS:
        out[key] = list(getattr(listing, key))
    if listing.format == "virtual":
        out.update(dict.fromkeys(VENUE_FIELDS))
    else:
        for key in VENUE_FIELDS:
            out[key] = getattr(listing, key)
        out["latitude"] = _coordinate(listing.latitude)
        out["longitude"] = _coordinate(listing.longitude)
    out["schedules"] = [schedule_fields(r) for r in listing.schedules]
    out["last_confirmed"] = _iso(listing.last_confirmed)
    return {key: out[key] for key in FIELD_LABELS}


def group_fields(session: Session, group_id: int) -> dict[str, Any]:
    """The field view of a stored group (its venue and organisation included); LookupError
    when there is no such group."""
    from geoalchemy2.functions import ST_X, ST_Y
    from geoalchemy2.types import Geometry
    from sqlalchemy import cast

    geom = cast(Location.point, Geometry)
    row = session.execute(
        select(Group, Organisation.name.label("org_name"), Location,
               ST_Y(geom).label("lat"), ST_X(geom).label("lng"))
        .outerjoin(Organisation, Organisation.id == Group.organisation_id)
        .outerjoin(Location, Location.id == Group.location_id)
        .where(Group.id == group_id)
    ).first()
    if row is None:
        raise LookupError(f"no group with id {group_id}")
    group, org_name, location = row[0], row.org_name, row[2]
    out: dict[str, Any] = {key: getattr(group, key) for key in _PLAIN_FIELDS}
    out["organisation"] = org_name
    for key in _LIST_FIELDS:
        out[key] = list(getattr(group, key) or [])
    if location is None:
        out.update(dict.fromkeys(VENUE_FIELDS))
    else:
        for key in VENUE_FIELDS:
            out[key] = getattr(location, key, None)
        out["latitude"] = _coordinate(row.lat)
        out["longitude"] = _coordinate(row.lng)
    rows = session.scalars(select(Schedule).where(Schedule.group_id == group_id)
                           .order_by(Schedule.id)).all()
    out["schedules"] = [schedule_fields(s) for s in rows]
    out["last_confirmed"] = _iso(group.last_confirmed)
    return {key: out[key] for key in FIELD_LABELS}


def _time(value: Any) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(value)


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def _recurrence(obj: Mapping[str, Any], timezone: str | None) -> Recurrence:
    return Recurrence(
        freq=obj["freq"], interval=obj.get("interval", 1), weekday=obj["weekday"],
        set_pos=obj.get("set_pos"), start_time=_time(obj["start_time"]),
        duration_minutes=obj.get("duration_minutes", 90),
        timezone=obj.get("timezone") or timezone,
        valid_from=_date(obj["valid_from"]), valid_until=_date(obj.get("valid_until")),
        cancelled_dates=frozenset(_date(d) for d in obj.get("cancelled_dates") or ()),
    )


def fields_hash(fields: Mapping[str, Any]) -> str:
    """A content hash of a field view (for listings that come from one, not a feed)."""
    body = orjson.dumps({k: fields.get(k) for k in FIELD_LABELS}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def listing_from_fields(fields: Mapping[str, Any]) -> NormalisedListing:
    """The inverse of `listing_fields`: `listing_fields(listing_from_fields(f)) == f` for a
    field view `f`. Values are taken as they are (validate them first: a submission's
    payload goes through `finder.listings.normalise`). Optional keys outside the view:
    `source`, `external_id` and `url` (provenance, for an import), "" / None otherwise; the
    content hash is `fields_hash`."""
    org = fields.get("organisation")
    timezone = fields.get("timezone")
    venue = fields.get("format") != "virtual"
    return NormalisedListing(
        source=fields.get("source") or "", external_id=fields.get("external_id") or "",
        name=fields["name"], description=fields.get("description") or "",
        format=fields["format"], join_mode=fields["join_mode"],
        join_url=fields.get("join_url"), join_phone=fields.get("join_phone"),
        join_email=fields.get("join_email"), join_notes=fields.get("join_notes"),
        loss_types=tuple(fields.get("loss_types") or ()),
        audiences=tuple(fields.get("audiences") or ()),
        languages=tuple(fields.get("languages") or ("en",)),
        cost=fields.get("cost") or "free", facilitation=fields.get("facilitation") or "peer",
        accessibility_notes=fields.get("accessibility_notes"),
        organisation=NormalisedOrganisation(org) if org else None,
        **{key: (fields.get(key) if venue else None) for key in VENUE_FIELDS},
        timezone=timezone,
        service_countries=tuple(fields.get("service_countries") or ()),
        schedules=tuple(_recurrence(s, timezone) for s in fields.get("schedules") or ()),
        last_confirmed=_date(fields.get("last_confirmed")),
        url=fields.get("url"),
        content_hash=fields_hash(fields),
    )


def created_changes(view: Mapping[str, Any]) -> dict[str, list]:
    """A new group's audit `changes`: `[None, value]` for each field that has a value."""
    return {k: [None, v] for k, v in view.items() if v not in (None, "", [])}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    """`{key: [before, after]}` for the keys whose values differ (a key missing on one side
    counts as None), in `FIELD_LABELS` order, then any other keys in `after`'s order."""
    keys = [k for k in FIELD_LABELS if k in before or k in after]
    keys += [k for k in (*before, *after) if k not in FIELD_LABELS and k not in keys]
    out: dict[str, list] = {}
    for key in dict.fromkeys(keys):
        old, new = before.get(key), after.get(key)
        if old != new:
            out[key] = [old, new]
    return out
