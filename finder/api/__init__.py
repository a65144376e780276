"""The JSON API: the same search as the page, as data. Errors are JSON naming the field.

Status codes: 400 when a parameter breaks its documented rule, 422 when well-formed
parameters cannot be answered (an unknown place, `sort=distance` without `near`, a page past
the end), 404 for an unknown group, 503 when the database is unreachable; see
`finder.api.openapi` and `finder.errors`. Bodies are encoded with orjson.
"""

from __future__ import annotations

import datetime as dt

import orjson
from flask import Blueprint, Response, abort, current_app, request

from finder import geocode, search
from finder.api.openapi import openapi_document
from finder.db import get_cursor, get_session
from finder.errors import json_error
from finder.groups import find_group
from finder.keywords import get_index
from finder.search.params import parse_tz

bp = Blueprint("api", __name__)


def json_response(body: object) -> Response:
    """`body` as JSON; dataclasses (the results) are serialised by orjson directly."""
    return Response(orjson.dumps(body), mimetype="application/json")


@bp.errorhandler(search.ParamError)
def _param_error(exc: search.ParamError):
    return json_error(exc.status, exc.message, exc.field, exc.value)


@bp.errorhandler(geocode.InvalidLocation)
def _invalid_location(exc: geocode.InvalidLocation):
    # well-formed text, but not a point on Earth (e.g. "91,0")
    return json_error(422, str(exc), "near", request.args.get("near"))


@bp.errorhandler(geocode.LocationNotFound)
def _not_found_location(exc: geocode.LocationNotFound):
    extra = {"did_you_mean": exc.suggestion} if exc.suggestion else {}
    return json_error(422, str(exc), "near", request.args.get("near"), **extra)


@bp.get("/groups")
def list_groups():
    params = search.parse(request.args)
    outcome = search.run(
        get_session(), get_cursor(), params,
        online_geocoder=current_app.config["ONLINE_GEOCODER"],
        user_agent=current_app.config["GEOCODER_USER_AGENT"], root=request.script_root,
        keyword_index=get_index(),
    )
    return json_response(outcome.to_api())


@bp.get("/groups/<int:group_id>")
def get_group(group_id: int):
    tz = parse_tz(request.args)
    group = find_group(get_cursor(), group_id, now=dt.datetime.now(dt.UTC), searcher_tz=tz,
                       root=request.script_root)
    if group is None:
        abort(404, description=f"no group with id {group_id}")
    return json_response(group)


@bp.get("/openapi.json")
def openapi():
    return json_response(openapi_document(current_app.config["PUBLIC_URL"].rstrip("/") or "/"))
