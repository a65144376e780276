"""Result objects: what a searcher sees of a group, built once and rendered as HTML or JSON.

Next meetings are computed here, live, from the schedules (the SQL cache only filters and
sorts), in the group's zone and, when it differs, in the searcher's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import cast, select
from sqlalchemy.orm import Session

from finder import schedules, vocab
from finder.models import Group, ListingSource, Location, Organisation, Schedule
from finder.search.params import KM_PER_MILE

G = Group.__table__
L = Location.__table__
O = Organisation.__table__  # noqa: E741
S = Schedule.__table__


@dataclass
class Meeting:
    start: str  # ISO 8601 in the group's zone
    end: str
    timezone: str
    label: str  # "Tue 2 Dec, 7:00pm GMT"
    searcher_start: str | None = None
    searcher_timezone: str | None = None
    searcher_label: str | None = None


@dataclass
class ScheduleView:
    description: str
    rrule: str
    timezone: str
    cancelled_dates: list[str]


@dataclass
class GroupResult:
    id: int
    name: str
    format: str
    format_label: str
    status: str
    description: str
    organisation: dict | None
    join: dict
    timezone: str
    location: dict | None
    service_countries: list[str]
    distance: float | None
    distance_unit: str | None
    next_meeting: Meeting | None
    schedules: list[ScheduleView]
    loss_types: list[dict]
    audiences: list[dict]
    languages: list[dict]
    cost: dict
    facilitation: dict
    accessibility_notes: str | None
    last_confirmed: str | None
    updated_at: str
    sources: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        # shallow on purpose: dataclasses.asdict deep-copies every value, on every request
        d = dict(self.__dict__)
        d["next_meeting"] = dict(self.next_meeting.__dict__) if self.next_meeting else None
        d["schedules"] = [dict(s.__dict__) for s in self.schedules]
        return d


def _coded(v: vocab.Vocabulary, codes: list[str]) -> list[dict]:
    return [{"code": c, "label": v.label(c)} for c in codes]


@lru_cache(maxsize=4096)
def _schedule_text(rec: schedules.Recurrence) -> tuple[str, str]:
    """The description and RRULE of a recurrence; the same few thousand recur constantly."""
    return schedules.describe(rec), schedules.to_rrule(rec)


def _next_start(rec: schedules.Recurrence, cached: list[dt.datetime],
                now: dt.datetime) -> dt.datetime | None:
    """The next meeting: the cached upcoming one (computed by the same maths when the
    schedule was written or refreshed) when there is one, else computed now."""
    for start in cached:
        if start >= now:
            return start.astimezone(rec.zone)
    return schedules.next_occurrence(rec, now)


def _meeting(rec: schedules.Recurrence, start: dt.datetime, searcher_tz: str | None) -> Meeting:
    end = start + dt.timedelta(minutes=rec.duration_minutes)
    meeting = Meeting(start.isoformat(), end.isoformat(), rec.timezone,
                      schedules.format_time(start))
    if searcher_tz and searcher_tz != rec.timezone:
        theirs = start.astimezone(ZoneInfo(searcher_tz))
        # the same clock time under another name (GMT and UTC) is not shown twice
        if theirs.utcoffset() != start.utcoffset():
            meeting.searcher_start = theirs.isoformat()
            meeting.searcher_timezone = searcher_tz
            meeting.searcher_label = schedules.format_time(theirs)
    return meeting


def build(session: Session, ids: list[int], *, now: dt.datetime, searcher_tz: str | None = None,
          distances: dict[int, float | None] | None = None, unit: str = "km",
          with_sources: bool = False) -> list[GroupResult]:
    """GroupResults for `ids`, in that order: two queries whatever the page size."""
    if not ids:
        return []
    geom = cast(L.c.point, Geometry)
    rows = session.execute(
        select(
            G, O.c.name.label("org_name"), O.c.website.label("org_website"),
            O.c.email.label("org_email"), O.c.phone.label("org_phone"),
            L.c.venue_name, L.c.address_line1, L.c.address_line2, L.c.town, L.c.region,
            L.c.postcode, L.c.country, L.c.geocode_precision,
            ST_Y(geom).label("lat"), ST_X(geom).label("lng"),
        )
        .select_from(G.outerjoin(O, O.c.id == G.c.organisation_id)
                     .outerjoin(L, L.c.id == G.c.location_id))
        .where(G.c.id.in_(ids))
    ).all()
    by_group: dict[int, list] = {}
    for s in session.execute(select(S).where(S.c.group_id.in_(ids)).order_by(S.c.id)).all():
        by_group.setdefault(s.group_id, []).append(s)
    sources: dict[int, list[dict]] = {}
    if with_sources:
        LS = ListingSource.__table__
        current = select(LS).where(LS.c.group_id.in_(ids), LS.c.withdrawn_at.is_(None))
        for s in session.execute(current.order_by(LS.c.id)):
            sources.setdefault(s.group_id, []).append({
                "source": s.source, "url": s.url,
                "first_seen": s.first_seen_at.isoformat(), "last_seen": s.last_seen_at.isoformat(),
            })

    distances = distances or {}
    results = {}
    for r in rows:
        rows_and_recs = [(s, schedules.Recurrence.from_obj(s)) for s in by_group.get(r.id, [])]
        recs = [rec for _, rec in rows_and_recs]
        upcoming = [(m, rec) for s, rec in rows_and_recs
                    if (m := _next_start(rec, s.upcoming or [], now))]
        next_meeting = None
        if upcoming:
            start, rec = min(upcoming, key=lambda pair: pair[0])
            next_meeting = _meeting(rec, start, searcher_tz)
        distance_m = distances.get(r.id)
        distance = None
        if distance_m is not None:
            distance = round(distance_m / 1000 / (KM_PER_MILE if unit == "mi" else 1), 1)
        results[r.id] = GroupResult(
            id=r.id,
            name=r.name,
            format=r.format,
            format_label=vocab.FORMAT.label(r.format),
            status=r.status,
            description=r.description,
            organisation=(
                {"name": r.org_name, "website": r.org_website, "email": r.org_email,
                 "phone": r.org_phone} if r.org_name else None
            ),
            join={
                "mode": r.join_mode, "label": vocab.JOIN.label(r.join_mode), "url": r.join_url,
                "phone": r.join_phone, "email": r.join_email, "notes": r.join_notes,
            },
            timezone=r.timezone,
            location=(
                {"venue_name": r.venue_name, "address_line1": r.address_line1,
                 "address_line2": r.address_line2, "town": r.town, "region": r.region,
                 "postcode": r.postcode, "country": r.country,
                 "latitude": round(r.lat, 6), "longitude": round(r.lng, 6),
                 "geocode_precision": r.geocode_precision} if r.lat is not None else None
            ),
            service_countries=list(r.service_countries or []),
            distance=distance,
            distance_unit=unit if distance is not None else None,
            next_meeting=next_meeting,
            schedules=[
                ScheduleView(*_schedule_text(rec), rec.timezone,
                             sorted(d.isoformat() for d in rec.cancelled_dates if d >= now.date()))
                for rec in recs
            ],
            loss_types=_coded(vocab.LOSS, r.loss_types),
            audiences=_coded(vocab.AUDIENCE, r.audiences),
            languages=_coded(vocab.LANGUAGE, r.languages),
            cost={"code": r.cost, "label": vocab.COST.label(r.cost)},
            facilitation={"code": r.facilitation,
                          "label": vocab.FACILITATION.label(r.facilitation)},
            accessibility_notes=r.accessibility_notes,
            last_confirmed=r.last_confirmed.isoformat() if r.last_confirmed else None,
            updated_at=r.updated_at.isoformat(),
            sources=sources.get(r.id, []),
        )
    return [results[i] for i in ids if i in results]
