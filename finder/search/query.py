"""The search SQL: filters in SQL, indexes doing the ordering, counts capped.

In-person and hybrid groups are found with `ST_DWithin` on geography and ordered with the
KNN operator `<->`, so PostgreSQL walks the GiST index outward from the searcher and stops
after a page. Online groups have no distance: they are limited to those serving the
searcher's country and ordered by `groups.next_meeting_at` (an index). Totals are counted
separately and only up to `COUNT_CAP`, because an exact count of every match in a dense
city costs more than the page itself.

Day and time-of-day filters mean the group's local day and time for groups that meet in a
place, and the *searcher's* day and time for online groups (a New York searcher asking for
evenings wants 5pm to 9pm in New York). Groups only for professionals are left out unless
the search asks for that audience.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    Time,
    and_,
    bindparam,
    cast,
    exists,
    extract,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from finder import vocab
from finder.models import Group, Location, Schedule
from finder.search.params import SearchParams

G = Group.__table__
L = Location.__table__
S = Schedule.__table__

WORLDWIDE = "*"
COUNT_CAP = 200  # more matches than this are shown as "200+"
PROFESSIONALS = "professionals"
ALL_FORMATS = tuple(vocab.FORMAT.codes)
# time-of-day bands as [start, end) local clock times; night wraps past midnight
BAND_HOURS = {"morning": (5, 12), "afternoon": (12, 17), "evening": (17, 21), "night": (21, 5)}


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


def _occurrence_upcoming(params: SearchParams, now: dt.datetime, until: dt.datetime,
                         zone: str) -> Select:
    """Like `_upcoming`, with the day and time tested on each meeting's start in `zone`."""
    occurrences = func.unnest(S.c.upcoming).table_valued("u").render_derived("occ")
    u = occurrences.c.u
    conditions = [S.c.group_id == G.c.id, u >= now, u < until]
    conditions.extend(_clock_conditions(params, u, zone))
    return select(u).select_from(S).join(occurrences, true()).where(*conditions)


def _band_condition(clock: ColumnElement, band: str) -> ColumnElement[bool]:
    start, end = (dt.time(h) for h in BAND_HOURS[band])
    if start < end:
        return and_(clock >= start, clock < end)
    return or_(clock >= start, clock < end)


def _clock_conditions(params: SearchParams, start_utc: ColumnElement,
                      zone: str) -> list[ColumnElement[bool]]:
    """Day and time-of-day of the meeting starting at `start_utc`, read in `zone`."""
    local = func.timezone(literal(zone), start_utc)  # timestamptz AT TIME ZONE zone
    conditions: list[ColumnElement[bool]] = []
    if params.days:
        conditions.append((extract("isodow", local) - 1).in_(params.days))
    if params.times:
        clock = cast(local, Time)
        conditions.append(or_(*(_band_condition(clock, band) for band in params.times)))
    return conditions


def _meets_when(params: SearchParams, now: dt.datetime,
                zone: str | None) -> ColumnElement[bool] | None:
    """The day, time-of-day and "within N days" filters as one EXISTS on the schedules.

    With `zone` None, days and times are the group's own (`schedules.weekday`,
    `schedules.time_band`). With a zone (the searcher's, for online groups) they are read
    from the cached meeting starts in that zone: with "within N days", every meeting in the
    window; otherwise the schedule's next meeting (`upcoming[1]`), which carries the
    pattern's current offset between the two zones.
    """
    if not (params.days or params.times or params.within_days):
        return None
    until = now + dt.timedelta(days=params.within_days or 0)
    if zone is not None:
        if params.within_days:
            return _occurrence_upcoming(params, now, until, zone).exists()
        clock = _clock_conditions(params, S.c.upcoming[1], zone)
        return exists(select(S.c.id).where(S.c.group_id == G.c.id, *clock))

    # day and time of day must hold for the same schedule: "Tuesday evenings"
    schedule_where = []
    if params.days:
        schedule_where.append(S.c.weekday.in_(params.days))
    if params.times:
        schedule_where.append(S.c.time_band.in_(params.times))
    sched_cond = and_(*schedule_where) if schedule_where else None
    if params.within_days:
        return _upcoming(sched_cond, now, until).exists()
    return exists(select(S.c.id).where(S.c.group_id == G.c.id, sched_cond))


def group_filters(params: SearchParams, now: dt.datetime, *,
                  formats: tuple[str, ...] = ALL_FORMATS,
                  searcher_tz: str | None = None) -> list[ColumnElement[bool]]:
    """Filters on the group and its schedules shared by every list.

    `formats` are the formats the statement can return; `searcher_tz` is the searcher's
    zone, in which the day and time filters are read for online groups.
    """
    where: list[ColumnElement[bool]] = [G.c.status == "active"]
    if params.loss:
        where.append(G.c.loss_types.overlap(list(params.loss)))
    if params.audience:
        where.append(G.c.audiences.overlap(list(params.audience)))
    if PROFESSIONALS not in params.audience:
        # groups only for professionals (bereavement staff, midwives) are not for parents
        where.append(not_(and_(G.c.audiences.contained_by([PROFESSIONALS]),
                               func.cardinality(G.c.audiences) > 0)))
    if params.language:
        where.append(G.c.languages.overlap(list(params.language)))
    if params.cost:
        where.append(G.c.cost.in_(params.cost))
    if params.join:
        where.append(G.c.join_mode.in_(params.join))

    in_searcher_zone = searcher_tz is not None and "virtual" in formats
    local = _meets_when(params, now, None) if not in_searcher_zone or len(formats) > 1 else None
    theirs = _meets_when(params, now, searcher_tz) if in_searcher_zone else None
    if local is not None and theirs is not None:
        where.append(or_(and_(G.c.format == "virtual", theirs),
                         and_(G.c.format != "virtual", local)))
    elif theirs is not None:
        where.append(theirs)
    elif local is not None:
        where.append(local)
    return where


def _capped_count(session: Session, stmt: Select) -> int:
    """How many rows `stmt` matches, counting no further than COUNT_CAP + 1."""
    capped = stmt.order_by(None).with_only_columns(G.c.id).limit(COUNT_CAP + 1).subquery()
    return session.execute(select(func.count()).select_from(capped)).scalar_one()


def _is_last_page(rows: list, per_page: int, page: int) -> bool:
    return len(rows) < per_page and (bool(rows) or page == 1)


def _hit_page(rows, counted: int | None, offset: int, per_page: int, page: int) -> HitPage:
    """The page's hits and total: exact on the last page, else the capped count."""
    hits = [Hit(r.id, r.distance_m) for r in rows]
    if _is_last_page(rows, per_page, page):
        return HitPage(hits, offset + len(rows))
    assert counted is not None
    return HitPage(hits, min(counted, COUNT_CAP), exact=counted <= COUNT_CAP)


def _page(session: Session, stmt: Select, params: SearchParams) -> HitPage:
    """One page of `stmt` (which selects id and distance_m), and the capped total."""
    page, per_page = params.page, params.per_page
    offset = (page - 1) * per_page
    rows = session.execute(stmt.limit(per_page).offset(offset)).all()
    counted = None if _is_last_page(rows, per_page, page) else _capped_count(session, stmt)
    return _hit_page(rows, counted, offset, per_page, page)


def nearby(session: Session, params: SearchParams, lat: float, lng: float,
           now: dt.datetime) -> HitPage:
    """In-person and hybrid groups within the radius, nearest first.

    Counted first (capped). When the radius holds at least this page, the page is a plain
    KNN walk of the GiST index (`ORDER BY point <-> origin LIMIT n`), which stops after n
    rows; PostgreSQL's estimate for `ST_DWithin` is too low in dense cities for it to choose
    that itself. With fewer matches, the radius filter drives the query instead.
    """
    formats = ("in_person", "hybrid") if params.format == "any" else (params.format,)
    origin = func.ST_GeogFromText(bindparam("origin", origin_wkt(lat, lng)))
    distance = L.c.point.op("<->")(origin)
    matching = (
        select(G.c.id, func.ST_Distance(L.c.point, origin).label("distance_m"))
        .join_from(G, L, L.c.id == G.c.location_id)
        .where(G.c.format.in_(formats), *group_filters(params, now, formats=formats))
    )
    within = matching.where(func.ST_DWithin(L.c.point, origin, params.radius_m))
    offset = (params.page - 1) * params.per_page
    total = _capped_count(session, within)
    if params.sort == "distance" and total >= offset + params.per_page:
        stmt = matching.order_by(distance)
    elif params.sort == "distance":
        stmt = within.order_by(distance, G.c.id)
    else:
        stmt = within.order_by(G.c.next_meeting_at.nulls_last(), distance, G.c.id)
    rows = session.execute(stmt.limit(params.per_page).offset(offset)).all()
    return _hit_page(rows, total, offset, params.per_page, params.page)


def online(session: Session, params: SearchParams, country: str | None, now: dt.datetime,
           *, preview: int | None = None, searcher_tz: str | None = None) -> HitPage:
    """Virtual-only groups that serve `country` (or worldwide), next meeting first.

    Day and time filters are read in `searcher_tz` when given.

    A `preview` (the first n beside a "near me" search) is not counted: it only says
    whether there are more, since counting every online group costs more than the page.
    """
    served = [WORLDWIDE] + ([country] if country else [])
    stmt = (
        select(G.c.id, null().label("distance_m"))
        .where(
            G.c.format == "virtual",
            G.c.service_countries.overlap(served),
            *group_filters(params, now, formats=("virtual",), searcher_tz=searcher_tz),
        )
        .order_by(G.c.next_meeting_at.nulls_last(), G.c.name, G.c.id)
    )
    if preview is not None:
        rows = session.execute(stmt.limit(preview + 1)).all()
        hits = [Hit(r.id, None) for r in rows[:preview]]
        return HitPage(hits, len(hits), exact=len(rows) <= preview)
    return _page(session, stmt, params)


def anywhere(session: Session, params: SearchParams, now: dt.datetime,
             *, searcher_tz: str | None = None) -> HitPage:
    """No location given: every matching group of the chosen format, next meeting first.

    Day and time filters are read in `searcher_tz` for online groups when given.
    """
    formats = ALL_FORMATS if params.format == "any" else (params.format,)
    where = list(group_filters(params, now, formats=formats, searcher_tz=searcher_tz))
    if params.format != "any":
        where.append(G.c.format == params.format)
    stmt = (
        select(G.c.id, null().label("distance_m"))
        .where(*where)
        .order_by(G.c.next_meeting_at.nulls_last(), G.c.id)
    )
    return _page(session, stmt, params)
