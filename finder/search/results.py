"""Result objects: what a searcher sees of a group, built once and rendered as HTML or JSON.

`from_rows` maps the rows of `query` (see `query.RESULT_COLUMNS`) straight into
`GroupResult`s. Next meetings are computed here, live, from the schedules (the SQL cache
only filters and sorts, and hands over each schedule's first cached meeting from now on), in
the group's zone and, when it differs, in the searcher's. The API serialises the objects
directly with orjson; the page's templates read the same attributes.

Many groups share a schedule pattern, a meeting time and a set of vocabulary codes, so the
pure pieces (a recurrence, its description, a meeting in a zone, coded labels) are memoised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from functools import lru_cache
from zoneinfo import ZoneInfo

import psycopg

from finder import schedules, vocab
from finder.search.params import KM_PER_MILE


@dataclass(slots=True)
class Meeting:
    start: str  # ISO 8601 in the group's zone
    end: str
    timezone: str
    label: str  # "Tue 2 Dec, 7:00pm GMT"
    searcher_start: str | None = None
    searcher_timezone: str | None = None
    searcher_label: str | None = None


@dataclass(slots=True)
class ScheduleView:
    description: str
    rrule: str
    timezone: str
    cancelled_dates: list[str]


@dataclass(slots=True)
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
    links: dict  # its JSON and HTML pages
    sources: list[dict] = field(default_factory=list)
    # keyword searches: the description's best passage, HTML-escaped, matches in <mark>
    snippet: str | None = None
    # issue 7: not confirmed for 180 days (or reported as not meeting): "may be out of date"
    stale: bool = False
    ended: bool = False  # every schedule has ended (only on its own page: search drops it)

    def to_dict(self) -> dict:
        """Plain data (the API serialises the object itself with orjson)."""
        d = {name: getattr(self, name) for name in _FIELDS}
        m = self.next_meeting
        d["next_meeting"] = {f: getattr(m, f) for f in _MEETING_FIELDS} if m else None
        d["schedules"] = [{f: getattr(s, f) for f in _SCHEDULE_FIELDS} for s in self.schedules]
        return d


_FIELDS = tuple(f.name for f in fields(GroupResult))
_MEETING_FIELDS = tuple(f.name for f in fields(Meeting))
_SCHEDULE_FIELDS = tuple(f.name for f in fields(ScheduleView))


@lru_cache(maxsize=4096)
def _coded(name: str, codes: tuple[str, ...]) -> list[dict]:
    v = vocab.ALL[name]
    return [{"code": c, "label": v.label(c)} for c in codes]


@lru_cache(maxsize=64)
def _one_coded(name: str, code: str) -> dict:
    return {"code": code, "label": vocab.ALL[name].label(code)}


@lru_cache(maxsize=8192)
def _recurrence(key: tuple) -> schedules.Recurrence:
    """A schedule's JSON from `query.RESULT_COLUMNS` (less its next start) as a Recurrence."""
    freq, interval, weekday, set_pos, start, duration, tz, valid_from, until, cancelled = key
    return schedules.Recurrence(
        freq=freq, interval=interval, weekday=weekday, set_pos=set_pos,
        start_time=dt.time.fromisoformat(start), duration_minutes=duration, timezone=tz,
        valid_from=dt.date.fromisoformat(valid_from),
        valid_until=dt.date.fromisoformat(until) if until else None,
        cancelled_dates=frozenset(dt.date.fromisoformat(d) for d in cancelled),
    )


@lru_cache(maxsize=8192)
def _schedule_view(rec: schedules.Recurrence, cancelled: tuple[str, ...],
                   today: str) -> ScheduleView:
    """The description, RRULE and coming cancellations of a recurrence (ISO dates sort)."""
    return ScheduleView(schedules.describe(rec), schedules.to_rrule(rec), rec.timezone,
                        [d for d in sorted(cancelled) if d >= today])


@lru_cache(maxsize=8192)
def _meeting(start: dt.datetime, timezone: str, duration: int,
             searcher_tz: str | None) -> Meeting:
    """A meeting starting at `start` in the group's `timezone` (and the searcher's)."""
    start = start.astimezone(ZoneInfo(timezone))
    end = start + dt.timedelta(minutes=duration)
    meeting = Meeting(start.isoformat(), end.isoformat(), timezone, schedules.format_time(start))
    if searcher_tz and searcher_tz != timezone:
        theirs = start.astimezone(ZoneInfo(searcher_tz))
        # the same clock time under another name (GMT and UTC) is not shown twice
        if theirs.utcoffset() != start.utcoffset():
            meeting.searcher_start = theirs.isoformat()
            meeting.searcher_timezone = searcher_tz
            meeting.searcher_label = schedules.format_time(theirs)
    return meeting


def _schedules(items: list | None, now: dt.datetime, today: str, searcher_tz: str | None
               ) -> tuple[list[ScheduleView], Meeting | None]:
    """The schedule views and the next meeting of one group's schedules JSON."""
    if not items:
        return [], None
    views = []
    soonest: tuple[dt.datetime, schedules.Recurrence] | None = None
    for item in items:
        cancelled = tuple(item[9] or ())
        rec = _recurrence((*item[:9], cancelled))
        views.append(_schedule_view(rec, cancelled, today))
        # the first cached meeting from now on, computed by the same maths when the
        # schedule was written or refreshed; computed now when the cache has run out
        start = dt.datetime.fromisoformat(item[10]) if item[10] else \
            schedules.next_occurrence(rec, now)
        if start is not None and (soonest is None or start < soonest[0]):
            soonest = (start, rec)
    if soonest is None:
        return views, None
    start, rec = soonest
    return views, _meeting(start, rec.timezone, rec.duration_minutes, searcher_tz)


def from_rows(rows: list[tuple], *, now: dt.datetime, searcher_tz: str | None = None,
              unit: str = "km", root: str = "") -> list[GroupResult]:
    """`query` rows (RESULT_COLUMNS + distance in metres) as GroupResults, in order.

    `root` prefixes the links (the app's script root)."""
    today = now.date().isoformat()
    per_unit = 1000 * (KM_PER_MILE if unit == "mi" else 1)
    out = []
    for r in rows:
        (gid, name, fmt, status, description, join_mode, join_url, join_phone, join_email,
         join_notes, timezone, service_countries, loss, audiences, languages, cost,
         facilitation, accessibility, last_confirmed, updated_at, org_name, org_website,
         org_email, org_phone, venue, line1, line2, town, region, postcode, country,
         precision, lat, lng, schedule_items, stale, ended, distance_m) = r
        views, next_meeting = _schedules(schedule_items, now, today, searcher_tz)
        distance = None if distance_m is None else round(distance_m / per_unit, 1)
        out.append(GroupResult(
            id=gid, name=name, format=fmt, format_label=vocab.FORMAT.label(fmt),
            status=status, description=description,
            organisation=({"name": org_name, "website": org_website, "email": org_email,
                           "phone": org_phone} if org_name else None),
            join={"mode": join_mode, "label": vocab.JOIN.label(join_mode), "url": join_url,
                  "phone": join_phone, "email": join_email, "notes": join_notes},
            timezone=timezone,
            location=({"venue_name": venue, "address_line1": line1, "address_line2": line2,
                       "town": town, "region": region, "postcode": postcode,
                       "country": country, "latitude": round(lat, 6),
                       "longitude": round(lng, 6), "geocode_precision": precision}
                      if lat is not None else None),
            service_countries=service_countries or [],
            distance=distance, distance_unit=unit if distance is not None else None,
            next_meeting=next_meeting, schedules=views,
            loss_types=_coded("loss", tuple(loss)),
            audiences=_coded("audience", tuple(audiences)),
            languages=_coded("language", tuple(languages)),
            cost=_one_coded("cost", cost), facilitation=_one_coded("facilitation", facilitation),
            accessibility_notes=accessibility,
            last_confirmed=last_confirmed.isoformat() if last_confirmed else None,
            updated_at=updated_at.isoformat(), stale=stale, ended=ended,
            links={"self": f"{root}/api/v1/groups/{gid}", "html": f"{root}/groups/{gid}"},
        ))
    return out


SOURCES_SQL = """
    SELECT source, url, first_seen_at, last_seen_at FROM listing_sources
     WHERE group_id = %(id)s AND withdrawn_at IS NULL ORDER BY id"""


def sources_of(cur: psycopg.Cursor, group_id: int) -> list[dict]:
    """The sources that list the group now, for its own page."""
    return [{"source": source, "url": url, "first_seen": first.isoformat(),
             "last_seen": last.isoformat()}
            for source, url, first, last in cur.execute(SOURCES_SQL, {"id": group_id})]
