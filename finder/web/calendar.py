"""A group's meetings for calendar programs: a download and a subscribable feed (.ics).

`/groups/<id>/calendar.ics` downloads the file; `/groups/<id>/feed.ics` is the same calendar
to subscribe to (calendar programs fetch it again, so changes and cancellations reach
them). `?neutral=1` gives events a plain title and no description, for shared calendars.
"""

from __future__ import annotations

from flask import Response, abort, request, url_for

from finder.db import get_session
from finder.ical import group_calendar
from finder.web import bp
from finder.web.i18n import gettext


def _calendar(group_id: int) -> bytes:
    neutral = request.args.get("neutral") in ("1", "true", "yes")
    body = group_calendar(
        get_session(), group_id,
        page_url=url_for("web.group_page", group_id=group_id, _external=True),
        uid_domain=request.host.split(":")[0] or "groupfinder",
        neutral=neutral, neutral_title=gettext("Appointment"),
    )
    if body is None:
        abort(404)
    return body


@bp.get("/groups/<int:group_id>/calendar.ics")
def group_calendar_download(group_id: int):
    return Response(_calendar(group_id), mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="group-{group_id}.ics"',
        "Cache-Control": "no-store",
    })


@bp.get("/groups/<int:group_id>/feed.ics")
def group_calendar_feed(group_id: int):
    return Response(_calendar(group_id), mimetype="text/calendar", headers={
        "Content-Disposition": f'inline; filename="group-{group_id}.ics"',
        "Cache-Control": "private, max-age=3600",
    })
