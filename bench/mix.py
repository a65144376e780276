"""The searches the benchmark sends, and the SQL each one costs.

What people type is drawn from the gazetteer in the benchmark database, weighted like the
listings (people search where they live): full UK postcodes, postcode districts, US ZIPs,
town names ("Leeds", "Austin, TX"), and coordinates as a browser's "use my location" sends
them. A share of searches add a day, time-of-day, format, "within 14 days" or loss filter;
the radius is always the default.

`capture` runs each search once in-process through SQLAlchemy with a `before_cursor_execute`
hook, recording the exact statements and parameters handed to psycopg. The floor replays
them on a bare psycopg connection, so it measures the same SQL with no Python around it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import psycopg
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from bench import libpq_url
from bench.generate import Anchor, Sampler, jitter, uk_anchors, us_anchors
from finder import geocode, search
from finder.search import query as search_query

API_PATH = "/api/v1/groups"

# named in the issue; always part of the mix
FIXED = [("SW1A 1AA", "uk_postcode"), ("LS1 4AP", "uk_postcode"), ("M1 1AD", "uk_postcode"),
         ("10001", "us_zip"), ("60601", "us_zip"), ("Leeds", "town")]
KINDS = [("uk_postcode", 35), ("us_zip", 25), ("town", 20), ("uk_district", 8), ("latlng", 12)]
DAYS = [("mon", 14), ("tue", 20), ("wed", 20), ("thu", 20), ("fri", 8), ("sat", 10), ("sun", 8)]
TIMES = [("evening", 6), ("morning", 2), ("afternoon", 1), ("night", 1)]
MIN_TOWN_POPULATION = 50_000


@dataclass(frozen=True)
class Search:
    near: str
    kind: str  # how it was typed: uk_postcode, uk_district, us_zip, town, latlng
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def args(self) -> list[tuple[str, str]]:
        return [("near", self.near), *self.filters]

    @property
    def path(self) -> str:
        return f"{API_PATH}?{urlencode(self.args)}"

    @property
    def label(self) -> str:
        extra = "&".join(f"{k}={v}" for k, v in self.filters)
        return f"{self.near}" + (f" [{extra}]" if extra else "")


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _filters(rng: random.Random) -> tuple[tuple[str, str], ...]:
    r = rng.random()
    if r < 0.52:
        return ()
    if r < 0.62:
        return (("day", _pick(rng, DAYS)),)
    if r < 0.72:
        return (("time", _pick(rng, TIMES)),)
    if r < 0.77:
        return (("day", _pick(rng, DAYS)), ("time", "evening"))
    if r < 0.85:
        return (("format", "in_person"),)
    if r < 0.88:
        return (("format", "hybrid"),)
    if r < 0.93:
        return (("format", "virtual"),)
    if r < 0.97:
        return (("within_days", "14"),)
    return (("loss", "stillbirth"),)


def _uk_postcode(conn: psycopg.Connection, rng: random.Random, district: str) -> str | None:
    # a range on the primary key: every full postcode of the district ("LS6 1AA".."LS6 9ZZ")
    codes = conn.execute(
        "SELECT code FROM postcode_centroids WHERE country = 'GB' AND kind = 'postcode' "
        "AND code >= %s AND code < %s ORDER BY code", (district + " ", district + "!"),
    ).fetchall()
    return rng.choice(codes)[0] if codes else None


def draw(url: str, count: int, seed: int) -> list[Search]:
    """`count` searches: the fixed ones, then a weighted draw from the gazetteer."""
    rng = random.Random(seed)
    searches = [Search(near, kind) for near, kind in FIXED]
    with psycopg.connect(libpq_url(url)) as conn:
        uk, us = uk_anchors(conn), us_anchors(conn)
        towns = conn.execute(
            "SELECT name, country, admin1, population FROM places "
            "WHERE country IN ('GB', 'US') AND population >= %s ORDER BY geonameid",
            (MIN_TOWN_POPULATION,),
        ).fetchall()
        pick_uk: Sampler = Sampler(uk, (a.weight for a in uk))
        pick_us: Sampler = Sampler(us, (a.weight for a in us))
        pick_town: Sampler = Sampler(towns, (t[3] for t in towns))
        seen = {s.near for s in searches}
        while len(searches) < count:
            kind = _pick(rng, KINDS)
            near: str | None
            if kind == "uk_postcode":
                near = _uk_postcode(conn, rng, pick_uk(rng).code)
            elif kind == "uk_district":
                near = pick_uk(rng).code
            elif kind == "us_zip":
                near = pick_us(rng).code
            elif kind == "town":
                name, country, admin1, _ = pick_town(rng)
                near = f"{name}, {admin1}" if country == "US" and rng.random() < 0.7 else name
            else:
                anchor: Anchor = (pick_uk if rng.random() < 0.5 else pick_us)(rng)
                lat, lng = jitter(rng, anchor.lat, anchor.lng)
                near = f"{lat:.5f},{lng:.5f}"
            if near is None or near in seen:
                continue
            seen.add(near)
            searches.append(Search(near, kind, _filters(rng)))
    return searches


# --------------------------------------------------------------------------- SQL capture

Statement = tuple[str, Any]  # SQL text as sent to psycopg, and its parameters


@dataclass
class Captured:
    """One search, run once in-process: where it resolved and the SQL it sent."""

    search: Search
    lat: float | None = None
    lng: float | None = None
    matches: int = 0  # the main list's total (rows counted by count(*) over ())
    list_sql: list[Statement] = field(default_factory=list)  # nearby (or online) only
    request_sql: list[Statement] = field(default_factory=list)  # all of search.run
    error: str | None = None


class Recorder:
    """Collects every statement sent through one psycopg connection while `recording`:
    SQLAlchemy's (geocoding) and the search's own cursors alike."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.statements: list[Statement] = []
        self.on = False
        recorder = self

        class RecordingCursor(psycopg.Cursor):
            def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
                if recorder.on:
                    recorder.statements.append((query, params))
                return super().execute(query, params, **kwargs)

        conn.cursor_factory = RecordingCursor

    @contextmanager
    def recording(self) -> Iterator[list[Statement]]:
        self.statements, self.on = [], True
        try:
            yield self.statements
        finally:
            self.on = False


def capture(engine: Engine, searches: list[Search], now: dt.datetime) -> list[Captured]:
    """Geocode each search and record its SQL (outside any timing)."""
    out = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        raw = conn.connection.driver_connection
        recorder = Recorder(raw)
        for s in searches:
            cap = Captured(s)
            out.append(cap)
            with Session(bind=conn) as session:
                try:
                    params = search.parse(MultiDict(s.args))
                    loc = geocode.resolve(session, params.near, online=False)
                    cap.lat, cap.lng = loc.lat, loc.lng
                    with recorder.recording() as statements:
                        if params.format == "virtual":  # what search.run lists for virtual
                            page = search_query.online(raw.cursor(), params, loc.country, now)
                        else:
                            page, _ = search_query.nearby(raw.cursor(), params, loc.lat,
                                                          loc.lng, now)
                    cap.list_sql, cap.matches = list(statements), page.total
                    with recorder.recording() as statements:
                        search.run(session, raw.cursor(), params, online_geocoder=False,
                                   now=now)
                    cap.request_sql = list(statements)
                except (search.ParamError, geocode.LocationNotFound,
                        geocode.InvalidLocation) as exc:
                    cap.error = f"{type(exc).__name__}: {exc}"
    return out


def statement_kind(sql: str) -> str:
    """Which step of a search a statement is, for the per-step breakdown of the floor."""
    s = " ".join(sql.split()).lower()
    if "from postcode_centroids" in s or "from places" in s:
        return "geocode"
    counting = s.startswith(("select count(*)", "select (select count(*)"))
    if "st_dwithin" in s or "<->" in s:  # a KNN page may leave the radius test out
        return "count_nearby" if counting else "list_nearby"
    if "service_countries &&" in s:
        return "count_online" if counting else "list_online"
    return "count_other" if counting else "list_other"
