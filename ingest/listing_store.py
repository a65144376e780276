"""The database edges of a normalised listing: `geocode` (a missing point and zone from the
postcode gazetteer), `upsert` (one listing, for the demo and tests; runs use the batch
`ingest.writer`) and `withdraw` (what a source no longer lists). None of them commits: the
caller owns the transaction. `finder.listings.normalise` is the pure step before them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from geoalchemy2.elements import WKTElement
from sqlalchemy import Text, all_, bindparam, cast, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.sqltypes import NullType

from finder.geocode import Resolved, lookup_postcode
from finder.geocode import normalise as _postcode_module
from finder.geocode.normalise import postcode_for_country
from finder.geocode.place import PlaceGeocoder, region_name
from finder.listings.match import join_keys
from finder.listings.normalise import (
    PRECISION_RANK,
    NormalisedListing,
    NormalisedOrganisation,
    Rejection,
)
from finder.models import Group, ListingSource, Location, Organisation, Schedule
from finder.schedule_cache import refresh_upcoming
from finder.schedules import Recurrence, time_band


def geocode(session: Session, listing: NormalisedListing, *,
            cache: dict[tuple[str, str], Resolved | None] | None = None,
            ) -> NormalisedListing | Rejection:
    """Fill a missing point (and zone) from the postcode; the publisher's point always wins.

    `cache` (a dict the caller keeps for one run) remembers each postcode's answer, since
    every meeting at a venue gives the same postcode and the gazetteer does not change
    under a run.
    """
    if listing.format == "virtual":
        return listing
    if listing.latitude is not None and listing.timezone is not None:
        return listing
    if listing.postcode is None:
        # no postcode: only a town centre, where we hold no postcodes for the country
        found = _town_centre(session, listing, cache) if listing.latitude is None else None
        if found is None:
            if listing.latitude is None:
                return Rejection("postcode", None,
                                 "no coordinates and no postcode to find the venue")
            return Rejection("timezone", None,
                             "no timezone given and no postcode to find one from")
        return _located(listing, found)
    assert listing.country is not None  # normalise requires it for a venue
    key = (listing.country, listing.postcode)
    if cache is not None and key in cache:
        found = cache[key]
    else:
        found = lookup_postcode(session, listing.country, listing.postcode)
        if cache is not None:
            cache[key] = found
    if found is None:
        found = _town_centre(session, listing, cache)
    if found is None:
        if cache is not None and cache.get(("postcodes held", listing.country)) is False:
            return Rejection("postcode", listing.postcode,
                             f"cannot place {listing.postcode!r}: we hold no postcodes for "
                             f"{listing.country} and do not know the town {listing.town!r}; "
                             f"give the venue's latitude and longitude")
        return Rejection("postcode", listing.postcode,
                         f"unknown postcode {listing.postcode!r} in {listing.country}; check it "
                         f"or give the venue's latitude and longitude")
    return _located(listing, found)


def _located(listing: NormalisedListing, found: Resolved) -> NormalisedListing | Rejection:
    """`listing` with the point (when it had none) and zone (likewise) `found` gives."""
    changes: dict[str, Any] = {}
    if listing.latitude is None:
        changes.update(latitude=round(found.lat, 6), longitude=round(found.lng, 6),
                       geocode_precision=found.precision)
    if listing.timezone is None:
        if not found.timezone:
            return Rejection("timezone", None,
                             f"no timezone given and none known for {found.label!r}")
        # normalise left every schedule zone-less (see NormalisedListing), so all take this one
        changes.update(timezone=found.timezone, schedules=tuple(
            dataclasses.replace(s, timezone=found.timezone) for s in listing.schedules))
    return dataclasses.replace(listing, **changes)


def _town_centre(session: Session, listing: NormalisedListing, cache: dict | None
                 ) -> Resolved | None:
    """The town's centre (precision "place") for a venue in a country whose postcodes the
    gazetteer does not hold (Canada, say, unless a GeoNames dump was loaded): the
    publisher's postcode is not wrong, we just cannot place it. Where we hold a country's
    postcodes, an unknown one stays a rejection (a typo must not move a venue to the town
    centre)."""
    if not listing.town or listing.country is None:
        return None
    cache = {} if cache is None else cache
    held = cache.get(("postcodes held", listing.country))
    if held is None:
        held = cache[("postcodes held", listing.country)] = bool(session.execute(text(
            "SELECT EXISTS (SELECT 1 FROM postcode_centroids WHERE country = :c)"),
            {"c": listing.country}).scalar())
    if held:
        return None
    key = ("town", listing.country, listing.town)
    if key not in cache:
        query = f"{listing.town}, {region_name(listing.country, None)}"
        found = PlaceGeocoder().resolve(session, query)
        cache[key] = found if found is not None and found.country == listing.country else None
    return cache[key]


def geocode_many(session: Session, listings: Sequence[NormalisedListing], *,
                 cache: dict[tuple[str, str], Resolved | None] | None = None,
                 ) -> list[NormalisedListing | Rejection]:
    """`geocode` for each listing, with one query for all the postcodes they need looked up
    (rather than one or two each) and the answers kept in `cache` (see `geocode`)."""
    cache = {} if cache is None else cache
    wanted = {(n.country, n.postcode) for n in listings
              if n.format != "virtual" and n.postcode is not None and n.country is not None
              and (n.latitude is None or n.timezone is None)} - cache.keys()
    gazetteer = _Gazetteer.fetch(session, wanted) if wanted else session
    return [geocode(gazetteer, n, cache=cache) for n in listings]


_UK_LEVELS = {"uk_postcode": "postcode", "uk_sector": "sector", "uk_district": "district",
              "uk_area": "area"}


class _Gazetteer:
    """The session, for `lookup_postcode`, with its postcode rows fetched in advance.

    `lookup_postcode` stays the one place that decides what a postcode resolves to: this
    only answers its reads of the postcode rows (`prefetched_postcodes`) for codes fetched
    beforehand (the same rows the database would return); anything else (another code, the
    nearest town) goes to the session. A wrong guess of the codes it will ask for costs a
    query, never a different answer.
    """

    def __init__(self, session: Session, rows: dict[str, dict[str, tuple]],
                 asked: dict[str, set[str]]) -> None:
        self._session = session
        self._rows = rows
        self._asked = asked

    @classmethod
    def fetch(cls, session: Session, postcodes: Iterable[tuple[str, str]]) -> _Gazetteer:
        asked: dict[str, set[str]] = {}
        for country, postcode in postcodes:
            parsed = postcode_for_country(country, postcode)
            if parsed is None:
                continue
            country, code = parsed
            codes = [code]
            if country == "GB":
                level = _UK_LEVELS.get(_postcode_module.classify(code).kind)
                if level is None:
                    continue
                codes = [c for _, c in _postcode_module.uk_levels(code, level)]
            asked.setdefault(country, set()).update(codes)
        pairs = [(country, code) for country, codes in asked.items() for code in codes]
        rows: dict[str, dict[str, tuple]] = {country: {} for country in asked}
        if pairs:
            result = session.execute(text(
                "SELECT country, code, kind, ST_Y(point::geometry), ST_X(point::geometry),"
                " place_name FROM postcode_centroids WHERE (country, code) IN (SELECT * FROM"
                " unnest(CAST(:countries AS text[]), CAST(:codes AS text[])))"),
                {"countries": [c for c, _ in pairs], "codes": [code for _, code in pairs]})
            for country, code, *rest in result:
                rows[country][code] = tuple(rest)
        return cls(session, rows, asked)

    def prefetched_postcodes(self, country: str, codes: list[str]) -> dict[str, tuple] | None:
        """code -> (kind, lat, lng, place name) of the loaded ones among `codes`, or None
        when they were not all fetched beforehand (see `finder.geocode.postcode`)."""
        if not set(codes) <= self._asked.get(country, set()):
            return None
        rows = self._rows[country]
        return {code: rows[code] for code in codes if code in rows}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _find_organisation(session: Session, org: NormalisedOrganisation) -> Organisation:
    """One row per organisation name (case-insensitive); the newest non-empty details win."""
    row = session.scalars(
        select(Organisation).where(func.lower(Organisation.name) == org.name.lower())
    ).first()
    if row is None:
        row = Organisation(name=org.name)
        session.add(row)
    for attr in ("website", "email", "phone"):
        value = getattr(org, attr)
        if value is not None and getattr(row, attr) != value:
            setattr(row, attr, value)
    return row


def _find_location(session: Session, n: NormalisedListing) -> Location:
    """Shared by every group at the venue; a fix as good as the stored one updates it."""
    key = n.address_key
    row = session.scalars(select(Location).where(Location.address_key == key)).first()
    precision = n.geocode_precision or "place"
    if row is None:
        row = Location(address_key=key)
        session.add(row)
    elif PRECISION_RANK.get(precision, 9) > PRECISION_RANK.get(row.geocode_precision, 9):
        return row
    values = {
        "venue_name": n.venue_name, "address_line1": n.address_line1,
        "address_line2": n.address_line2, "town": n.town, "region": n.region,
        "postcode": n.postcode, "country": n.country, "timezone": n.timezone,
        "geocode_precision": precision,
    }
    for attr, value in values.items():
        if getattr(row, attr) != value:
            setattr(row, attr, value)
    point = f"POINT({n.longitude} {n.latitude})"
    if row.point is None or getattr(row.point, "data", None) != point:
        row.point = WKTElement(point, srid=4326)
    return row


def upsert(session: Session, listing: NormalisedListing, *,
           now: dt.datetime | None = None) -> str:
    """Create or update the group this (source, external_id) names.

    Returns "created", "updated" or "unchanged". An unchanged record only bumps
    `last_seen_at`. A listing that reappears in its feed after `withdraw` is active again;
    a group a moderator withdrew (its sources were never withdrawn) stays withdrawn.
    """
    if listing.timezone is None or (listing.format != "virtual" and listing.latitude is None):
        raise ValueError("geocode() the listing before upsert(): it has no point or timezone")
    now = now or dt.datetime.now(dt.UTC)
    ref = session.scalars(
        select(ListingSource).where(ListingSource.source == listing.source,
                                    ListingSource.external_id == listing.external_id)
    ).first()
    returning = ref is not None and ref.withdrawn_at is not None
    if ref is not None and ref.content_hash == listing.content_hash:
        ref.last_seen_at = now
        if returning:
            _reinstate(ref)
            return "updated"
        return "unchanged"

    # look up shared rows before adding the new group, so autoflush never sees it half-filled
    organisation = (
        _find_organisation(session, listing.organisation) if listing.organisation else None
    )
    location = None if listing.format == "virtual" else _find_location(session, listing)
    if ref is None:
        group = Group(status="active")
        session.add(group)
        ref = ListingSource(group=group, source=listing.source,
                            external_id=listing.external_id, first_seen_at=now)
        session.add(ref)
        outcome = "created"
    else:
        group = ref.group
        if returning:
            _reinstate(ref)
        outcome = "updated"

    group.organisation = organisation
    group.location = location
    for attr in ("name", "description", "format", "join_mode", "join_url", "join_phone",
                 "join_email", "join_notes", "cost", "facilitation", "accessibility_notes",
                 "timezone", "last_confirmed"):
        setattr(group, attr, getattr(listing, attr))
    for attr in ("loss_types", "audiences", "languages", "service_countries"):
        setattr(group, attr, list(getattr(listing, attr)))
    group.join_keys = join_keys(listing.join_url, listing.join_email, listing.join_phone)
    group.schedules = [_schedule_row(rec) for rec in listing.schedules]  # old rows are orphans
    ref.url = listing.url
    ref.content_hash = listing.content_hash
    ref.last_seen_at = now
    session.flush()
    refresh_upcoming(session, schedules=list(group.schedules), now=now)
    session.flush()  # so Core queries in the same transaction see the new upcoming dates
    return outcome


def _reinstate(ref: ListingSource) -> None:
    """The source lists it again: undo what `withdraw` did, and only that."""
    ref.withdrawn_at = None
    if ref.group.status == "withdrawn":
        ref.group.status = "active"


def _schedule_row(rec: Recurrence) -> Schedule:
    return Schedule(
        freq=rec.freq, interval=rec.interval, weekday=rec.weekday, set_pos=rec.set_pos,
        start_time=rec.start_time, duration_minutes=rec.duration_minutes,
        timezone=rec.timezone, valid_from=rec.valid_from, valid_until=rec.valid_until,
        cancelled_dates=sorted(rec.cancelled_dates), time_band=time_band(rec.start_time),
        upcoming=[],
    )


def withdraw(session: Session, source: str, keep_external_ids: Iterable[str], *,
             allow_empty: bool = False, now: dt.datetime | None = None) -> int:
    """Mark the source's listings that are not in `keep_external_ids` as withdrawn.

    Returns how many of this source's listings were newly withdrawn. Nothing is deleted: the
    listing keeps its history and comes back if the feed lists it again. A group is withdrawn
    only when every source that lists it has withdrawn it, so a hospital dropping a group
    does not hide the charity's listing of the same group.

    An empty keep-list is refused unless `allow_empty`: a feed that suddenly lists nothing
    is far more often broken than empty, and must not take every listing down with it.
    """
    keep = set(keep_external_ids)
    if not keep and not allow_empty:
        raise ValueError(f"refusing to withdraw every listing of {source!r} (allow_empty=False)")
    now = now or dt.datetime.now(dt.UTC)
    query = (
        select(ListingSource)
        .where(ListingSource.source == source, ListingSource.withdrawn_at.is_(None))
        .options(selectinload(ListingSource.group).selectinload(Group.sources))
    )
    if keep:
        # one array parameter: NOT IN with one parameter per id fails past 65,535 ids
        # ... sent as one array literal: adapting 100,000 strings one by one is slower still
        literal = "{" + ",".join(
            '"' + str(k).replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keep) + "}"
        # untyped, so it is planned as a constant array (a hashed <> ALL), not cast per row
        keep_ids = cast(bindparam("keep", literal, type_=NullType()), ARRAY(Text))
        query = query.where(ListingSource.external_id != all_(keep_ids))
    refs = session.scalars(query).all()
    for ref in refs:
        ref.withdrawn_at = now
    for group in {ref.group for ref in refs}:
        if group.status != "withdrawn" and all(s.withdrawn_at is not None for s in group.sources):
            group.status = "withdrawn"
    session.flush()
    return len(refs)
