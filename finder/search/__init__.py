"""Search, as one flow: parameters -> location -> SQL -> next meetings -> result objects.

    params.parse(request.args)     a typed query, or ParamError naming the field
    geocode.resolve(near)          a point, country and timezone, or a friendly miss
    query.nearby / online / ...    one SQL statement per list, filters in SQL
    results.build(...)             the same objects rendered as HTML or JSON
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import request
from sqlalchemy.orm import Session

from finder import geocode
from finder.search import query, results
from finder.search.params import ParamError, SearchParams, parse

__all__ = ["ParamError", "SearchOutcome", "SearchParams", "parse", "run"]

ONLINE_PREVIEW = 5  # online groups offered beside a "near me" search


@dataclass
class SearchOutcome:
    params: SearchParams
    location: geocode.Resolved | None
    results: list[results.GroupResult]
    page: query.HitPage
    online: list[results.GroupResult] = field(default_factory=list)
    online_page: query.HitPage = query.HitPage([], 0)
    searcher_timezone: str | None = None

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
        """The body of `GET /api/v1/groups`."""
        params = self.params
        body = {
            "results": [r.to_api() for r in self.results],
            "total": self.total,
            "total_exact": self.total_exact,
            "page": params.page,
            "per_page": params.per_page,
            "total_pages": self.total_pages,
            "location": self.location_dict(),
            "searcher_timezone": self.searcher_timezone,
        }
        if self.location is not None and params.format == "any":
            more = params.to_query(format="virtual", page=None, sort=None)
            body["online"] = {
                "results": [r.to_api() for r in self.online],
                "has_more": self.online_has_more,
                "more": request.script_root + "/api/v1/groups?" + urlencode(more, doseq=True),
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


def run(session: Session, params: SearchParams, *, online_geocoder: bool = False,
        user_agent: str | None = None, now: dt.datetime | None = None) -> SearchOutcome:
    """Raises ParamError for a page past the end, geocode.LocationNotFound for an unknown place."""
    now = now or dt.datetime.now(dt.UTC)
    location = None
    if params.near:
        location = geocode.resolve(session, params.near, online=online_geocoder,
                                   user_agent=user_agent)
    searcher_tz = params.tz or (location.timezone if location else None)

    online_page = query.HitPage([], 0)
    if location is None:
        page = query.anywhere(session, params, now, searcher_tz=searcher_tz)
    elif params.format == "virtual":
        page = query.online(session, params, location.country, now, searcher_tz=searcher_tz)
    else:
        page = query.nearby(session, params, location.lat, location.lng, now)
        if params.format == "any" and params.page == 1:
            online_page = query.online(session, params, location.country, now,
                                       preview=ONLINE_PREVIEW, searcher_tz=searcher_tz)

    if params.page > 1 and not page.hits:
        raise ParamError("page", params.page,
                         f"page {params.page} is past the end of the results", 422)

    hits = page.hits + online_page.hits  # both lists' groups in one build: fewer round trips
    built = results.build(session, [h.group_id for h in hits], now=now,
                          searcher_tz=searcher_tz, unit=params.unit,
                          distances={h.group_id: h.distance_m for h in hits})
    main, extra = built[:len(page.hits)], built[len(page.hits):]
    return SearchOutcome(params, location, main, page, extra, online_page, searcher_tz)
