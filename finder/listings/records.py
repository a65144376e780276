"""The publisher-neutral listing record: what every adapter (and the demo, and submissions)
hands to `finder.listings.normalise`. Values are as the publisher wrote them ("TFMR", "Dads",
"1st Tuesday"); normalisation maps them onto the vocabularies and rejects what it cannot use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class OrganisationRecord:
    name: str
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass
class ScheduleRecord:
    """One recurrence in RFC 5545 terms (see `finder.schedules.Recurrence`).

    freq: "weekly" or "monthly"; interval: every N weeks/months; weekday: 0 = Monday;
    set_pos: for monthly, 1..4 or -1 (last); start_time local to `timezone` (or the
    listing's timezone when None).
    """

    freq: str
    weekday: int
    start_time: dt.time
    interval: int = 1
    set_pos: int | None = None
    duration_minutes: int = 90
    timezone: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    cancelled_dates: list[dt.date] = field(default_factory=list)


@dataclass
class ListingRecord:
    source: str  # the source's name, e.g. "demo" or "leeds-teaching-hospitals"
    external_id: str  # the publisher's own id for this listing
    name: str
    format: str  # a FORMAT code or synonym ("online", "hybrid", ...)
    join_mode: str  # a JOIN code or synonym
    description: str = ""
    organisation: OrganisationRecord | None = None
    join_url: str | None = None
    join_phone: str | None = None
    join_email: str | None = None
    join_notes: str | None = None
    loss_types: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: ["en"])
    cost: str = "free"
    facilitation: str = "peer"
    accessibility_notes: str | None = None
    # where it meets (in person / hybrid)
    venue_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    town: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None  # ISO 3166 alpha-2
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None  # IANA name
    # who it serves online (virtual / hybrid): ISO alpha-2 codes or ["*"] for worldwide
    service_countries: list[str] = field(default_factory=list)
    schedules: list[ScheduleRecord] = field(default_factory=list)
    last_confirmed: dt.date | None = None
    url: str | None = None  # the listing's page at the publisher
