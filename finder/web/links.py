"""Links the pages build, kept in one place so every page builds them the same way.

A link from a result to a group's page carries the visitor's own zone (`tz`) and the search
it came from (`back`), so "Back to search" returns to the same results. `back` is only ever
turned back into a link to our own search page, after validating it as a search.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl, urlencode

from flask import Flask, current_app, url_for
from werkzeug.datastructures import MultiDict

from finder import search
from finder.search.params import ParamError, SearchParams


def search_query(params: SearchParams, **changes: object) -> dict[str, object]:
    return params.to_query(**changes)


@lru_cache(maxsize=256)  # the same for every result of a page
def back_value(params: SearchParams) -> str:
    """The search as a query string for `back`, without the visitor's zone (sent apart)."""
    return urlencode(params.to_query(tz=None), doseq=True)


def group_url(group_id: int, params: SearchParams | None = None, **extra: object) -> str:
    if params is None:
        return url_for("web.group_page", group_id=group_id, **extra)
    return url_for("web.group_page", group_id=group_id, tz=params.tz,
                   back=back_value(params) or None, **extra)


def back_to_search(back: str | None, tz: str | None) -> str:
    """Our search page with the search in `back` (validated), else an empty search."""
    if back:
        try:
            params = search.parse(MultiDict(parse_qsl(back, keep_blank_values=True)))
        except ParamError:
            params = None
        if params is not None:
            return url_for("web.search_page", **params.to_query(tz=tz))
    return url_for("web.search_page", tz=tz)


def share_url(params: SearchParams) -> str:
    """A clean link to this search for someone else: no empty values, page or zone."""
    return url_for("web.search_page", _external=True, **params.to_query(tz=None, page=None))


def directions_url(location: dict | None) -> str | None:
    """A plain link to directions to the venue (followed only when chosen), or None."""
    if not location or location.get("latitude") is None:
        return None
    template = current_app.config.get("DIRECTIONS_URL") or ""
    if not template:
        return None
    return template.format(lat=location["latitude"], lng=location["longitude"])


def tel(phone: str | None) -> str | None:
    """`tel:` target for a number as listed: digits, with a leading + kept."""
    if not phone:
        return None
    digits = "".join(c for c in phone if c.isdigit())
    if not digits:
        return None
    return ("+" if phone.strip().startswith("+") else "") + digits


def init_app(app: Flask) -> None:
    from finder.web.patterns import pattern

    app.jinja_env.globals.update(group_url=group_url, directions_url=directions_url)
    app.jinja_env.filters["pattern"] = pattern
    app.jinja_env.filters["tel"] = tel
