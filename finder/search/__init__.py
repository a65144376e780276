"""Search, as one flow: parameters -> location -> SQL -> result objects -> HTML or JSON.

    params.parse(request.args)     a typed query, or ParamError naming the field
    geocode.resolve(near)          a point, country and timezone, or a friendly miss
    query.nearby / online / ...    one plain SQL statement per list (plus a capped count),
                                   whose rows carry everything a result shows
    results.from_rows(rows)        the same objects rendered as HTML or JSON

A "near me" search on page 1 also shows the first online groups serving the searcher's
country. That preview, like the list of online groups (`format=virtual`), does not depend on
where the searcher is, only on the country, the filters (and the page), so both are cached
in the process for `PREVIEW_TTL_S` seconds, keyed on the listing change counter (read with
the nearby count, or on its own for the online list): a change to any listing starts a new
key.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import numpy as np
import psycopg
from sqlalchemy.orm import Session

from finder import geocode
from finder.keywords import query as keyword_query
from finder.keywords import snippets
from finder.keywords.reader import KeywordIndex
from finder.search import query, results
from finder.search.params import ParamError, SearchParams, parse

__all__ = ["ParamError", "SearchOutcome", "SearchParams", "parse", "run"]

ONLINE_PREVIEW = 5  # online groups offered beside a "near me" search
PREVIEW_TTL_S = 60.0  # how long a cached online preview may be served


@dataclass
class SearchOutcome:
    params: SearchParams
    location: geocode.Resolved | None
    results: list[results.GroupResult]
    page: query.Page
    online: list[results.GroupResult] = field(default_factory=list)
    online_page: query.Page = query.Page([], 0)
    searcher_timezone: str | None = None
    root: str = ""  # the app's script root, for links
    keywords_by: str | None = None  # "index" or "database": what matched the keywords
    suggestion: str | None = None  # "did you mean ..."
    facets: dict[str, dict[str, int]] | None = None

    @property
    def total(self) -> int:
        """Matches, counted up to `query.COUNT_CAP` (see `total_exact`)."""
        return self.page.total

    @property
    def total_exact(self) -> bool:
        return self.page.exact

    @property
    def online_has_more(self) -> bool:
        """More online groups than the preview shows (they are not counted)."""
        return not self.online_page.exact

    @property
    def total_pages(self) -> int:
        """Pages of results; a lower bound when the total is not exact."""
        return max(1, math.ceil(self.total / self.params.per_page))

    def to_api(self) -> dict:
        """The body of `GET /api/v1/groups` (GroupResults are serialised by orjson)."""
        params = self.params
        body = {
            "results": self.results,
            "total": self.total,
            "total_exact": self.total_exact,
            "page": params.page,
            "per_page": params.per_page,
            "total_pages": self.total_pages,
            "location": self.location_dict(),
            "searcher_timezone": self.searcher_timezone,
        }
        if params.q:
            body["keywords"] = {"q": params.q, "answered_by": self.keywords_by,
                                "did_you_mean": self.suggestion}
            body["facets"] = self.facets
        if self.location is not None and params.format == "any":
            more = params.to_query(format="virtual", page=None, sort=None)
            body["online"] = {
                "results": self.online,
                "has_more": self.online_has_more,
                "more": f"{self.root}/api/v1/groups?{urlencode(more, doseq=True)}",
            }
        return body

    def location_dict(self) -> dict | None:
        loc = self.location
        if loc is None:
            return None
        return {
            "query": self.params.near, "label": loc.label, "latitude": round(loc.lat, 5),
            "longitude": round(loc.lng, 5), "country": loc.country, "timezone": loc.timezone,
            "precision": loc.precision, "approximate": loc.approximate, "note": loc.note,
        }


class PreviewCache:
    """Online lists' rows per (change counter, country, filters, page), for a short while.

    Rows, not results: next meetings are still computed for each request's moment and zone.
    A key holding an old counter is never asked for again and ages out.
    """

    def __init__(self, ttl_s: float = PREVIEW_TTL_S, max_entries: int = 1024) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[tuple, tuple[float, query.Page]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> query.Page | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: tuple, page: query.Page) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl_s, page)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


preview_cache = PreviewCache()


def _online_key(params: SearchParams, country: str | None, searcher_tz: str | None,
                counter: int, page: tuple[int, int] | None) -> tuple:
    """What an online list depends on; `page` is (page, per_page), None for the preview."""
    zone = searcher_tz if (params.days or params.times) else None  # read in the searcher's
    return (counter, page, country, params.loss, params.audience, params.language,
            params.cost, params.join, params.days, params.times, params.within_days, zone)


def keywords_for(cursor: psycopg.Cursor, text: str | None, index: KeywordIndex | None
                 ) -> tuple[query.Keywords | None, keyword_query.Match | None]:
    """What the SQL needs for `q`: the index's matches, or (when the index cannot answer)
    the text for the database's full-text search; None when `q` has no searchable word."""
    if not text or keyword_query.build(text)[0] is None:  # no words, or only stop words
        return None, None
    if index is None:  # KEYWORD_ENGINE=postgres: PostgreSQL's full-text search, the peer
        return query.Keywords("websearch", text=text), None
    lookup = index.lookup(cursor, text)
    if not lookup.words:
        return None, None
    if lookup.match is None:  # the index cannot answer: the database matches the words
        return query.Keywords("database", text=text), None
    m = lookup.match
    return query.Keywords("index", m.ids, m.scores, share=m.share, formats=m.formats), m


# the filters the index also holds, named as their terms are
# (`finder.keywords.documents.attributes`)
INDEXED_FILTERS = ("loss", "audience", "language", "cost", "join")


def narrowed(kw: query.Keywords, matched: keyword_query.Match | None,
             wanted: dict[str, tuple[str, ...] | list[str]]) -> query.Keywords:
    """The matches that the index says can pass these filters: the database then walks
    fewer that it would turn away (it still tests every filter)."""
    wanted = {kind: values for kind, values in wanted.items() if values}
    if not wanted or matched is None or matched.attributes is None or kw.mode != "index":
        return kw
    keep = matched.attributes.keep(matched.docs, wanted)
    return kw if keep is None else kw.where(keep)


def run(session: Session, cursor: psycopg.Cursor, params: SearchParams, *,
        online_geocoder: bool = False, user_agent: str | None = None,
        now: dt.datetime | None = None, root: str = "",
        keyword_index: KeywordIndex | None = None,
        location: geocode.Resolved | None = None) -> SearchOutcome:
    """Raises ParamError for a page past the end, geocode.LocationNotFound for an unknown place.

    `session` is for geocoding; the lists are read with `cursor` (the same connection).
    Keywords (`q`) are matched by `keyword_index`, or by the database when it cannot.
    `location`: `params.near` already resolved by the caller (the page, to choose the unit)."""
    now = now or dt.datetime.now(dt.UTC)
    if not params.near:
        location = None
    elif location is None:
        location = geocode.resolve(session, params.near, online=online_geocoder,
                                   user_agent=user_agent)
    searcher_tz = params.tz or (location.timezone if location else None)
    kw, matched = keywords_for(cursor, params.q, keyword_index)
    kw_online = kw_place = kw
    if kw is not None:
        common = {name: getattr(params, name) for name in INDEXED_FILTERS}
        served = [query.WORLDWIDE] + ([location.country] if location and location.country
                                      else [])
        kw_online = narrowed(kw, matched, {**common, "served": served})
        # groups meeting in a place: their own days and times, which the index holds too
        kw_place = narrowed(kw, matched, {**common, "slot": query.slot_values(params)})
        kw = narrowed(kw, matched, common)

    online_page = query.Page([], 0)
    if location is None:
        page = query.anywhere(cursor, params, now, searcher_tz=searcher_tz, keywords=kw)
    elif kw is not None:  # keyword results are not cached: the index has its own cache
        if params.format == "virtual":
            page = query.online(cursor, params, location.country, now,
                                searcher_tz=searcher_tz, keywords=kw_online)
        else:
            page, _ = query.nearby(cursor, params, location.lat, location.lng, now,
                                   keywords=kw_place)
        if params.format == "any":  # on later pages too, for the facets' online groups
            online_page = query.online(cursor, params, location.country, now,
                                       preview=ONLINE_PREVIEW, searcher_tz=searcher_tz,
                                       keywords=kw_online)
    elif params.format == "virtual":
        key = _online_key(params, location.country, searcher_tz, query.change_counter(cursor),
                          (params.page, params.per_page))
        page = preview_cache.get(key)
        if page is None:
            page = query.online(cursor, params, location.country, now, searcher_tz=searcher_tz)
            preview_cache.put(key, page)
    else:
        with_preview = params.format == "any" and params.page == 1
        page, counter = query.nearby(cursor, params, location.lat, location.lng, now,
                                     with_counter=with_preview)
        if with_preview:
            key = _online_key(params, location.country, searcher_tz, counter, None)
            online_page = preview_cache.get(key)
            if online_page is None:
                online_page = query.online(cursor, params, location.country, now,
                                           preview=ONLINE_PREVIEW, searcher_tz=searcher_tz)
                preview_cache.put(key, online_page)

    page, online_page = query.fill(cursor, [page, online_page], now,
                                   (location.lat, location.lng) if location else None)
    if params.page > 1 and not page.rows:
        raise ParamError("page", params.page,
                         f"page {params.page} is past the end of the results", 422)

    facet_page = online_page  # counted for facets, shown on the first page only
    if location is not None and params.page > 1:
        online_page = query.Page([], 0)
    main = results.from_rows(page.rows, now=now, searcher_tz=searcher_tz, unit=params.unit,
                             root=root)
    extra = results.from_rows(online_page.rows, now=now, searcher_tz=searcher_tz, root=root)
    outcome = SearchOutcome(params, location, main, page, extra, online_page, searcher_tz, root)
    if kw is not None:
        terms = matched.terms if matched else frozenset(
            stem for word in keyword_query.words(params.q or "")
            for stem in keyword_query.stems(word))
        for result in main + extra:
            result.snippet = snippets.snippet(result.description, terms)
        outcome.keywords_by = "index" if kw.mode == "index" else "database"
        outcome.suggestion = matched.suggestion if matched else None
        walked = [p.walked for p in (page, facet_page) if p.walked is not None]
        found = np.concatenate(walked) if page.walked is not None else None
        if found is not None and matched is not None and matched.attributes is not None:
            outcome.facets = matched.attributes.facets(found)  # the index's values
        if outcome.facets is None:
            outcome.facets = query.facets(
                cursor, params, now, kw, searcher_tz=searcher_tz,
                point=(location.lat, location.lng) if location else None,
                country=location.country if location else None, walked=found)
    return outcome
