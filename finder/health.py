"""`/healthz`: is the app up and can it reach the database?

It also lists ingestion sources that failed several runs in a row (as runs recorded them in
`source_states`: `finder.listings.sources_health`), for whoever watches the endpoint; a
broken publisher feed does not make the finder unhealthy, so those never change the status
or the HTTP code.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from finder.db import UNAVAILABLE_ERRORS, get_cursor, get_session
from finder.keywords import get_index
from finder.listings.sources_health import FAILING_AFTER, failing_sources

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    session = get_session()
    try:
        session.execute(text("SELECT 1"))
    except UNAVAILABLE_ERRORS:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok", ingest=_ingest_details(session),
                   keyword_index=_keyword_details())


def _keyword_details() -> dict:
    """Whether keyword searches use the index or fall back to the database, and why; a
    missing or stale index does not make the finder unhealthy (searches still answer)."""
    try:
        index = get_index()
        if index is None:
            return {"status": "off", "fallback": "database"}
        return index.health(get_cursor())
    except Exception:  # the report itself must not turn /healthz into a 500
        log.exception("could not read the keyword index state for /healthz")
        return {"status": "unknown"}


def _ingest_details(session) -> dict:
    """The request session reads in autocommit mode: a failed query spoils nothing, so
    there is no savepoint to open (one cannot be opened outside a transaction)."""
    try:
        failing = failing_sources(session)
    except SQLAlchemyError:
        log.exception("could not read the ingestion state for /healthz")
        session.rollback()
        return {"error": "ingestion state unavailable"}
    return {"failing_after": FAILING_AFTER, "failing_sources": failing}
