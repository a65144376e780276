"""The search SQL: one statement per list, filters in SQL, the GiST index doing the distance work.

In-person and hybrid groups are found with `ST_DWithin` on geography and ordered with the
KNN operator `<->`, so PostgreSQL walks the index outward from the searcher. Online groups
have no distance: they are limited to those serving the searcher's country and ordered by
their next meeting (from the cached `schedules.upcoming`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, select, true
from sqlalchemy.orm import Session

from finder.models import Group, Location, Schedule
from finder.search.params import SearchParams

G = Group.__table__
L = Location.__table__
S = Schedule.__table__

WORLDWIDE = "*"


@dataclass(frozen=True)
class Hit:
    group_id: int
    distance_m: float | None


@dataclass(frozen=True)
class HitPage:
    hits: list[Hit]
    total: int


def origin_wkt(lat: float, lng: float) -> str:
    return f"SRID=4326;POINT({lng!r} {lat!r})"


def _upcoming(schedule_where: ColumnElement[bool] | None, now: dt.datetime,
              until: dt.datetime | None = None):
    """The group's cached meeting starts, `unnest(schedules.upcoming)`, from `now` (to `until`)."""
    occurrences = func.unnest(S.c.upcoming).table_valued("u").render_derived("occ")
    u = occurrences.c.u
    conditions = [S.c.group_id == G.c.id, u >= now]
    if until is not None:
        conditions.append(u < until)
    if schedule_where is not None:
        conditions.append(schedule_where)
    return u, select(u).select_from(S).join(occurrences, true()).where(*conditions)


def next_meeting_at(now: dt.datetime):
    """Correlated subquery: the group's next cached meeting start (for sort=next)."""
    u, occurrences = _upcoming(None, now)
    return occurrences.with_only_columns(func.min(u)).scalar_subquery()


def group_filters(params: SearchParams, now: dt.datetime) -> list[ColumnElement[bool]]:
    """Filters on the group and its schedules shared by every list."""
    where: list[ColumnElement[bool]] = [G.c.status == "active"]
    if params.loss:
        where.append(G.c.loss_types.overlap(list(params.loss)))
    if params.audience:
        where.append(G.c.audiences.overlap(list(params.audience)))
    if params.language:
        where.append(G.c.languages.overlap(list(params.language)))
    if params.cost:
        where.append(G.c.cost.in_(params.cost))
    if params.join:
        where.append(G.c.join_mode.in_(params.join))

    # day and time of day must hold for the same schedule: "Tuesday evenings"
    schedule_where = []
    if params.days:
        schedule_where.append(S.c.weekday.in_(params.days))
    if params.times:
        schedule_where.append(S.c.time_band.in_(params.times))
    sched_cond = and_(*schedule_where) if schedule_where else None
    if params.within_days:
        _, occurrences = _upcoming(sched_cond, now, now + dt.timedelta(days=params.within_days))
        where.append(occurrences.exists())
    elif sched_cond is not None:
        where.append(exists(select(S.c.id).where(S.c.group_id == G.c.id, sched_cond)))
    return where


def _page(session: Session, stmt: Select, params: SearchParams, has_distance: bool) -> HitPage:
    stmt = stmt.limit(params.per_page).offset((params.page - 1) * params.per_page)
    rows = session.execute(stmt).all()
    total = rows[0].total if rows else 0
    hits = [Hit(r.id, r.distance_m if has_distance else None) for r in rows]
    return HitPage(hits, total)


def nearby(session: Session, params: SearchParams, lat: float, lng: float,
           now: dt.datetime) -> HitPage:
    """In-person and hybrid groups within the radius, nearest first (GiST index scan)."""
    formats = ("in_person", "hybrid") if params.format == "any" else (params.format,)
    origin = func.ST_GeogFromText(bindparam("origin", origin_wkt(lat, lng)))
    stmt = (
        select(
            G.c.id,
            func.ST_Distance(L.c.point, origin).label("distance_m"),
            func.count().over().label("total"),
        )
        .join_from(G, L, L.c.id == G.c.location_id)
        .where(
            G.c.format.in_(formats),
            func.ST_DWithin(L.c.point, origin, params.radius_m),
            *group_filters(params, now),
        )
    )
    if params.sort == "next":
        stmt = stmt.order_by(next_meeting_at(now).nulls_last(), L.c.point.op("<->")(origin))
    else:
        stmt = stmt.order_by(L.c.point.op("<->")(origin), G.c.id)
    return _page(session, stmt, params, has_distance=True)


def online(session: Session, params: SearchParams, country: str | None, now: dt.datetime,
           *, page: int | None = None, per_page: int | None = None) -> HitPage:
    """Virtual-only groups that serve `country` (or worldwide), next meeting first."""
    served = [WORLDWIDE] + ([country] if country else [])
    stmt = (
        select(G.c.id, func.count().over().label("total"))
        .where(
            G.c.format == "virtual",
            G.c.service_countries.overlap(served),
            *group_filters(params, now),
        )
        .order_by(next_meeting_at(now).nulls_last(), G.c.name, G.c.id)
    )
    if page is not None or per_page is not None:
        params = _with_page(params, page or 1, per_page or params.per_page)
    return _page(session, stmt, params, has_distance=False)


def anywhere(session: Session, params: SearchParams, now: dt.datetime) -> HitPage:
    """No location given: every matching group of the chosen format, next meeting first."""
    where = list(group_filters(params, now))
    if params.format != "any":
        where.append(G.c.format == params.format)
    stmt = (
        select(G.c.id, func.count().over().label("total"))
        .where(*where)
        .order_by(next_meeting_at(now).nulls_last(), G.c.name, G.c.id)
    )
    return _page(session, stmt, params, has_distance=False)


def _with_page(params: SearchParams, page: int, per_page: int) -> SearchParams:
    return replace(params, page=page, per_page=per_page)
