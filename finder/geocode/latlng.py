"""Coordinates typed or sent by a browser ("51.5,-0.12"), given a country and timezone.

The point itself is exact; the nearest town supplies the country (for online groups that
serve it) and the timezone (for meeting times), unless the nearest town is too far away to
say anything about the point (the middle of an ocean).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from finder.geocode import normalise
from finder.geocode.base import Geocoder, Resolved
from finder.geocode.place import nearest_place_km

# Beyond this the nearest town says little about the point's country or zone.
NEAREST_PLACE_MAX_KM = 300.0


def _format(value: float) -> str:
    return f"{round(value, 5):g}"


class LatLngGeocoder(Geocoder):
    """ "lat,lng" in decimal degrees; raises InvalidLocation for malformed or out-of-range."""

    name = "latlng"

    def resolve(self, session: Session, query: str) -> Resolved | None:
        point = normalise.parse_latlng(query)
        if point is None:
            return None
        lat, lng = point
        country = timezone = None
        nearest = nearest_place_km(session, lat, lng)
        if nearest is not None and nearest[1] <= NEAREST_PLACE_MAX_KM:
            country, timezone = nearest[0].country, nearest[0].timezone
        return Resolved(lat, lng, f"{_format(lat)}, {_format(lng)}", country, "point", False,
                        timezone)
