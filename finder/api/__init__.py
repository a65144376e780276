"""The JSON API: the same search as the page, as data. Errors are JSON naming the field."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from finder import geocode, search
from finder.api.openapi import openapi_document
from finder.db import get_session
from finder.groups import find_group
from finder.search.params import check_timezone

bp = Blueprint("api", __name__)


def error(status: int, message: str, field: str | None = None, value: object = None):
    body = {"error": {"message": message}}
    if field:
        body["error"].update(field=field, value=value)
    return jsonify(body), status


@bp.errorhandler(search.ParamError)
def _param_error(exc: search.ParamError):
    return error(400, exc.message, exc.field, exc.value)


@bp.errorhandler(geocode.InvalidLocation)
def _invalid_location(exc: geocode.InvalidLocation):
    return error(400, str(exc), "near", request.args.get("near"))


@bp.errorhandler(geocode.LocationNotFound)
def _not_found_location(exc: geocode.LocationNotFound):
    return error(422, str(exc), "near", request.args.get("near"))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error(exc.code or 500, exc.description or exc.name)


@bp.get("/groups")
def list_groups():
    params = search.parse(request.args)
    outcome = search.run(
        get_session(), params,
        online_geocoder=current_app.config["ONLINE_GEOCODER"],
        user_agent=current_app.config["GEOCODER_USER_AGENT"],
    )
    body = {
        "results": [_with_links(r.to_dict()) for r in outcome.results],
        "total": outcome.total,
        "total_exact": outcome.total_exact,
        "page": params.page,
        "per_page": params.per_page,
        "total_pages": outcome.total_pages,
        "location": outcome.location_dict(),
        "searcher_timezone": outcome.searcher_timezone,
    }
    if outcome.location is not None and params.format == "any":
        body["online"] = {
            "results": [_with_links(r.to_dict()) for r in outcome.online],
            "has_more": outcome.online_has_more,
            "more": url_for("api.list_groups", **params.to_query(format="virtual", page=None,
                                                                 sort=None)),
        }
    return jsonify(body)


@bp.get("/groups/<int:group_id>")
def get_group(group_id: int):
    tz = check_timezone(request.args.get("tz"))
    group = find_group(get_session(), group_id, now=dt.datetime.now(dt.UTC), searcher_tz=tz)
    if group is None:
        abort(404, description=f"no group with id {group_id}")
    return jsonify(_with_links(group.to_dict()))


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(request.host_url.rstrip("/")))


def _with_links(d: dict) -> dict:
    d["links"] = {
        "self": url_for("api.get_group", group_id=d["id"]),
        "html": url_for("web.group_page", group_id=d["id"]),
    }
    return d
