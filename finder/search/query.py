"""The search SQL: plain SQL on psycopg, filters in SQL, indexes doing the ordering.

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

How a statement is made: `Filters` turns the parameters into SQL fragments and their values.
The SQL text depends only on which filters are present (its *shape*), so each shape is
written once (`functools.lru_cache`) and psycopg prepares it on the server after a few runs;
a request only fills in the values. A page's rows carry everything a result shows (the
group, its organisation and venue, its schedules as JSON), so one statement gives a list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import psycopg

from finder import pgarrays, vocab
from finder.freshness.rules import ENDED_SQL, STALE_SQL
from finder.search.params import SearchParams

WORLDWIDE = "*"
COUNT_CAP = 200  # more matches than this are shown as "200+"
PROFESSIONALS = "professionals"
ALL_FORMATS = tuple(vocab.FORMAT.codes)
IN_A_PLACE = ("in_person", "hybrid")
# time-of-day bands as [start, end) local clock times; night wraps past midnight
BAND_HOURS = {"morning": (5, 12), "afternoon": (12, 17), "evening": (17, 21), "night": (21, 5)}


ORIGIN = "ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography"

# ----------------------------------------------------------------------------- keywords


_NO_IDS = np.zeros(0, dtype=np.int32)
_NO_SCORES = np.zeros(0, dtype=np.float32)
_NO_FORMATS = np.zeros(0, dtype=np.uint8)


@dataclass(frozen=True, eq=False)
class Keywords:
    """A keyword search, as the SQL sees it.

    `index`: the Whoosh index's matches (`ids`, best first, with their `scores`). A
    statement joins only a few of them (`unnest(ids, scores)`), never all: lists in order
    of relevance walk them best first, a few hundred at a time (`_best_first_matches`), and the
    nearby list asks for the groups nearest the searcher and keeps the matches among them
    (`_nearest_matches`). Every filter, the distance, the order and the page are still
    PostgreSQL's, with the same WHERE as any search.
    `database`: the index cannot answer (missing, stale, unreadable), so PostgreSQL's
    full-text search matches the words itself (`FTS_DOCUMENT`, `plainto_tsquery`: every
    word, punctuation ignored, any text read without error). `websearch`: the same with
    `websearch_to_tsquery`, the benchmark's peer.
    """

    mode: str  # "index", "database" or "websearch"
    ids: np.ndarray = field(default_factory=lambda: _NO_IDS)  # int32 group ids, best first
    scores: np.ndarray = field(default_factory=lambda: _NO_SCORES)  # float32, as SQL's `real`
    text: str = ""
    share: float = 1.0  # the share of all groups that match (the index's estimate)
    # each match's format as the index has it (positions in ALL_FORMATS); empty: unknown
    formats: np.ndarray = field(default_factory=lambda: _NO_FORMATS)

    def values(self) -> dict[str, Any]:
        if self.mode == "index":
            return {"kw_ids": pgarrays.int4s(self.ids), "kw_scores": pgarrays.float4s(self.scores)}
        return {"kw_text": self.text}

    def _take(self, which: slice | np.ndarray) -> Keywords:
        return replace(self, ids=self.ids[which], scores=self.scores[which],
                       formats=self.formats[which] if len(self.formats) else self.formats)

    def part(self, start: int, stop: int) -> Keywords:
        return self._take(slice(start, stop))

    def only(self, formats: tuple[str, ...]) -> Keywords:
        """The matches the index has in one of `formats`: a list of one format is walked
        over those only, the SQL still testing every group's format. (A group whose format
        changed since the last sync is found in its new format's lists after the next.)"""
        if not len(self.formats) or set(formats) >= set(ALL_FORMATS):
            return self
        kept = np.zeros(len(self.formats), dtype=bool)
        for code in formats:
            kept |= self.formats == ALL_FORMATS.index(code)
        return self._take(np.flatnonzero(kept))

    def where(self, keep: np.ndarray) -> Keywords:
        """The matches for which `keep` (one flag per match) is true, in order."""
        return self._take(np.flatnonzero(keep))

    def end_of_chunk(self, stop: int) -> int:
        """`stop`, moved on past matches scoring the same as the one before it: a chunk
        never splits a tie, so the SQL's tie-break (next meeting) sees all of it."""
        n = len(self.scores)
        if stop >= n:
            return n
        last = self.scores[stop - 1]
        return stop + int(np.searchsorted(-self.scores[stop:], -last, side="right"))

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Each of `ids`' position among the matches (-1: not a match)."""
        if not len(ids) or not len(self.ids):
            return np.full(len(ids), -1, dtype=np.int64)
        position = np.full(max(int(self.ids.max()), int(ids.max())) + 1, -1, dtype=np.int64)
        position[self.ids] = np.arange(len(self.ids))
        return position[ids]

    def among(self, ids: np.ndarray) -> Keywords:
        """The matches among `ids`, in the order of `ids`."""
        found = self.positions(ids)
        return self._take(found[found >= 0])


# a group's words for PostgreSQL's full-text search (the fallback, and the benchmark's peer,
# which indexes this very expression with GIN)
FTS_DOCUMENT = ("(setweight(to_tsvector('english'::regconfig, coalesce(g.name, '')), 'A') || "
                "setweight(to_tsvector('english'::regconfig, coalesce(g.description, '')), "
                "'C'))")


def _kw_join(mode: str | None) -> str:
    if mode == "index":
        return (" JOIN unnest(%(kw_ids)s::int[], %(kw_scores)s::real[]) AS kw(id, score) "
                "ON kw.id = g.id")
    if mode == "database":  # the words as plain words, as the index reads them
        return " CROSS JOIN plainto_tsquery('english', %(kw_text)s) AS kwq"
    if mode == "websearch":  # the benchmark's peer (quotes, "or", "-" have a meaning)
        return " CROSS JOIN websearch_to_tsquery('english', %(kw_text)s) AS kwq"
    return ""


def _kw_where(mode: str | None) -> str:
    return f" AND {FTS_DOCUMENT} @@ kwq" if mode in ("database", "websearch") else ""


def _kw_score(mode: str | None) -> str:
    """The relevance of a matching group (higher is better)."""
    if mode == "index":
        return "kw.score"
    if mode in ("database", "websearch"):
        return f"ts_rank({FTS_DOCUMENT}, kwq)"
    return "0"


# ----------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """Which filters a search has (the SQL's shape) and their values (the parameters)."""

    shape: tuple  # hashable: the same shape is the same SQL text
    values: dict[str, Any]


def filters(params: SearchParams, now: dt.datetime, *, formats: tuple[str, ...],
            searcher_tz: str | None = None) -> Filters:
    """`formats` are the formats a statement can return; `searcher_tz` is the zone in which
    the day and time filters are read for online groups."""
    values: dict[str, Any] = {"now": now, "cap": COUNT_CAP + 1}
    if params.within_days:
        values["until"] = now + dt.timedelta(days=params.within_days)
    for name in ("loss", "audience", "language", "cost", "join"):
        if getattr(params, name):
            values[name] = list(getattr(params, name))
    if params.days:
        values["days"] = list(params.days)
    if params.days or params.times:  # see groups.meeting_slots (migration 0007)
        values["slots"] = slot_values(params)
    in_searcher_zone = searcher_tz is not None and "virtual" in formats
    if in_searcher_zone and (params.days or params.times):
        values["searcher_tz"] = searcher_tz
    local = not in_searcher_zone or len(formats) > 1
    shape = (tuple(sorted(k for k in values
                          if k not in ("now", "cap", "until", "searcher_tz", "slots"))),
             params.times, bool(params.within_days), local, in_searcher_zone,
             PROFESSIONALS in params.audience)
    return Filters(shape, values)


def slot_values(params: SearchParams) -> list[str]:
    """The `groups.meeting_slots` values a group meeting in a place needs one of to pass
    the day and time filters ([] without them)."""
    if not (params.days or params.times):
        return []
    days = [str(d) for d in params.days] or ["*"]
    return [f"{d}:{t}" for d in days for t in params.times or ("*",)]


def _band(clock: str, band: str) -> str:
    start, end = BAND_HOURS[band]
    if start < end:
        return f"({clock} >= '{start:02d}:00' AND {clock} < '{end:02d}:00')"
    return f"({clock} >= '{start:02d}:00' OR {clock} < '{end:02d}:00')"


def _clock(start_utc: str, has_days: bool, times: tuple[str, ...]) -> list[str]:
    """Day and time-of-day of the meeting starting at `start_utc`, read in the searcher's
    zone."""
    local = f"timezone(%(searcher_tz)s, {start_utc})"
    out = []
    if has_days:
        out.append(f"extract(isodow FROM {local}) - 1 = ANY(%(days)s)")
    if times:
        out.append("(" + " OR ".join(_band(f"({local})::time", t) for t in times) + ")")
    return out


def _meets_when(has_days: bool, times: tuple[str, ...], within: bool,
                in_searcher_zone: bool) -> str | None:
    """The day, time-of-day and "within N days" filters.

    In the group's zone, days and times are the schedule's own (`weekday`, `time_band`), and
    must hold for the same schedule ("Tuesday evenings"): one overlap with the group's
    `meeting_slots` (kept from its schedules by a trigger), and with "within N days" an
    EXISTS on the cached meetings of the schedules that match. In the searcher's zone (online
    groups) they are read from the cached meeting starts: with "within N days", every
    meeting in the window; otherwise each schedule's first cached meeting (`upcoming[1]`,
    kept on the group row as `first_meetings`, migration 0018), which carries the
    pattern's current offset between the two zones.

    `OFFSET 0` keeps the EXISTS a per-group test: without it PostgreSQL may turn it into a
    join that reads every schedule first (300 ms for a day filter on online groups at
    100,000 groups), where the lists want to walk an index and stop after a page.
    """
    if not (has_days or times or within):
        return None
    # a meeting in the window is one of the cached meetings from the last write on, so the
    # group's earliest of those (`next_meeting_at`) is before the window's end: a test on the
    # row that spares most groups the lookup of their schedules (a capped count near SW1A 1AA
    # with `within_days=2`: 6.6 -> 2.6 ms at 100,000 groups)
    soon = "g.next_meeting_at < %(until)s AND "
    if in_searcher_zone:
        if within:
            conditions = ["u >= %(now)s", "u < %(until)s", *_clock("u", has_days, times)]
            return (f"{soon}EXISTS (SELECT 1 FROM schedules s, unnest(s.upcoming) u "
                    f"WHERE s.group_id = g.id AND {' AND '.join(conditions)} OFFSET 0)")
        conditions = _clock("f.start", has_days, times)
        return (f"EXISTS (SELECT 1 FROM unnest(g.first_meetings) AS f(start) "
                f"WHERE {' AND '.join(conditions)})")
    slots = "g.meeting_slots && %(slots)s::text[]" if has_days or times else None
    if not within:
        return slots
    conditions = ["u >= %(now)s", "u < %(until)s"]
    if has_days:
        conditions.append("s.weekday = ANY(%(days)s)")
    if times:  # codes from the vocabulary, checked by params.parse
        conditions.append("s.time_band IN (" + ", ".join(f"'{t}'" for t in times) + ")")
    upcoming = (f"{soon}EXISTS (SELECT 1 FROM schedules s, unnest(s.upcoming) u "
                f"WHERE s.group_id = g.id AND {' AND '.join(conditions)} OFFSET 0)")
    return f"{slots} AND {upcoming}" if slots else upcoming


@lru_cache(maxsize=512)
def where_sql(shape: tuple) -> str:
    """The WHERE conditions on `groups g` for a filter shape."""
    names, times, within, local, in_searcher_zone, professionals = shape
    where = ["g.status = 'active'", f"NOT {ENDED_SQL}"]  # ended groups are not offered
    if "loss" in names:
        where.append("g.loss_types && %(loss)s::text[]")
    if "audience" in names:
        where.append("g.audiences && %(audience)s::text[]")
    if not professionals:  # groups only for professionals (midwives, staff) are not for parents
        where.append("NOT (g.audiences <@ ARRAY['professionals']::text[] "
                     "AND cardinality(g.audiences) > 0)")
    if "language" in names:
        where.append("g.languages && %(language)s::text[]")
    if "cost" in names:
        where.append("g.cost = ANY(%(cost)s)")
    if "join" in names:
        where.append("g.join_mode = ANY(%(join)s)")
    has_days = "days" in names
    theirs = _meets_when(has_days, times, within, True) if in_searcher_zone else None
    mine = _meets_when(has_days, times, within, False) if local else None
    if theirs and mine:
        where.append(f"((g.format = 'virtual' AND {theirs}) OR "
                     f"(g.format <> 'virtual' AND {mine}))")
    elif theirs or mine:
        where.append(theirs or mine)
    return " AND ".join(where)


# ----------------------------------------------------------------------------- pages

# What a result shows, one row per group: the group, its organisation and venue, and its
# schedules with the first cached meeting from now on (JSON; `results.from_row` reads it).
RESULT_COLUMNS = f"""
    g.id, g.name, g.format, g.status, g.description, g.join_mode, g.join_url, g.join_phone,
    g.join_email, g.join_notes, g.timezone, g.service_countries, g.loss_types, g.audiences,
    g.languages, g.cost, g.facilitation, g.accessibility_notes, g.last_confirmed,
    g.updated_at, o.name, o.website, o.email, o.phone, l.venue_name, l.address_line1,
    l.address_line2, l.town, l.region, l.postcode, l.country, l.geocode_precision,
    ST_Y(l.point::geometry), ST_X(l.point::geometry),
    (SELECT json_agg(json_build_array(s.freq, s.interval, s.weekday, s.set_pos, s.start_time,
                                      s.duration_minutes, s.timezone, s.valid_from,
                                      s.valid_until, s.cancelled_dates,
                                      (SELECT min(u) FROM unnest(s.upcoming) u
                                       WHERE u >= %(now)s))
                     ORDER BY s.id)
       FROM schedules s WHERE s.group_id = g.id),
    {STALE_SQL}, {ENDED_SQL}"""  # issue 7: "may be out of date", ended

RESULTS_FROM = """
      JOIN groups g ON g.id = p.id
      LEFT JOIN organisations o ON o.id = g.organisation_id
      LEFT JOIN locations l ON l.id = g.location_id"""


def _results_of(page_sql: str, order: str) -> str:
    """The result rows (and each one's distance) of `page_sql`, which selects `id`,
    `distance_m` and the sort keys `k1`, `k2` of one page."""
    return f"SELECT {RESULT_COLUMNS}, p.distance_m FROM ({page_sql}) p {RESULTS_FROM} " \
           f"ORDER BY {order}"


@dataclass(frozen=True)
class Page:
    rows: list[tuple]  # RESULT_COLUMNS + distance_m
    total: int  # when not `exact`, a lower bound: there are more
    exact: bool = True
    # a keyword search walked by the index's matches: the first FACET_CAP ids of the list
    # (in its order), whose facets are counted
    walked: np.ndarray | None = None
    # the page's groups, in order, when their rows are still to be read: `fill` reads those
    # of a search's lists in one statement
    pending: list[int] | None = None
    near: bool = False  # the pending rows carry their distance from the searcher


def _pending_page(ids: list[int], counted: int, offset: int, params: SearchParams,
                  walked: np.ndarray, near: bool = False) -> Page:
    """The page of these groups (in order), their rows to be read by `fill`."""
    return replace(_page(ids, counted, offset, params), rows=[], pending=ids, walked=walked,
                   near=near)


def fill(cur: psycopg.Cursor, pages: list[Page], now: dt.datetime,
         origin: tuple[float, float] | None = None) -> list[Page]:
    """These pages with their pending rows read, all in one statement (distances from
    `origin` for the pages that show them)."""
    ids = [i for p in pages if p.pending for i in p.pending]
    near = [p.near for p in pages if p.pending for _ in p.pending]
    rows = {}
    if ids:
        rows = {r[0]: r for r in cur.execute(BY_IDS_NEAR_SQL, {
            "ids": ids, "near": near, "now": now, "lat": origin[0] if origin else 0.0,
            "lng": origin[1] if origin else 0.0})}
    return [p if p.pending is None else
            replace(p, rows=[rows[i] for i in p.pending if i in rows], pending=None)
            for p in pages]


def _is_last_page(n_rows: int, per_page: int, page: int) -> bool:
    return n_rows < per_page and (n_rows > 0 or page == 1)


def _page(rows: list[tuple], counted: int | None, offset: int, params: SearchParams) -> Page:
    """The page and its total: exact on the last page, else the capped count."""
    if _is_last_page(len(rows), params.per_page, params.page):
        return Page(rows, offset + len(rows))
    assert counted is not None
    return Page(rows, min(counted, COUNT_CAP), exact=counted <= COUNT_CAP)


PAGE = "LIMIT %(limit)s OFFSET %(offset)s"  # filled in by `_page_sql`, not sent as parameters


@lru_cache(maxsize=2048)
def _page_sql(sql: str, limit: int, offset: int) -> str:
    """`sql` with its page's LIMIT and OFFSET written in.

    psycopg prepares a statement after a few runs, and PostgreSQL then plans it once for any
    parameters: not knowing a parameter LIMIT, that plan joins whole tables (96 ms for a
    page near SW1A 1AA) where a page needs a few index lookups, so PostgreSQL keeps planning
    the statement on every run instead. With the numbers in the text (a handful of page
    sizes, mostly page 1) the prepared plan is the page's own: 2.1 -> 1.4 ms.
    """
    return sql.replace(PAGE, f"LIMIT {int(limit)} OFFSET {int(offset)}")


def _capped_count_sql(matching_sql: str) -> str:
    """How many rows `matching_sql` matches, counting no further than %(cap)s."""
    return f"SELECT count(*) FROM ({matching_sql} LIMIT %(cap)s) c"


CHANGE_COUNTER = "(SELECT last_value FROM listing_changes)"


def _nearby_matching(shape: tuple, kw: str | None) -> str:
    # the venue's point is on the group row (`groups.point`, migration 0013): candidates
    # are found, filtered and ordered in one table, and venues joined for a page's rows only
    return (f"FROM groups g{_kw_join(kw)} "
            f"WHERE g.format = ANY(%(formats)s) AND {where_sql(shape)}{_kw_where(kw)}")


IN_RADIUS = f"AND ST_DWithin(g.point, {ORIGIN}, %(radius_m)s)"


@lru_cache(maxsize=512)
def _nearby_sql(shape: tuple, sort: str, with_counter: bool,
                kw: str | None = None) -> tuple[str, str, str]:
    """(capped count, KNN page, radius-driven page) for a filter shape; with keywords,
    relevance breaks ties of distance."""
    matching = _nearby_matching(shape, kw)
    tie = f"-{_kw_score(kw)}" if kw else "g.id"
    in_radius = IN_RADIUS
    knn = f"g.point <-> {ORIGIN}"  # the GiST index's order: nearest first
    distance = f"ST_Distance(g.point, {ORIGIN}) AS distance_m"
    limit = PAGE

    count = _capped_count_sql(f"SELECT g.id {matching} {in_radius}")
    if with_counter:
        count = f"SELECT ({count}), {CHANGE_COUNTER}"
    # nearest first, when the count says the radius holds the page: no radius test needed
    # without keywords, ORDER BY the KNN expression alone, so the GiST index gives the order;
    # at equal distance (groups at one venue), "may be out of date" after confirmed: in the
    # page's own order only, so the page is still a plain walk of the GiST index (a second
    # sort key there makes PostgreSQL sort every group instead)
    knn_order = f"{knn}, k2" if kw else knn
    stale = f"{STALE_SQL} AS stale"
    knn_page = _results_of(f"SELECT g.id, {distance}, {knn} AS k1, {stale}, {tie} AS k2 "
                           f"{matching} ORDER BY {knn_order} {limit}", "p.k1, p.stale, p.k2")
    if sort != "next":  # distance (relevance only breaks ties with a place)
        radius_page = _results_of(f"SELECT g.id, {distance}, {knn} AS k1, {stale}, {tie} AS k2 "
                                  f"{matching} {in_radius} ORDER BY k1, k2 {limit}",
                                  "p.k1, p.stale, p.k2")
    else:  # next meeting first, then nearest
        radius_page = _results_of(f"SELECT g.id, {distance}, g.next_meeting_at AS k1, "
                                  f"{knn} AS k2 {matching} {in_radius} "
                                  f"ORDER BY k1 NULLS LAST, k2, g.id {limit}",
                                  "p.k1 NULLS LAST, p.k2, p.id")
    return count, knn_page, radius_page


@lru_cache(maxsize=512)
def _nearest_sql(shape: tuple) -> tuple[str, str]:
    """(the nearest, the rest) of the groups passing every filter, from `after_m` metres
    on, each with its distance (the KNN operator's, on the sphere) and whether it is within
    the radius (`ST_DWithin`, on the spheroid, as the lists test it).

    The nearest (one page: PAGE) walk the GiST index outward and stop after the page: no
    radius in their WHERE, or PostgreSQL's estimate for `ST_DWithin` (far too low in dense
    cities) makes it read every group in range and sort them. The rest are every group
    within the radius (read as the capped count reads them), nearest first."""
    knn = f"g.point <-> {ORIGIN}"
    columns = (f"SELECT g.id, {knn} AS d, ST_DWithin(g.point, {ORIGIN}, %(radius_m)s), "
               f"{STALE_SQL} ")
    matching = f"{_nearby_matching(shape, None)} AND {knn} >= %(after_m)s"
    return (f"{columns} {matching} ORDER BY d {PAGE}",
            f"{columns} {matching} {IN_RADIUS} ORDER BY d")


@lru_cache(maxsize=512)
def _within_sql(shape: tuple) -> str:
    """The matches (`kw_ids`) within the radius that pass every filter, nearest first, as
    `_nearest_sql`'s rows."""
    knn = f"g.point <-> {ORIGIN}"
    # `= ANY`, not a join with the ids: PostgreSQL's estimate for the radius in a dense
    # city is a row or two, and with a join it read the ids again for each group there
    return (f"SELECT g.id, {knn} AS d, true, {STALE_SQL} {_nearby_matching(shape, None)} "
            f"AND g.id = ANY(%(kw_ids)s::int[]) {IN_RADIUS} ORDER BY d, g.id")


def _matches_within(cur: psycopg.Cursor, within_sql: str, values: dict[str, Any],
                    kw: Keywords) -> Keywords:
    """Every match within the radius that passes every filter, nearest first, asked of
    the matches themselves: for a few of them, cheaper than walking the groups nearest
    the searcher until enough matches turn up (`_nearest_matches`)."""
    if not len(kw.ids):
        return kw
    rows = cur.execute(within_sql, {**values, "kw_ids": pgarrays.int4s(kw.ids)},
                       prepare=WALK_PREPARE).fetchall()
    return _in_list_order(kw, rows)


def _in_list_order(kw: Keywords, rows: list[tuple]) -> Keywords:
    """The matches among `rows` (id, distance, within the radius, stale) in the nearby
    list's order: nearest first, at equal distance confirmed before "may be out of date",
    then the better match, then the id (so pages never overlap)."""
    if not rows or not len(kw.ids):
        return kw.part(0, 0)
    n = len(rows)
    at = kw.positions(np.fromiter((r[0] for r in rows), dtype=np.int32, count=n))
    d = np.fromiter((r[1] for r in rows), dtype=np.float64, count=n)
    stale = np.fromiter((bool(r[3]) for r in rows), dtype=bool, count=n)
    keep = at >= 0
    at, d, stale = at[keep], d[keep], stale[keep]
    order = np.lexsort((kw.ids[at], -kw.scores[at], stale, d))
    return replace(kw._take(at[order]), formats=_NO_FORMATS)


def nearby(cur: psycopg.Cursor, params: SearchParams, lat: float, lng: float,
           now: dt.datetime, *, with_counter: bool = False,
           keywords: Keywords | None = None) -> tuple[Page, int | None]:
    """In-person and hybrid groups within the radius, nearest first; and the listing change
    counter when asked for (read in the same statement as the count).

    Counted first (capped). When the radius holds at least this page, the page is a plain
    KNN walk of the GiST index (`ORDER BY point <-> origin LIMIT n`), which stops after n
    rows; PostgreSQL's estimate for `ST_DWithin` is too low in dense cities for it to choose
    that itself. With fewer matches, the radius filter drives the query instead.

    With the index's matches, the matches within the radius are found first, in the
    list's order (`_matches_within` or `_nearest_matches`): that counts them and gives the
    page, read by id.
    """
    formats = IN_A_PLACE if params.format == "any" else (params.format,)
    f = filters(params, now, formats=formats)
    kw = keywords.mode if keywords else None
    count_sql, knn_sql, radius_sql = _nearby_sql(f.shape, params.sort, with_counter, kw)
    offset = (params.page - 1) * params.per_page
    values = {**f.values, "formats": list(formats), "lat": lat, "lng": lng,
              "radius_m": params.radius_m}
    walked, counter = None, None
    if keywords is not None and keywords.mode == "index":
        want = _want(params) if params.sort != "next" else None  # by next meeting: all
        mine = keywords.only(formats)
        if len(mine.ids) <= MATCHES_FIRST:
            near = _matches_within(cur, _within_sql(f.shape), values, mine)
        else:
            near = _nearest_matches(cur, _nearest_sql(f.shape), values, keywords, want,
                                    params.radius_m)
        total, walked = len(near.ids), near.ids[:FACET_CAP]
        if params.sort != "next":  # the matches are in the list's order: the page is theirs
            shown = near.ids[offset:offset + params.per_page].tolist()
            return _pending_page(shown, total, offset, params, walked, near=True), None
        values.update(near.values())
    else:
        values.update(keywords.values() if keywords else {})
        counted = cur.execute(count_sql, values, prepare=_prepare(keywords)).fetchone()
        total, counter = (counted[0], counted[1]) if with_counter else (counted[0], None)
    knn = params.sort != "next" and total >= offset + params.per_page
    page_sql = _page_sql(knn_sql if knn else radius_sql, params.per_page, offset)
    rows = cur.execute(page_sql, values, prepare=_prepare(keywords)).fetchall()
    return replace(_page(rows, total, offset, params), walked=walked), counter


def _online_matching(shape: tuple, kw: str | None) -> str:
    return (f"FROM groups g{_kw_join(kw)} WHERE g.format = 'virtual' "
            f"AND g.service_countries && %(served)s::varchar[] AND {where_sql(shape)}"
            f"{_kw_where(kw)}")


def _best_first(kw: str, matching: str) -> str:
    """Keyword matches' ids: best match first, then the next meeting (one page: PAGE)."""
    return (f"SELECT g.id, NULL::float8 AS distance_m, -{_kw_score(kw)} AS k1, "
            f"g.next_meeting_at AS k2 {matching} ORDER BY k1, k2 NULLS LAST, g.id {PAGE}")


def _best_match_page(kw: str, matching: str) -> str:
    """A page of keyword matches: best match first, then the next meeting."""
    return _results_of(_best_first(kw, matching), "p.k1, p.k2 NULLS LAST, p.id")


@lru_cache(maxsize=512)
def _online_sql(shape: tuple, kw: str | None = None) -> tuple[str, str, str]:
    """(page, capped count, ids best first) of online groups serving some countries, for a
    filter shape; with keywords, best match first and then next meeting."""
    matching = _online_matching(shape, kw)
    if kw:
        page = _best_match_page(kw, matching)
    else:
        page = _results_of(
            "SELECT g.id, NULL::float8 AS distance_m, g.next_meeting_at AS k1, g.name AS k2 "
            f"{matching} ORDER BY g.next_meeting_at NULLS LAST, g.name, g.id "
            f"{PAGE}", "p.k1 NULLS LAST, p.k2, p.id")
    return page, _capped_count_sql(f"SELECT g.id {matching}"), _best_first(kw, matching)


# The online lists are planned for their own values every time: they are cached for a
# minute (`finder.search`), and a generic plan for one with a rare filter (loss=stillbirth)
# walked the next-meeting index through most online groups: 19-23 ms instead of 1-1.5.
ONLINE_PREPARE = False


def online(cur: psycopg.Cursor, params: SearchParams, country: str | None, now: dt.datetime,
           *, preview: int | None = None, searcher_tz: str | None = None,
           keywords: Keywords | None = None) -> Page:
    """Virtual-only groups that serve `country` (or worldwide), next meeting first.

    Day and time filters are read in `searcher_tz` when given. A `preview` (the first n
    beside a "near me" search) is not counted: it only says whether there are more, since
    counting every online group costs more than the page.
    """
    f = filters(params, now, formats=("virtual",), searcher_tz=searcher_tz)
    page_sql, count_sql, ranked_sql = _online_sql(f.shape, keywords.mode if keywords else None)
    values = {**f.values, "served": [WORLDWIDE] + ([country] if country else [])}
    if keywords is not None and keywords.mode == "index":
        want = max(preview + 1, FACET_CAP) if preview is not None else _want(params)
        ids, every = _best_first_matches(cur, ranked_sql, values, keywords.only(("virtual",)),
                                         want)
        return _walked_page(ids, every, params, preview)
    values.update(keywords.values() if keywords else {})
    if preview is not None:  # planned for its values, as a walk (the result is cached)
        rows = cur.execute(_page_sql(page_sql, preview + 1, 0), values,
                           prepare=ONLINE_PREPARE).fetchall()
        return Page(rows[:preview], min(len(rows), preview), exact=len(rows) <= preview)
    return _paged(cur, page_sql, count_sql, values, params, prepare=ONLINE_PREPARE)


def change_counter(cur: psycopg.Cursor) -> int:
    """The listing change counter (migration 0005): it moves whenever listings change."""
    return cur.execute(f"SELECT {CHANGE_COUNTER}").fetchone()[0]


def _anywhere_matching(shape: tuple, one_format: bool, kw: str | None) -> str:
    matching = f"FROM groups g{_kw_join(kw)} WHERE {where_sql(shape)}{_kw_where(kw)}"
    if one_format:
        matching += " AND g.format = %(format)s"
    return matching


@lru_cache(maxsize=512)
def _anywhere_sql(shape: tuple, one_format: bool, kw: str | None = None,
                  relevance: bool = False) -> tuple[str, str, str]:
    """(page, capped count, ids best first) for a filter shape."""
    matching = _anywhere_matching(shape, one_format, kw)
    if kw and relevance:
        page = _best_match_page(kw, matching)
    else:
        page = _results_of(
            "SELECT g.id, NULL::float8 AS distance_m, g.next_meeting_at AS k1, g.id AS k2 "
            f"{matching} ORDER BY g.next_meeting_at NULLS LAST, g.id "
            f"{PAGE}", "p.k1 NULLS LAST, p.k2")
    return page, _capped_count_sql(f"SELECT g.id {matching}"), _best_first(kw, matching)


def anywhere(cur: psycopg.Cursor, params: SearchParams, now: dt.datetime,
             *, searcher_tz: str | None = None, keywords: Keywords | None = None) -> Page:
    """No location given: every matching group of the chosen format, next meeting first.

    Day and time filters are read in `searcher_tz` for online groups when given.
    """
    formats = ALL_FORMATS if params.format == "any" else (params.format,)
    f = filters(params, now, formats=formats, searcher_tz=searcher_tz)
    kw = keywords.mode if keywords else None
    relevance = params.sort == "relevance"
    page_sql, count_sql, ranked_sql = _anywhere_sql(f.shape, params.format != "any", kw,
                                                    relevance)
    values = {**f.values, "format": params.format}
    if keywords is not None and keywords.mode == "index" and relevance:
        ids, every = _best_first_matches(cur, ranked_sql, values, keywords.only(formats),
                                         _want(params))
        return _walked_page(ids, every, params)
    # by next meeting, every match is joined: the page can be any of them
    values.update(keywords.values() if keywords else {})
    return _paged(cur, page_sql, count_sql, values, params, prepare=_prepare(keywords))


def _paged(cur: psycopg.Cursor, page_sql: str, count_sql: str, values: dict,
           params: SearchParams, prepare: bool | None = None) -> Page:
    """One page, and the capped count only when the page is full (else it is the total)."""
    offset = (params.page - 1) * params.per_page
    rows = cur.execute(_page_sql(page_sql, params.per_page, offset), values,
                       prepare=prepare).fetchall()
    counted = None
    if not _is_last_page(len(rows), params.per_page, params.page):
        counted = cur.execute(count_sql, values, prepare=prepare).fetchone()[0]
    return _page(rows, counted, offset, params)


BY_IDS_SQL = _results_of("SELECT id, NULL::float8 AS distance_m, k1 "
                        "FROM unnest(%(ids)s::int[]) WITH ORDINALITY AS t(id, k1)", "p.k1")
# and, where `near` says so, each one's distance from the searcher (the nearby list's)
BY_IDS_NEAR_SQL = _results_of(
    f"SELECT t.id, CASE WHEN t.near THEN ST_Distance(g.point, {ORIGIN}) END AS distance_m, "
    "t.k1 FROM unnest(%(ids)s::int[], %(near)s::bool[]) WITH ORDINALITY AS t(id, near, k1) "
    "JOIN groups g ON g.id = t.id", "p.k1")


def by_ids(cur: psycopg.Cursor, ids: list[int], now: dt.datetime) -> list[tuple]:
    """Result rows for these groups, in this order (any status)."""
    return cur.execute(BY_IDS_SQL, {"ids": ids, "now": now}).fetchall()


# ----------------------------------------------------------------------------- walks

# How a keyword search reaches PostgreSQL. A common word matches half of all groups, and
# joining tens of thousands of ids in each statement of a search cost 60-100 ms apiece;
# a page needs a few dozen of them. So the matches are walked in the list's own order
# until the search knows its page, its capped count (COUNT_CAP + 1) and FACET_CAP of them
# to count facets over, and each statement joins only the few it needs:
# - lists in order of relevance: the matches go in chunks, best first (`_best_first_
#   matches`), through the list's own statement (every filter) returning ids in order;
#   the page's rows are then read by id (`fill`, with the other list's, in one statement);
# - the nearby list (nearest first): with few matches (as far as the index knows, in the
#   list's formats and filters: MATCHES_FIRST), those within the radius that pass every
#   filter are asked for at once (`_matches_within`); otherwise the groups nearest the
#   searcher that pass every filter are read first (`_nearest_matches`) and the matches
#   among them kept. Either way each comes with its distance and "may be out of date", so
#   the list's order (distance, then confirmed first, then relevance) is known and the
#   page's rows are read by id (`fill`); by next meeting, the page's usual statement
#   joins the matches found.

# A walk's statements are planned for their own values every time, never prepared: a
# prepared statement's generic plan (which PostgreSQL may settle on after five runs) cannot
# know how dense the searcher's area is, how rare a filter is there or how many ids a chunk
# holds, and a nearest-first walk with a rare filter in a sparse area took 60-100 ms on the
# plan made for a dense one instead of 20 (planning costs about half a millisecond).
WALK_PREPARE = False
MATCHES_FIRST = 8192  # a nearby list with at most this many matches (in its formats, and
#                      as far as the index knows, its filters) asks for them within the
#                      radius at once, instead of walking the nearest groups


def _prepare(keywords: Keywords | None) -> bool | None:
    """Whether a list's statement may be prepared: not with keywords. Those are planned
    for their own matches every time, as the walks are; the database's full-text search too
    (the fallback, and the benchmark's peer): a generic plan for its words cannot know how
    many groups they match or how many are near. Once prepared, the keyword benchmark's
    searches near a place answered in 74 ms (median) instead of 18, and the peer's median
    moved between 8 and 60 ms from one benchmark run to the next."""
    return WALK_PREPARE if keywords is not None else None


FIRST_CHUNK = 256  # matches sent in a first chunk at least
FIRST_TIMES = 2  # and as many as this many times those wanted (most pass the filters)
FIRST_NEAREST = 512  # groups read by a first nearest-first walk at most: where the radius
#                      holds fewer, the rest of the walk is outside it, so wasted
GROWTH = 8  # a next chunk is at most this many times the last
SPHERE_MARGIN = 1.01  # the KNN distance (sphere) is within 0.6% of the radius's (spheroid)


def _want(params: SearchParams) -> int:
    """How many of a list's matches a keyword search needs: up to its page, one more than
    it counts, and those its facets count."""
    return max(params.page * params.per_page, COUNT_CAP + 1, FACET_CAP)


def _round_up(n: int) -> int:
    """`n` rounded up to a power of two: a walk's LIMIT is written in its statement's text
    (`_page_sql`), and a few texts keep PostgreSQL's plans prepared."""
    return 1 << max(int(n) - 1, 1).bit_length()


def _next_size(found: int, seen: int, want: int, last: int) -> int:
    """The next chunk: enough, at the share found so far, for what is still wanted (with
    a margin), growing at most GROWTH times."""
    share = max(found, 1) / max(seen, 1)
    return min(int((want - found) / share * 1.5) + 1, GROWTH * last)


def _best_first_matches(cur: psycopg.Cursor, ranked_sql: str, values: dict[str, Any],
                        kw: Keywords, want: int) -> tuple[list[int], bool]:
    """The ids of the first `want` matches passing `ranked_sql` (a list's statement of ids,
    best first), and whether they are all the matches that pass.

    The matches go in chunks, best first; a chunk never splits a tie of scores, so the
    order within each chunk (score, then next meeting) carries on the previous one's.
    The first is FIRST_TIMES `want` (with few filters, most pass), the next ones sized on
    the share that passed so far."""
    passed: list[int] = []
    start, n, cut = 0, len(kw.ids), False
    size = max(FIRST_TIMES * want, FIRST_CHUNK)
    while start < n and len(passed) < want:
        stop = kw.end_of_chunk(min(start + size, n))
        chunk = {**values, **kw.part(start, stop).values()}
        limit = _round_up(want - len(passed))
        rows = cur.execute(_page_sql(ranked_sql, limit, 0), chunk, prepare=WALK_PREPARE).fetchall()
        passed.extend(row[0] for row in rows)
        cut = len(rows) == limit  # the chunk may hold more that pass
        size = _next_size(len(passed), stop, want, stop - start)
        start = stop
    return passed, start >= n and not cut


def _nearest_matches(cur: psycopg.Cursor, nearest_sql: tuple[str, str],
                     values: dict[str, Any], kw: Keywords, want: int | None,
                     radius_m: float) -> Keywords:
    """The matches among the groups within the radius that pass every filter, nearest
    first: the nearest `want` of them at least (all with `want` None), or all there are.

    First the nearest groups (`_nearest_sql`), as many as should hold `want` matches at the
    share of groups the words match (`kw.share`), FIRST_NEAREST at most. When that was not
    enough, the next nearest, as many as the share found so far asks for, if the radius
    should hold them (by the area the first walk covered); otherwise, or if still not
    enough, the rest of the radius at once: a nearest-first walk could run far past a
    radius holding few groups before it found enough, and the rest of a radius costs what
    it holds. Each carries on from the last distance read (groups at exactly that distance,
    read again, are passed over)."""
    nearest, rest = nearest_sql
    kept: list[tuple] = []  # rows within the radius, each group once
    found = seen = chunks = 0
    after, at_after = -1.0, set()
    size = _round_up(min(max((want or 0) / max(kw.share, 0.01) * 1.3, FIRST_CHUNK),
                         FIRST_NEAREST))
    while want is not None and found < want:
        rows = cur.execute(_page_sql(nearest, size, 0), {**values, "after_m": after},
                           prepare=WALK_PREPARE).fetchall()
        new = [r for r in rows if r[2] and not (r[1] == after and r[0] in at_after)]
        kept += new
        chunks += 1
        found += _matching(kw, new)
        seen += len(rows)
        if len(rows) < size or rows[-1][1] > radius_m * SPHERE_MARGIN:
            return _in_list_order(kw, kept)  # past the radius: every match within it seen
        last = rows[-1][1]
        at_after = (at_after if last == after else set()) | {r[0] for r in rows if r[1] == last}
        after = last
        needed = (want - found) / (max(found, 1) / seen) * 1.3  # groups still to read
        in_radius = seen * ((radius_m / max(after, 1.0)) ** 2 - 1)  # at this density
        if chunks > 1 or found >= want or needed > in_radius / 2:
            break
        size = _round_up(max(needed, FIRST_CHUNK))
    if want is None or found < want:
        kept += [r for r in cur.execute(rest, {**values, "after_m": after}, prepare=WALK_PREPARE)
                 if r[1] != after or r[0] not in at_after]
    return _in_list_order(kw, kept)


def _matching(kw: Keywords, rows: list[tuple]) -> int:
    """How many of `rows` (id first) are matches."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int32, count=len(rows))
    return int(np.count_nonzero(kw.positions(ids) >= 0))


def _walked_page(ids: list[int], every: bool, params: SearchParams,
                 preview: int | None = None) -> Page:
    """The page of a list walked best first (`ids`, in order; `every`: all that pass), its
    rows to be read by `fill`."""
    walked = np.array(ids[:FACET_CAP], dtype=np.int32)
    if preview is not None:
        return Page([], min(len(ids), preview), exact=len(ids) <= preview, walked=walked,
                    pending=ids[:preview])
    offset = (params.page - 1) * params.per_page
    shown = ids[offset:offset + params.per_page]
    counted = len(ids) if every else max(len(ids), COUNT_CAP + 1)
    return _pending_page(shown, counted, offset, params, walked)


# ----------------------------------------------------------------------------- facets

# groups counted per list at most: with the index, the list's first ones in its order
# (best or nearest first); as many as the totals count (COUNT_CAP), so a list's facet
# counts are exact whenever its total is
FACET_CAP = COUNT_CAP
FACET_COLUMNS = "g.id, g.format, g.loss_types, g.audiences, g.meeting_slots"


def _counts_sql(groups: str) -> str:
    """Counts per format, loss type, audience and meeting day over `groups` (a SELECT of
    FACET_COLUMNS), in one pass over them."""
    return f"""SELECT t.facet, t.value, count(*) FROM ({groups}) m, LATERAL (
          SELECT 'format', m.format::text
          UNION ALL SELECT 'loss', unnest(m.loss_types)
          UNION ALL SELECT 'audience', unnest(m.audiences)
          UNION ALL SELECT 'day', split_part(x, ':', 1) FROM unnest(m.meeting_slots) x
                    WHERE x LIKE '%%:*' AND x NOT LIKE '*%%') t(facet, value)
        GROUP BY 1, 2"""


@lru_cache(maxsize=256)
def _facets_sql(parts: tuple[str, ...]) -> str:
    """Facet counts over the groups `parts` (matching clauses, FROM ... WHERE ...) select,
    FACET_CAP of each."""
    return _counts_sql(" UNION ".join(f"(SELECT {FACET_COLUMNS} {p} LIMIT {FACET_CAP})"
                                      for p in parts))


# the groups a keyword search walked (every filter applied already)
FACETS_OF_IDS_SQL = _counts_sql(f"SELECT {FACET_COLUMNS} FROM groups g "
                                "WHERE g.id = ANY(%(ids)s::int[])")


def facets(cur: psycopg.Cursor, params: SearchParams, now: dt.datetime, keywords: Keywords,
           *, point: tuple[float, float] | None = None, country: str | None = None,
           searcher_tz: str | None = None, walked: np.ndarray | None = None
           ) -> dict[str, dict[str, int]]:
    """How many of the search's matches (every filter applied, up to FACET_CAP per list)
    have each format, loss type, audience and meeting day (the group's own day), for the
    counts beside the results of a keyword search.

    `walked`: the lists' first FACET_CAP matches each, when the search walked them
    (`Page.walked`); otherwise the lists' statements select FACET_CAP of each."""
    values: dict[str, Any] = {}
    if walked is not None:
        sql = FACETS_OF_IDS_SQL
        values["ids"] = pgarrays.int4s(walked)
    else:
        sql = _facets_sql(tuple(_facet_parts(params, now, keywords, point, country,
                                             searcher_tz, values)))
    out: dict[str, dict[str, int]] = {"format": {}, "day": {}, "loss": {}, "audience": {}}
    for facet, value, count in cur.execute(sql, values, prepare=WALK_PREPARE):
        if facet == "day":
            value = vocab.DAYS.codes[int(value)]
        out[facet][value] = count
    return out


def _facet_parts(params: SearchParams, now: dt.datetime, keywords: Keywords,
                 point: tuple[float, float] | None, country: str | None,
                 searcher_tz: str | None, values: dict[str, Any]) -> list[str]:
    """Each list's matching clause, its values added to `values`."""
    parts: list[str] = []
    values.update(keywords.values())
    kw = keywords.mode
    if point is None:
        formats = ALL_FORMATS if params.format == "any" else (params.format,)
        f = filters(params, now, formats=formats, searcher_tz=searcher_tz)
        parts.append(_anywhere_matching(f.shape, params.format != "any", kw))
        values.update(f.values, format=params.format)
    else:
        if params.format != "virtual":
            formats = IN_A_PLACE if params.format == "any" else (params.format,)
            f = filters(params, now, formats=formats)
            parts.append(f"{_nearby_matching(f.shape, kw)} {IN_RADIUS}")
            values.update(f.values, formats=list(formats), lat=point[0], lng=point[1],
                          radius_m=params.radius_m)
        if params.format in ("any", "virtual"):
            f = filters(params, now, formats=("virtual",), searcher_tz=searcher_tz)
            parts.append(_online_matching(f.shape, kw))
            values.update(f.values, served=[WORLDWIDE] + ([country] if country else []))
    return parts
