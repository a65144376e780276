"""The duplicate guard: is a submitted new group one we already list?

Candidates are active groups meeting within `finder.listings.match.MAX_DISTANCE_M` of the
new group's venue, and groups sharing its join link, email or phone; each is scored by the
cross-source matcher (`finder.listings.match.score`). A "match" or a "review" asks the
submitter "is this the same group?" (the API answers 409 with the candidates) rather than
listing it twice; they confirm it is a different group by naming the candidates' ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from finder.listings import match
from finder.listings.normalise import NormalisedListing
from finder.models import Group, Location

MAX_CANDIDATES = 10


@dataclass(frozen=True)
class DuplicateCandidate:
    group_id: int
    name: str
    format: str
    town: str | None
    postcode: str | None
    decision: str  # "match" (very likely the same group) or "review" (perhaps)
    reasons: tuple[str, ...]
    distance_m: float | None

    def as_dict(self) -> dict:
        return {"id": self.group_id, "name": self.name, "format": self.format,
                "town": self.town, "postcode": self.postcode, "decision": self.decision,
                "reasons": list(self.reasons),
                "distance_m": None if self.distance_m is None else round(self.distance_m),
                "links": {"self": f"/api/v1/groups/{self.group_id}",
                          "html": f"/groups/{self.group_id}"}}


def find(session: Session, listing: NormalisedListing, *,
         exclude_group_id: int | None = None) -> list[DuplicateCandidate]:
    """Active groups `listing` (geocoded) may duplicate, most likely first."""
    point = cast(Location.point, Geometry)
    near = []
    if listing.format != "virtual" and listing.latitude is not None:
        here = func.ST_SetSRID(func.ST_MakePoint(listing.longitude, listing.latitude),
                               4326)
        near.append(func.ST_DWithin(Location.point, func.Geography(here),
                                    match.MAX_DISTANCE_M))
    keys = match.join_keys(listing.join_url, listing.join_email, listing.join_phone)
    if keys:
        near.append(Group.join_keys.overlap(keys))
    if not near:
        return []
    query = (select(Group, ST_Y(point), ST_X(point))
             .outerjoin(Location, Location.id == Group.location_id)
             .where(Group.status == "active", or_(*near))
             .options(selectinload(Group.schedules), selectinload(Group.organisation),
                      selectinload(Group.location))
             .order_by(Group.id).limit(200))
    if exclude_group_id is not None:
        query = query.where(Group.id != exclude_group_id)
    mine = match.Candidate.from_listing(listing)
    found = []
    for group, lat, lng in session.execute(query).all():
        other = match.Candidate.from_group(group, lat=lat, lng=lng)
        result = match.score(mine, other)
        if result.decision == "distinct":
            continue
        location = group.location
        found.append((result.decision != "match", -result.confidence, DuplicateCandidate(
            group_id=group.id, name=group.name, format=group.format,
            town=location.town if location else None,
            postcode=location.postcode if location else None, decision=result.decision,
            reasons=result.reasons, distance_m=result.distance_m)))
    found.sort(key=lambda t: (t[0], t[1], t[2].group_id))
    return [c for *_, c in found[:MAX_CANDIDATES]]
