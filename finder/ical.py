"""A group's meetings as an iCalendar (RFC 5545) document: one repeating event per schedule.

Each schedule becomes a VEVENT with DTSTART in the group's zone (TZID), its RRULE, the
cancelled meetings as EXDATEs, and the zone itself as a VTIMEZONE, so calendar programs
repeat it on the right local wall-clock time across daylight-saving changes. The same
document serves the one-off download and the subscribable feed.

With `neutral`, nothing in the calendar says what the meetings are about: a plain title,
no description, no venue name and no link, for a calendar others may see.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event, vRecur
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from finder import schedules
from finder.models import Group

PRODID = "-//groupfinder//calendar//EN"  # says nothing about what the events are


def _address(group: Group, *, with_venue: bool) -> str | None:
    loc = group.location
    if loc is None:
        return None
    parts = [loc.venue_name if with_venue else None, loc.address_line1, loc.address_line2,
             loc.town, loc.postcode]
    return ", ".join(p for p in parts if p) or None


def _description(group: Group, page_url: str) -> str:
    lines = [group.name]
    if group.join_url:
        lines.append(f"How to join: {group.join_url}")
    if group.join_phone:
        lines.append(f"Phone: {group.join_phone}")
    if group.join_email:
        lines.append(f"Email: {group.join_email}")
    if group.join_notes:
        lines.append(group.join_notes)
    lines.append(f"Details: {page_url}")
    return "\n".join(lines)


def group_calendar(session: Session, group_id: int, *, page_url: str, uid_domain: str,
                   neutral: bool = False, neutral_title: str = "Meeting",
                   now: dt.datetime | None = None) -> bytes | None:
    """The calendar of a listed group (None when unknown or withdrawn)."""
    group = session.execute(
        select(Group).where(Group.id == group_id)
        .options(selectinload(Group.schedules), selectinload(Group.location))
    ).scalar_one_or_none()
    if group is None or group.status == "withdrawn":
        return None
    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", neutral_title if neutral else group.name)
    cal.add("x-wr-timezone", group.timezone)
    # subscribed copies refresh daily (RFC 7986, and the older Microsoft property)
    cal.add("refresh-interval", dt.timedelta(days=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "P1D")

    for row in group.schedules:
        rec = schedules.Recurrence.from_obj(row)
        start = schedules.dtstart(rec)
        event = Event()
        event.add("uid", f"group-{group.id}-schedule-{row.id}@{uid_domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("duration", dt.timedelta(minutes=rec.duration_minutes))
        event.add("rrule", vRecur.from_ical(schedules.to_rrule(rec)))
        cancelled = sorted(rec.cancelled_dates)
        if cancelled:
            event.add("exdate", [dt.datetime.combine(d, rec.start_time, tzinfo=rec.zone)
                                 for d in cancelled])
        event.add("summary", neutral_title if neutral else group.name)
        location = _address(group, with_venue=not neutral)
        if location:
            event.add("location", location)
        elif group.join_url and not neutral:
            event.add("location", group.join_url)
        if not neutral:
            event.add("description", _description(group, page_url))
            event.add("url", page_url)
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
