"""The web pages: the search page (`/`) and a group's own page, server-rendered, no JS needed."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, render_template, request, url_for

from finder import geocode, search, vocab
from finder.db import get_cursor, get_session
from finder.groups import find_group
from finder.search.params import ParamError, parse_tz

bp = Blueprint("web", __name__)


def _form_context() -> dict:
    return {"vocab": vocab, "formats": search.params.FORMATS, "units": search.params.UNITS}


@bp.get("/")
def search_page():
    args = request.args
    context = _form_context() | {"args": args, "outcome": None, "error": None, "miss": None}
    searched = any(v for k, v in args.items(multi=True) if k not in ("tz",))
    status = 200
    try:
        params = search.parse(args)
        if searched:
            context["outcome"] = search.run(
                get_session(), get_cursor(), params,
                online_geocoder=current_app.config["ONLINE_GEOCODER"],
                user_agent=current_app.config["GEOCODER_USER_AGENT"],
            )
            context["page_url"] = lambda **changes: url_for(
                "web.search_page", **params.to_query(**changes))
    except ParamError as exc:
        context["error"] = exc
        status = 400
    except geocode.InvalidLocation as exc:
        context["error"] = ParamError("near", args.get("near"), str(exc))
        status = 400
    except geocode.LocationNotFound as exc:
        context["miss"] = str(exc)
    return render_template("search.html", **context), status


@bp.get("/groups/<int:group_id>")
def group_page(group_id: int):
    try:
        tz = parse_tz(request.args)
    except ParamError as exc:
        return render_template("error.html", title="That link has a problem",
                               message=exc.message), 400
    group = find_group(get_cursor(), group_id, now=dt.datetime.now(dt.UTC), searcher_tz=tz)
    if group is None:
        abort(404)
    return render_template("group.html", group=group, vocab=vocab)


@bp.app_errorhandler(404)
def not_found(exc):
    if request.path.startswith("/api/"):
        return {"error": {"message": "not found"}}, 404
    return render_template("error.html", title="Page not found",
                           message="We couldn't find that page. It may have been removed."), 404


@bp.app_errorhandler(500)
def server_error(exc):
    if request.path.startswith("/api/"):
        return {"error": {"message": "something went wrong on our side"}}, 500
    return render_template("error.html", title="Something went wrong",
                           message="Something went wrong on our side. Please try again."), 500


@bp.after_app_request
def security_headers(response):
    # Nothing third-party may load: no fonts, maps, scripts or analytics.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
