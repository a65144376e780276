"""The freshness rules, as pure functions of a listing's last confirmation and `now`.

A listing is confirmed by a source that still lists it (each successful run), by its owner
(editing it, or the "still running" link) or by a moderator. Counting from that date:

- 90 days: its owner is reminded, once per confirmation, with a signed "still running" link;
- 180 days: it "may be out of date" (on its card and page; it ranks below confirmed groups
  at equal distance); three open "didn't meet" reports say the same until resolved;
- 365 days: it is paused (not listed; confirming it brings it back).

A listing never confirmed counts from the day it was listed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

REMIND_AFTER_DAYS = 90
STALE_AFTER_DAYS = 180
PAUSE_AFTER_DAYS = 365

# why a listing is paused (`groups.pause_reason`): only an unconfirmed pause ends by itself
# when the listing is confirmed again
PAUSED_UNCONFIRMED = "unconfirmed"
PAUSED_BY_MODERATOR = "moderator"

NO_MEETING_REPORTS_STALE = 3  # open "didn't meet" reports that make a listing stale

Step = Literal["fresh", "remind", "stale", "pause"]


def confirmed_on(last_confirmed: dt.date | None, created: dt.date) -> dt.date:
    """The date the rules count from."""
    return last_confirmed or created


def age_days(last_confirmed: dt.date | None, created: dt.date, today: dt.date) -> int:
    return (today - confirmed_on(last_confirmed, created)).days


def step(last_confirmed: dt.date | None, created: dt.date, today: dt.date) -> Step:
    """Which rule applies today: the furthest one the listing's age has reached."""
    age = age_days(last_confirmed, created, today)
    if age >= PAUSE_AFTER_DAYS:
        return "pause"
    if age >= STALE_AFTER_DAYS:
        return "stale"
    if age >= REMIND_AFTER_DAYS:
        return "remind"
    return "fresh"


def needs_reminder(last_confirmed: dt.date | None, created: dt.date, today: dt.date,
                   reminded_at: dt.datetime | None, has_owner: bool) -> bool:
    """An owned listing past 90 days whose owner has not been reminded since it was last
    confirmed (so a second run, or a second day, sends nothing more)."""
    if not has_owner or step(last_confirmed, created, today) == "fresh":
        return False
    return reminded_at is None or reminded_at.date() < confirmed_on(last_confirmed, created)


def is_stale(last_confirmed: dt.date | None, created: dt.date, today: dt.date,
             reported_stale: bool = False) -> bool:
    """"May be out of date": 180 days unconfirmed, or enough open "didn't meet" reports."""
    return reported_stale or age_days(last_confirmed, created, today) >= STALE_AFTER_DAYS


def has_ended(meets_until: dt.date | None, today_there: dt.date) -> bool:
    """Every schedule ended before today (in the group's zone)."""
    return meets_until is not None and meets_until < today_there


# The same rules in SQL over `groups g`, for search and the group page; `%(now)s` is the
# request's clock (a timestamptz parameter every search statement has).
STALE_SQL = (f"(g.reported_stale OR coalesce(g.last_confirmed, g.created_at::date) "
             f"<= (%(now)s::timestamptz)::date - {STALE_AFTER_DAYS})")
ENDED_SQL = ("(g.meets_until IS NOT NULL "
             "AND g.meets_until < (%(now)s::timestamptz AT TIME ZONE g.timezone)::date)")


def stale_before(today: dt.date) -> dt.date:
    """Listings confirmed on or before this day are "may be out of date" today."""
    return today - dt.timedelta(days=STALE_AFTER_DAYS)
