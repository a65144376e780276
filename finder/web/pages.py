"""The search page (`/`), a group's page, the helplines page and the error pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from flask import abort, current_app, render_template, request, url_for
from flask import g as request_globals
from flask_login import current_user

from finder import geocode, helplines, search, vocab
from finder.db import get_cursor, get_session
from finder.groups import find_group
from finder.keywords import get_index
from finder.models import Group
from finder.search.params import ParamError, SearchParams, parse_tz
from finder.web import bp, links
from finder.web.i18n import gettext
from finder.web.messages import FIELD_LABELS, FILTER_FIELDS, friendly

# query parameters that do not make a search by themselves
NOT_SEARCH = ("tz", "lang")
# miles, not kilometres, where people measure distances in miles
MILES_COUNTRIES = {"US"}


def _form_context() -> dict:
    return {"vocab": vocab, "formats": search.params.FORMATS, "units": search.params.UNITS,
            "field_labels": FIELD_LABELS}


def is_search(args) -> bool:
    return any(v.strip() for k, v in args.items(multi=True) if k not in NOT_SEARCH)


def filters_in_use(params: SearchParams | None, args) -> bool:
    """Whether the "When it meets, and who it is for" panel has a choice made in it."""
    if params is not None:
        return bool(params.days or params.times or params.within_days or params.loss
                    or params.audience or params.language or params.cost or params.join
                    or (args.get("sort") or "").strip())
    return any((args.get(name) or "").strip() for name in FILTER_FIELDS)


def with_local_unit(params: SearchParams, args, place: geocode.Resolved | None
                    ) -> SearchParams:
    """Miles for searches in the US when the searcher did not choose a unit."""
    if (args.get("unit") or "").strip() or place is None:
        return params
    if place.country not in MILES_COUNTRIES:
        return params
    radius = params.radius if (args.get("radius") or "").strip() else 15.0
    return replace(params, unit="mi", radius=radius)


def run_search(args, session):
    """The search a page shows. Raises what `search.run` raises (an unknown place: the
    searcher's location is found once, here, for the unit and for the search)."""
    params = search.parse(args)
    place = None
    if params.near:
        place = geocode.resolve(session, params.near,
                                online=current_app.config["ONLINE_GEOCODER"],
                                user_agent=current_app.config["GEOCODER_USER_AGENT"])
    params = with_local_unit(params, args, place)
    outcome = search.run(session, get_cursor(), params, location=place,
                         keyword_index=get_index())
    return params, outcome


@bp.get("/")
def search_page():
    args = request.args
    context = _form_context() | {"args": args, "outcome": None, "error": None, "miss": None,
                                 "params": None}
    status = 200
    params = None
    try:
        params = search.parse(args)
        if is_search(args):
            params, context["outcome"] = run_search(args, get_session())
    except ParamError as exc:
        context["error"] = exc
        status = 400
    except geocode.InvalidLocation as exc:
        context["error"] = ParamError("near", args.get("near"), str(exc))
        status = 400
    except geocode.LocationNotFound as exc:
        context["miss"] = str(exc)
        if exc.suggestion and params is not None:  # offered, not searched: they choose
            context["miss_suggestion"] = exc.suggestion
            context["miss_suggestion_url"] = url_for(
                "web.search_page", **params.to_query(near=exc.suggestion, page=None))
    error = context["error"]
    context.update(
        params=params,
        error_message=friendly(error) if error else None,
        filters_open=filters_in_use(params, args)
        or bool(error and error.field in FILTER_FIELDS + ("page", "per_page", "tz")),
        unit=(params.unit if params else (args.get("unit") or "km")),
    )
    outcome = context["outcome"]
    if outcome is not None:
        p = outcome.params
        context["page_url"] = lambda **changes: url_for("web.search_page", **p.to_query(**changes))
        context["share_url"] = links.share_url(p)
        context["country_helplines"] = helplines.for_country(
            outcome.location.country if outcome.location else None)
        context["map_points"] = map_points(outcome) if current_app.config["MAP_TILE_URL"] else None
    return render_template("search.html", **context), status


def map_points(outcome) -> list[dict]:
    """What the optional map shows: each in-person result's pin and link (no other data)."""
    return [
        {"name": g.name, "lat": g.location["latitude"], "lng": g.location["longitude"],
         "url": links.group_url(g.id, outcome.params)}
        for g in outcome.results if g.location
    ]


@bp.get("/groups/<int:group_id>")
def group_page(group_id: int):
    try:
        tz = parse_tz(request.args)
    except ParamError as exc:
        return render_template("error.html", title=gettext("That link has a problem"),
                               message=friendly(exc)), 400
    group = find_group(get_cursor(), group_id, now=dt.datetime.now(dt.UTC), searcher_tz=tz)
    if group is None:
        abort(404)
    row = get_session().get(Group, group_id)
    # withdrawn groups are gone for everyone (`find_group`); a paused one keeps its page, as
    # in the API, saying it is paused, so a saved link explains itself instead of vanishing
    back = links.back_to_search(request.args.get("back"), tz)
    return render_template("group.html", group=group, vocab=vocab, visitor_tz=tz,
                           back_url=back, source_label=source_label,
                           provenance=_provenance(group_id),
                           claimable=_claimable(row),
                           country_helplines=helplines.for_country(
                               group.location["country"] if group.location else None))


def _claimable(row: Group | None) -> bool:
    """An imported listing nobody manages, seen by someone signed in."""
    return bool(row is not None and current_user.is_authenticated
                and row.owner_organisation_id is None and row.status == "active")


def _provenance(group_id: int):
    """ "Submitted by <organisation>" or "imported from <source>", and when."""
    from finder.submissions import service

    return service.provenance(group_id, get_session())


@bp.get("/helplines")
def helplines_page():
    return render_template("helplines.html", all_helplines=helplines.load())


def _source_names() -> dict[str, str]:
    """Publishers' names as ingestion runs stored them (`source_states.display_name`), read
    once per request."""
    names = request_globals.get("source_names")
    if names is None:
        names = request_globals.source_names = dict(get_cursor().execute(
            "SELECT source, display_name FROM source_states WHERE display_name IS NOT NULL"))
    return names


def source_label(key: str) -> str:
    """ "leeds-hospitals-bereavement" -> the publisher's name; "demo" -> what it is."""
    if key == "demo":
        return gettext("the demo listings (fictional)")
    return _source_names().get(key) or key.replace("-", " ").replace("_", " ").capitalize()


@bp.app_errorhandler(404)
def not_found(exc):
    if request.path.startswith("/api/"):
        return {"error": {"message": "not found"}}, 404
    return render_template("error.html", title=gettext("Page not found"),
                           message=gettext("We couldn't find that page. It may have been "
                                           "removed.")), 404


@bp.app_errorhandler(500)
def server_error(exc):
    if request.path.startswith("/api/"):
        return {"error": {"message": "something went wrong on our side"}}, 500
    return render_template("error.html", title=gettext("Something went wrong"),
                           message=gettext("Something went wrong on our side. Please try "
                                           "again.")), 500
