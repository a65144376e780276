"""The upcoming-meeting cache: `Schedule.time_band` and `Schedule.upcoming`, kept in SQL.

Search filters ("meets in the next 14 days", "evenings") and "sort by next meeting" read
these columns, so they are stale the moment the next meeting has passed. Write paths refresh
the schedules they touch; everything else is refreshed by

    groupfinder schedules refresh

which must run daily (e.g. cron ``15 3 * * * groupfinder schedules refresh``), since the
window of cached dates slides forward with the calendar, and

    groupfinder schedules refresh --passed

hourly, which refreshes only the groups whose next meeting has just happened, so "next
meeting first" stays in order (`groups.next_meeting_at` follows the schedules through a
database trigger). What people see is computed live by `finder.schedules`; only filtering
and sorting use the cache.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from finder.models import Group, Schedule
from finder.schedules import Recurrence, last_meeting_on, time_band, upcoming_utc

log = logging.getLogger(__name__)

HORIZON_DAYS = 120
BATCH_SIZE = 2000

schedules_cli = click.Group("schedules", help="Meeting schedules.")

_COLUMNS = (
    Schedule.id, Schedule.freq, Schedule.interval, Schedule.weekday, Schedule.set_pos,
    Schedule.start_time, Schedule.duration_minutes, Schedule.timezone, Schedule.valid_from,
    Schedule.valid_until, Schedule.cancelled_dates,
)


def refresh_upcoming(
    session: Session,
    schedules: Iterable[Schedule] | None = None,
    now: dt.datetime | None = None,
    *,
    horizon_days: int = HORIZON_DAYS,
    batch_size: int = BATCH_SIZE,
    passed_only: bool = False,
) -> int:
    """Recompute `time_band`, `upcoming` and `last_meeting_on` (which only changes with
    the schedule, but is kept here with the rest of what is computed from it); returns
    how many schedules were refreshed.

    Given ORM objects (a write path), they are updated in place and an invalid one raises
    ValueError, because the writer should hear about it. Given None, every schedule in the
    database is refreshed in id-ordered batches of plain rows and bulk UPDATEs, so 100,000+
    rows never sit in the identity map; there an invalid row is logged and left with no
    upcoming dates rather than stopping the daily run. Bulk updates bypass the session's
    objects: refresh any loaded `Schedule` afterwards to see the new values. `passed_only`
    limits the run to groups whose cached next meeting is already in the past.
    """
    now = now or dt.datetime.now(dt.UTC)
    if schedules is not None:
        count = 0
        for schedule in schedules:
            rec = Recurrence.from_obj(schedule)
            schedule.time_band = time_band(rec.start_time)
            schedule.upcoming = upcoming_utc(rec, now, horizon_days)
            schedule.last_meeting_on = last_meeting_on(rec)
            count += 1
        return count

    count = 0
    last_id = 0
    scope = []
    if passed_only:
        scope.append(Schedule.group_id.in_(select(Group.id).where(Group.next_meeting_at < now)))
    while True:
        rows = session.execute(
            select(*_COLUMNS).where(Schedule.id > last_id, *scope)
            .order_by(Schedule.id).limit(batch_size)
        ).all()
        if not rows:
            return count
        changes = [_row_values(row, now, horizon_days) for row in rows]
        session.execute(update(Schedule), changes)
        count += len(changes)
        last_id = rows[-1].id


def _row_values(row: Row, now: dt.datetime, horizon_days: int) -> dict:
    band = time_band(row.start_time)
    last = row.valid_until  # an invalid row ends on its end date, as before
    try:
        rec = Recurrence.from_obj(row)
        upcoming = upcoming_utc(rec, now, horizon_days)
        last = last_meeting_on(rec)
    except ValueError as exc:
        log.warning("schedule %s is invalid, no upcoming dates cached: %s", row.id, exc)
        upcoming = []
    return {"id": row.id, "time_band": band, "upcoming": upcoming, "last_meeting_on": last}


@schedules_cli.command(
    "refresh", help="Recompute cached upcoming meetings (daily; with --passed, hourly).")
@click.option("--horizon-days", type=int, default=HORIZON_DAYS, show_default=True,
              help="How far ahead to cache meeting dates.")
@click.option("--passed", is_flag=True,
              help="Only groups whose next meeting has happened since the last refresh.")
@with_appcontext
def refresh_command(horizon_days: int, passed: bool) -> None:
    with current_app.extensions["db"].transaction() as session:
        count = refresh_upcoming(session, horizon_days=horizon_days, passed_only=passed)
    click.echo(f"Refreshed upcoming meetings for {count} schedules.")
