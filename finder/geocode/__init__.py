"""Geocoding: what a searcher typed -> a point, a country, a timezone and how sure we are.

A registry of named geocoders tried in order (coordinates, postcodes, places, then the
optional online one); see `base` for the interface and the module per geocoder.

    resolve(session, "SW1A 1AA")            Resolved(..., precision="postcode")
    resolve(session, "LS")                  approximate, with a note for the searcher
    resolve(session, "zzzz")                raises LocationNotFound (a friendly message)
    resolve(session, "Manchster")           raises LocationNotFound, suggestion "Manchester"
    resolve(session, "91,0")                raises InvalidLocation
    lookup_postcode(session, "GB", "ls61aa")  a publisher's postcode, or None
    nearest_place(session, lat, lng)        the closest town (country, timezone)
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from finder.geocode import normalise, suggest
from finder.geocode.base import Geocoder, InvalidLocation, LocationNotFound, Resolved
from finder.geocode.latlng import LatLngGeocoder
from finder.geocode.nominatim import NominatimGeocoder
from finder.geocode.place import PlaceGeocoder, nearest_place
from finder.geocode.postcode import PostcodeGeocoder, lookup_postcode

__all__ = [
    "GEOCODERS", "Geocoder", "InvalidLocation", "LocationNotFound", "OFFLINE_ORDER",
    "Resolved", "lookup_postcode", "nearest_place", "register", "resolve",
]

log = logging.getLogger(__name__)

GEOCODERS: dict[str, Geocoder] = {}
# tried in this order; the online geocoder only when asked for (config ONLINE_GEOCODER)
OFFLINE_ORDER: list[str] = ["latlng", "postcode", "place"]
ONLINE = "nominatim"


def register(geocoder: Geocoder) -> Geocoder:
    """Add or replace a geocoder under its name (it is tried only if listed in the order)."""
    GEOCODERS[geocoder.name] = geocoder
    return geocoder


for _geocoder in (LatLngGeocoder(), PostcodeGeocoder(), PlaceGeocoder(), NominatimGeocoder()):
    register(_geocoder)


def resolve(session: Session, text: str | None, *, online: bool = False,
            user_agent: str | None = None) -> Resolved:
    """The searcher's location. Raises InvalidLocation for malformed coordinates and
    LocationNotFound, with a message to show, when nothing knows the text."""
    query = normalise.clean(text)
    if not query:
        raise LocationNotFound(
            "", "Enter a postcode, ZIP code or town to search near, or browse online groups."
        )
    for name in OFFLINE_ORDER:
        found = GEOCODERS[name].resolve(session, query)
        if found is not None:
            log.debug("location resolved by %s at %s precision", name, found.precision)
            return found
    if online:
        geocoder = GEOCODERS[ONLINE]
        if user_agent:
            geocoder = NominatimGeocoder(user_agent)
        found = geocoder.resolve(session, query)
        if found is not None:
            log.debug("location resolved online")
            return found
    log.debug("location not found (%s)", normalise.classify(query).kind)
    raise LocationNotFound(query, suggestion=suggest.similar_place(session, query))
