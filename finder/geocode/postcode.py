"""Postcodes and ZIP codes from the gazetteer, at the finest level that is loaded.

A UK postcode we do not hold (new, or only districts loaded) falls back to its sector,
district, then area, and says so: a pin in roughly the right place, labelled as such, is
better than "not found" for someone who has typed their own postcode.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy.orm import Session

from finder.geocode import normalise
from finder.geocode.base import Geocoder, Resolved, fetch
from finder.geocode.place import nearest_place

log = logging.getLogger(__name__)

UK_TIMEZONES = {"GY": "Europe/Guernsey", "JE": "Europe/Jersey", "IM": "Europe/Isle_of_Man"}

_UK_KINDS: dict[str, normalise.UkLevel] = {
    "uk_postcode": "postcode", "uk_sector": "sector", "uk_district": "district", "uk_area": "area",
}
_LEVEL_NAMES = {
    "sector": "postcode sector", "district": "postcode district", "area": "postcode area",
}


def _rows(session: Session, country: str, codes: list[str]) -> dict[str, tuple]:
    """code -> (kind, lat, lng, place_name) for those of `codes` that are loaded.

    A caller geocoding many postcodes at once (a batch of listings) may hand in, instead of
    a plain session, one that has their rows already: its `prefetched_postcodes(country,
    codes)` answers, or says None to have them read here.
    """
    prefetched = getattr(session, "prefetched_postcodes", None)
    if prefetched is not None:
        found = prefetched(country, codes)
        if found is not None:
            return found
    result = fetch(
        session,
        "SELECT code, kind, ST_Y(point::geometry), ST_X(point::geometry), place_name "
        "FROM postcode_centroids WHERE country = %(c)s AND code = ANY(%(codes)s)",
        {"c": country, "codes": codes},
    )
    return {r[0]: tuple(r[1:]) for r in result}


def uk_timezone(code: str) -> str:
    return UK_TIMEZONES.get(normalise.area_of(code), "Europe/London")


def _level_label(kind: str, code: str) -> str:
    return f"the {code} {_LEVEL_NAMES[kind]}" if kind in _LEVEL_NAMES else code


def lookup_uk(session: Session, code: str, kind: normalise.UkLevel) -> Resolved | None:
    """A UK postcode, sector, district or area, falling back to coarser levels."""
    levels = normalise.uk_levels(code, kind)
    found = _rows(session, "GB", [c for _, c in levels])
    for level, candidate in levels:
        if candidate not in found:
            continue
        _, lat, lng, _ = found[candidate]
        log.debug("UK %s resolved at %s level", normalise.district_of(code), level)
        if level == "postcode":
            return Resolved(lat, lng, candidate, "GB", "postcode", False, uk_timezone(candidate))
        label = _level_label(level, candidate)
        if candidate == code:
            note = f"Showing groups near {label}."
        else:
            typed = "the postcode" if kind == "postcode" else f"the {_LEVEL_NAMES[kind]}"
            note = (
                f"We don't have {typed} {code} on file, so we're showing groups near {label}."
            )
        return Resolved(lat, lng, label, "GB", level, True, uk_timezone(candidate), note)
    return None


# ZIP lookups answered one by one before the whole table is read (see `_zip_timezone`)
ZIP_LOOKUPS_BEFORE_TABLE = 256


@lru_cache(maxsize=4096)
def _zip_timezone(code: str) -> str | None:
    """The zipcodes package knows each ZIP's zone, which is right even near a zone border.

    Its `matching` scans all 42,000 ZIPs (about 0.3 ms a call): nothing for a search, but
    an ingestion run placing thousands of venues by ZIP spent seconds in it. So after
    `ZIP_LOOKUPS_BEFORE_TABLE` lookups the process reads the table once (about 0.4 s) and
    answers from it (`_zip_zone_table`: the same first match `matching` gives).
    """
    _zip_calls[0] += 1
    if _zip_calls[0] > ZIP_LOOKUPS_BEFORE_TABLE:
        table = _zip_zone_table()
        if table is not None:
            return table.get(code)
    try:
        import zipcodes

        match = zipcodes.matching(code)
    except Exception:  # an unknown or odd code: fall back to the nearest town
        return None
    return (match[0].get("timezone") or None) if match else None


_zip_calls = [0]  # lookups so far in this process


@lru_cache(maxsize=1)
def _zip_zone_table() -> dict[str, str | None] | None:
    """ZIP -> zone (None when the package gives none) for every ZIP the package holds,
    read a first digit at a time (the whole list at once is 100 MB of dicts)."""
    try:
        import zipcodes

        table: dict[str, str | None] = {}
        for digit in "0123456789":
            for entry in zipcodes.similar_to(digit):
                table.setdefault(entry["zip_code"], entry.get("timezone") or None)
    except Exception:  # the package changed shape: keep asking it one ZIP at a time
        return None
    return table


def lookup_zip(session: Session, code: str) -> Resolved | None:
    found = _rows(session, "US", [code])
    if code not in found:
        return None
    _, lat, lng, place_name = found[code]
    timezone = _zip_timezone(code)
    if timezone is None:
        place = nearest_place(session, lat, lng)
        timezone = place.timezone if place else None
    label = f"{code} ({place_name})" if place_name else code
    return Resolved(lat, lng, label, "US", "zip", False, timezone)


def lookup_other(session: Session, country: str, code: str) -> Resolved | None:
    """A postcode from a loaded GeoNames dump for any other country: exact match only."""
    found = _rows(session, country, [code])
    if code not in found:
        return None
    kind, lat, lng, place_name = found[code]
    place = nearest_place(session, lat, lng)
    label = f"{code} {place_name}" if place_name else code
    return Resolved(lat, lng, label, country, "postcode", kind != "postcode",
                    place.timezone if place else None)


class PostcodeGeocoder(Geocoder):
    """UK postcodes (and their parts) and US ZIP codes typed into the search box."""

    name = "postcode"

    def resolve(self, session: Session, query: str) -> Resolved | None:
        q = normalise.classify(query)
        if q.kind == "us_zip":
            return lookup_zip(session, q.code)
        if q.kind in _UK_KINDS:
            return lookup_uk(session, q.code, _UK_KINDS[q.kind])
        return None


def lookup_postcode(session: Session, country: str, postcode: str) -> Resolved | None:
    """A publisher's postcode in its country; None when malformed or unknown."""
    parsed = normalise.postcode_for_country(country, postcode)
    if parsed is None:
        return None
    country, code = parsed
    if country == "GB":
        kind = _UK_KINDS.get(normalise.classify(code).kind)
        return lookup_uk(session, code, kind) if kind else None
    if country == "US":
        return lookup_zip(session, code)
    return lookup_other(session, country, code)
