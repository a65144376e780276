"""One group, for its own page and `GET /api/v1/groups/<id>`."""

from __future__ import annotations

import datetime as dt

import psycopg

from finder.search import query, results
from finder.search.results import GroupResult

MAX_ID = 2**31 - 1


def find_group(cursor: psycopg.Cursor, group_id: int, *, now: dt.datetime,
               searcher_tz: str | None = None, root: str = "") -> GroupResult | None:
    """The group with its sources; None when unknown or withdrawn (withdrawn is not public)."""
    if not 0 < group_id <= MAX_ID:  # the URL's number may be anything; ids are int4
        return None
    rows = query.by_ids(cursor, [group_id], now)
    if not rows or rows[0][3] == "withdrawn":  # status
        return None
    [group] = results.from_rows(rows, now=now, searcher_tz=searcher_tz, root=root)
    group.sources = results.sources_of(cursor, group_id)
    return group
