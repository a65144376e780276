"""One group, for its own page and `GET /api/v1/groups/<id>`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.models import Group
from finder.search.results import GroupResult, build

MAX_ID = 2**31 - 1


def find_group(session: Session, group_id: int, *, now: dt.datetime,
               searcher_tz: str | None = None) -> GroupResult | None:
    """The group with its sources; None when unknown or withdrawn (withdrawn is not public)."""
    if not 0 < group_id <= MAX_ID:  # the URL's number may be anything; ids are int4
        return None
    status = session.execute(select(Group.status).where(Group.id == group_id)).scalar()
    if status is None or status == "withdrawn":
        return None
    found = build(session, [group_id], now=now, searcher_tz=searcher_tz, with_sources=True)
    return found[0] if found else None
