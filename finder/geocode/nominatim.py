"""OpenStreetMap Nominatim through geopy, for places the local gazetteer does not know.

Off unless `ONLINE_GEOCODER` is set. The public Nominatim service asks for an identifying
user agent, at most one request a second and caching of results, so: the user agent comes
from config, every call goes through one geopy RateLimiter per process, and every answer,
a miss included, is kept in `geocode_cache` so each query is asked once. The cache key is a
hash of the folded query, so the table is not a readable list of what people searched for.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import lru_cache

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from finder.config import Config
from finder.geocode import normalise
from finder.geocode.base import Geocoder, Resolved
from finder.geocode.place import nearest_place
from finder.models import GeocodeCache
from finder.vocab import fold

log = logging.getLogger(__name__)

PROVIDER = "nominatim"
TIMEOUT_SECONDS = 5
NOTE = (
    "Found with OpenStreetMap Nominatim (© OpenStreetMap contributors); "
    "check this is the place you meant."
)


def cache_key(query: str) -> str:
    """The geocode_cache key for a query: spacing, case and punctuation do not matter."""
    return hashlib.sha256(f"{PROVIDER}:{fold(normalise.clean(query))}".encode()).hexdigest()


@lru_cache(maxsize=4)
def _client(user_agent: str) -> Callable:
    """One rate-limited geocode function per user agent, shared by every request."""
    geolocator = Nominatim(user_agent=user_agent, timeout=TIMEOUT_SECONDS)
    return RateLimiter(
        geolocator.geocode, min_delay_seconds=1.0, max_retries=0, swallow_exceptions=False
    )


def _store(session: Session, key: str, found: bool, lat: float | None = None,
           lng: float | None = None, label: str | None = None,
           country: str | None = None) -> None:
    """Commit the answer now, in its own transaction: the search request never commits."""
    bind = session.get_bind()
    values = {"k": key, "p": PROVIDER, "f": found, "lat": lat, "lng": lng,
              "label": label[:300] if label else None, "c": country}
    if isinstance(bind, Connection) and bind.connection.driver_connection.autocommit:
        # a request's own connection, in autocommit mode: the INSERT commits by itself (a
        # SAVEPOINT there is an error)
        bind.connection.driver_connection.execute(
            "INSERT INTO geocode_cache (query_key, provider, found, lat, lng, label, country)"
            " VALUES (%(k)s, %(p)s, %(f)s, %(lat)s, %(lng)s, %(label)s, %(c)s)"
            " ON CONFLICT (query_key) DO NOTHING", values)
        return
    mode = "create_savepoint" if isinstance(bind, Connection) else "conservative_savepoint"
    with Session(bind=bind, join_transaction_mode=mode) as s, s.begin():
        s.execute(
            text(
                "INSERT INTO geocode_cache (query_key, provider, found, lat, lng, label, "
                "country) VALUES (:k, :p, :f, :lat, :lng, :label, :c) "
                "ON CONFLICT (query_key) DO NOTHING"
            ),
            values,
        )


class NominatimGeocoder(Geocoder):
    """Anything else, asked of Nominatim once and then answered from the cache."""

    name = "nominatim"

    def __init__(self, user_agent: str | None = None) -> None:
        self.user_agent = user_agent or Config().GEOCODER_USER_AGENT

    def _resolved(self, session: Session, lat: float, lng: float, label: str | None,
                  country: str | None) -> Resolved:
        place = nearest_place(session, lat, lng)
        return Resolved(lat, lng, label or f"{lat:.4f}, {lng:.4f}", country, "online", True,
                        place.timezone if place else None, NOTE)

    def resolve(self, session: Session, query: str) -> Resolved | None:
        query = normalise.clean(query)
        if not query:
            return None
        key = cache_key(query)
        cached = session.get(GeocodeCache, key)
        if cached is not None:
            if not cached.found or cached.lat is None or cached.lng is None:
                return None
            return self._resolved(session, cached.lat, cached.lng, cached.label, cached.country)
        try:
            location = _client(self.user_agent)(
                query, exactly_one=True, addressdetails=True, language="en"
            )
        except GeopyError as exc:  # not cached: the next search may succeed
            log.warning("online geocoder unavailable: %s", type(exc).__name__)
            return None
        if location is None:
            _store(session, key, False)
            return None
        address = (location.raw or {}).get("address", {})
        country = (address.get("country_code") or "").upper()[:2] or None
        label = location.address
        _store(session, key, True, location.latitude, location.longitude, label, country)
        return self._resolved(session, location.latitude, location.longitude, label, country)
