"""Errors the whole app answers the same way: JSON under /api/, and a 503 when the
database is unreachable (a restart, an outage) instead of a hang or a 500.

The web blueprint owns the HTML error pages (404, 500); this module adds what every
area needs: JSON for any HTTP error under /api/ (405, 413, ... as well as 404 and 500)
and the 503.
"""

from __future__ import annotations

import logging

import orjson
from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from finder.db import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def json_error(status: int, message: str, field: str | None = None,
               value: object = None, **extra: object) -> Response:
    body: dict = {"message": message}
    if field:
        body.update(field=field, value=value)
    body.update(extra)
    return Response(orjson.dumps({"error": body}, default=str), status=status,
                    mimetype="application/json")


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if wants_json():
            response = json_error(exc.code or 500, exc.description or exc.name)
            for name in ("Allow", "Retry-After"):  # 405 says which methods; 503 when
                if name in exc.get_response().headers:
                    response.headers[name] = exc.get_response().headers[name]
            return response
        return exc

    def _unavailable(exc: Exception):
        log.warning("database unavailable: %s", type(exc).__name__)
        if wants_json():
            response = json_error(503, "the database is unreachable for now; please try "
                                       "again in a few seconds")
        else:
            response = Response(render_template(
                "error.html", title="Temporarily unavailable",
                message="We can't reach our listings right now. Please try again in a few "
                        "seconds."), status=503)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    for error in UNAVAILABLE_ERRORS:
        app.register_error_handler(error, _unavailable)
