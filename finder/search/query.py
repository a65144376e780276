"""The search SQL: filters in SQL, indexes doing the ordering, counts capped.

In-person and hybrid groups are found with `ST_DWithin` on geography and ordered with the
KNN operator `<->`, so PostgreSQL walks the GiST index outward from the searcher and stops
after a page. Online groups have no distance: they are limited to those serving the
searcher's country and ordered by `groups.next_meeting_at` (an index). Totals are counted
separately and only up to `COUNT_CAP`, because an exact count of every match in a dense
city costs more than the page itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, null, select, true
from sqlalchemy.orm import Session

from finder.models import Group, Location, Schedule
from finder.search.params import SearchParams

G = Group.__table__
L = Location.__table__
S = Schedule.__table__

WORLDWIDE = "*"
COUNT_CAP = 1000  # more matches than this are shown as "1,000+"


@dataclass(frozen=True)
class Hit:
    group_id: int
    distance_m: float | None


@dataclass(frozen=True)
class HitPage:
    hits: list[Hit]
    total: int  # when not `exact`, a lower bound: there are more
    exact: bool = True


def origin_wkt(lat: float, lng: float) -> str:
    return f"SRID=4326;POINT({lng!r} {lat!r})"


def _upcoming(schedule_where: ColumnElement[bool] | None, now: dt.datetime, until: dt.datetime):
    """The group's cached meeting starts in [now, until), from `unnest(schedules.upcoming)`."""
    occurrences = func.unnest(S.c.upcoming).table_valued("u").render_derived("occ")
    u = occurrences.c.u
    conditions = [S.c.group_id == G.c.id, u >= now, u < until]
    if schedule_where is not None:
        conditions.append(schedule_where)
    return select(u).select_from(S).join(occurrences, true()).where(*conditions)


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
        until = now + dt.timedelta(days=params.within_days)
        where.append(_upcoming(sched_cond, now, until).exists())
    elif sched_cond is not None:
        where.append(exists(select(S.c.id).where(S.c.group_id == G.c.id, sched_cond)))
    return where


def _page(session: Session, stmt: Select, params: SearchParams, *, page: int | None = None,
          per_page: int | None = None) -> HitPage:
    """One page of `stmt` (which selects id and distance_m), and the capped total."""
    page = page or params.page
    per_page = per_page or params.per_page
    offset = (page - 1) * per_page
    rows = session.execute(stmt.limit(per_page).offset(offset)).all()
    hits = [Hit(r.id, r.distance_m) for r in rows]
    if len(rows) < per_page and (rows or page == 1):
        return HitPage(hits, offset + len(rows))  # the last page: the total is known
    capped = stmt.order_by(None).with_only_columns(G.c.id).limit(COUNT_CAP + 1).subquery()
    total = session.execute(select(func.count()).select_from(capped)).scalar_one()
    return HitPage(hits, min(total, COUNT_CAP), exact=total <= COUNT_CAP)


def nearby(session: Session, params: SearchParams, lat: float, lng: float,
           now: dt.datetime) -> HitPage:
    """In-person and hybrid groups within the radius, nearest first (GiST KNN index scan)."""
    formats = ("in_person", "hybrid") if params.format == "any" else (params.format,)
    origin = func.ST_GeogFromText(bindparam("origin", origin_wkt(lat, lng)))
    stmt = (
        select(G.c.id, func.ST_Distance(L.c.point, origin).label("distance_m"))
        .join_from(G, L, L.c.id == G.c.location_id)
        .where(
            G.c.format.in_(formats),
            func.ST_DWithin(L.c.point, origin, params.radius_m),
            *group_filters(params, now),
        )
    )
    if params.sort == "next":
        stmt = stmt.order_by(G.c.next_meeting_at.nulls_last(), L.c.point.op("<->")(origin))
    else:
        stmt = stmt.order_by(L.c.point.op("<->")(origin), G.c.id)
    return _page(session, stmt, params)


def online(session: Session, params: SearchParams, country: str | None, now: dt.datetime,
           *, page: int | None = None, per_page: int | None = None) -> HitPage:
    """Virtual-only groups that serve `country` (or worldwide), next meeting first."""
    served = [WORLDWIDE] + ([country] if country else [])
    stmt = (
        select(G.c.id, null().label("distance_m"))
        .where(
            G.c.format == "virtual",
            G.c.service_countries.overlap(served),
            *group_filters(params, now),
        )
        .order_by(G.c.next_meeting_at.nulls_last(), G.c.name, G.c.id)
    )
    return _page(session, stmt, params, page=page, per_page=per_page)


def anywhere(session: Session, params: SearchParams, now: dt.datetime) -> HitPage:
    """No location given: every matching group of the chosen format, next meeting first."""
    where = list(group_filters(params, now))
    if params.format != "any":
        where.append(G.c.format == params.format)
    stmt = (
        select(G.c.id, null().label("distance_m"))
        .where(*where)
        .order_by(G.c.next_meeting_at.nulls_last(), G.c.id)
    )
    return _page(session, stmt, params)
