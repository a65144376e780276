"""The group form's "Check the address" step: where the venue will be placed, before saving.

It asks the same code that will place the venue when the listing is written (the
normaliser, then `finder.listings.store.geocode`), so what the organisation sees is what
searchers will get, and says when the point is only approximate (a postcode district, a
town centre) rather than the venue's own postcode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from finder.geocode import lookup_postcode
from finder.listings.normalise import Rejection, normalise
from finder.listings.records import ListingRecord, ScheduleRecord
from finder.listings.store import geocode

ADDRESS = ("venue_name", "address_line1", "address_line2", "town", "region", "postcode",
           "country")


@dataclass(frozen=True)
class PlaceCheck:
    lat: float
    lng: float
    label: str  # what the postcode or town resolved to: "LS1 3EX", "Leeds, England"
    precision: str
    approximate: bool
    timezone: str | None
    note: str | None = None


def check_place(session: Session, payload: Mapping[str, Any]
                ) -> tuple[PlaceCheck | None, tuple[str, str] | None]:
    """(the place, None), or (None, (field path, message)); (None, None) for an online
    group. `payload` is the group JSON of `finder.submissions.payload`."""
    fmt = payload.get("format") or "in_person"
    if fmt == "virtual":
        return None, None
    location = payload.get("location")
    location = location if isinstance(location, Mapping) else {}
    record = ListingRecord(
        source="form", external_id="check", name="check", format=str(fmt), join_mode="drop_in",
        # the address is what is checked here; the meeting times are checked on saving
        schedules=[ScheduleRecord("weekly", 0, dt.time(19, 0))],
        **{key: location.get(key) for key in ADDRESS if isinstance(location.get(key), str)})
    listing = normalise(record)
    if not isinstance(listing, Rejection):
        listing = geocode(session, listing)
    if isinstance(listing, Rejection):
        field = listing.field if listing.field not in ADDRESS + ("latitude", "longitude") \
            else f"location.{listing.field}"
        return None, (field, _message(listing))
    label = listing.town or listing.postcode or ""
    note = None
    if listing.postcode and listing.country:
        found = lookup_postcode(session, listing.country, listing.postcode)
        if found is not None:
            label, note = found.label, found.note
    from finder.submissions.service import place_of  # the one "approximate" rule

    place = place_of(listing)
    return PlaceCheck(
        lat=float(place["latitude"]), lng=float(place["longitude"]), label=label,
        precision=place["geocode_precision"] or "given", approximate=place["approximate"],
        timezone=place["timezone"], note=note), None


def _message(rejection: Rejection) -> str:
    reason = str(rejection.reason)
    return reason[:1].upper() + reason[1:] + "."
