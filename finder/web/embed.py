"""The embeddable list: a fixed search for a partner's page (a hospital), in an iframe.

`/embed?near=LS1&format=in_person` shows the results of that search with no form, no
cookies and links that open our group pages in a new tab. Only the sites configured in
`GROUPFINDER_EMBED_ANCESTORS` may frame it (CSP frame-ancestors, see `headers.py`).
"""

from __future__ import annotations

from flask import render_template, request
from werkzeug.datastructures import MultiDict

from finder import geocode
from finder.db import get_session
from finder.search.params import ParamError
from finder.web import bp
from finder.web.messages import friendly
from finder.web.pages import run_search

# what a partner may fix in the embedded search
EMBED_PARAMS = ("near", "radius", "unit", "format", "loss", "audience", "language", "day",
                "time", "per_page", "lang")


@bp.get("/embed")
def embed_page():
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k in EMBED_PARAMS])
    outcome, problem, status = None, None, 200
    try:
        _, outcome = run_search(args, get_session())
    except ParamError as exc:
        problem, status = friendly(exc), 400
    except geocode.InvalidLocation:
        problem, status = friendly(ParamError("near", args.get("near"), "")), 400
    except geocode.LocationNotFound as exc:
        problem = str(exc)
    return render_template("embed.html", outcome=outcome, problem=problem), status
