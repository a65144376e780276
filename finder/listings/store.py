"""The write path for listings: every write to organisations, locations, groups, schedules
and provenance goes through here, whoever makes it (ingestion, the demo, submissions,
moderation), and each is audited (`finder.listings.audit`: who, what, `{field: [before,
after]}` in the field view of `finder.listings.fields`). None of it commits: the caller
owns the transaction. `finder.listings.normalise` is the pure step before it.

The same rules on every path: one venue rule (`venue_update`: a shared venue takes a
listing's details when its fix is at least as good as the stored one) and one "unchanged"
rule (`unchanged`: the stored content hash matches). A group an organisation manages
(`owner_organisation_id`) is not overwritten by its sources: their changes wait in
moderation (`queue_import`).

Group-level writes: `create_group`, `update_group`, `withdraw_group`, `restore_group`,
`merge_groups`, `set_owner`.

One source listing at a time: `geocode` (a missing point and zone from the postcode
gazetteer), `upsert` (`create_group` / `update_group` plus provenance; for changed
listings in a batch) and `withdraw` (what a source no longer lists).

In batches, the path every ingestion run takes (`write_listings`). Per batch it costs a
handful of statements, whatever the size:
- one query finds which (source, external id) pairs we already hold and their content hashes
  (and, only for the few whose hash changed, whether they are their group's first source);
- unchanged listings only have `last_seen_at` bumped, in one UPDATE (a run finds most of
  them before normalising: `mark_unchanged`, `stored_refs`, `mark_seen`);
- new listings are matched against groups other sources already list (`finder.listings.match`):
  a match becomes one more `ListingSource` on that group (and any disagreements become
  `ListingConflict`s for moderators); the rest are inserted with COPY (venues, groups,
  provenance, schedules with their upcoming meetings), and their audit rows are built by
  PostgreSQL from those rows in one deferred statement;
- changed listings go through `upsert` one by one (they are few in a steady feed),
  unless the listing is a second source of a merged group: then only its provenance and the
  conflicts are refreshed, so two sources never overwrite each other's fields back and forth.

A run (`start_run`) also shares, between its batches, what it needs to look up only once
(`RunContext`), so a batch costs the same at the end of a 100,000-listing run as at the start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import psycopg
from geoalchemy2.elements import WKTElement
from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import (
    Integer,
    Text,
    all_,
    any_,
    bindparam,
    cast,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.sqltypes import NullType

from finder.accounts.actor import Actor
from finder.geocode import Resolved, lookup_postcode
from finder.geocode import normalise as _postcode_module
from finder.geocode.normalise import postcode_for_country
from finder.geocode.place import PlaceGeocoder, region_name
from finder.listings import audit, fields
from finder.listings import match as dedupe
from finder.listings.fields import group_fields
from finder.listings.match import join_keys
from finder.listings.normalise import (
    HALF,
    PRECISION_RANK,
    NormalisedListing,
    NormalisedOrganisation,
    Rejection,
    same_content,
)
from finder.models import (
    Group,
    ListingConflict,
    ListingSource,
    Location,
    Organisation,
    Schedule,
    Submission,
)
from finder.schedule_cache import refresh_upcoming
from finder.schedules import (
    Recurrence,
    last_meeting_on,
    meeting_slots,
    time_band,
    upcoming_utc,
)

# ------------------------------------------------------------------------- one listing


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


# ------------------------------------------------------------------ the shared rules

DEFAULT_PRECISION = "given"  # a point with no precision came with the listing


def venue_values(n: NormalisedListing) -> dict[str, Any]:
    """The `locations` columns a listing gives its venue (the point as lat/lng)."""
    return {
        "venue_name": n.venue_name, "address_line1": n.address_line1,
        "address_line2": n.address_line2, "town": n.town, "region": n.region,
        "postcode": n.postcode, "country": n.country, "timezone": n.timezone,
        "geocode_precision": n.geocode_precision or DEFAULT_PRECISION,
        "latitude": n.latitude, "longitude": n.longitude,
    }


def fix_at_least_as_good(new_precision: str | None, stored_precision: str | None) -> bool:
    """THE venue rule, for every path: a listing's venue details replace those of a shared
    venue (same `address_key`) when its fix is at least as good as the stored one (a
    correction of a publisher's point applies; a postcode centroid never replaces a point
    the publisher gave). A precision we do not know ranks last."""
    return (PRECISION_RANK.get(new_precision or DEFAULT_PRECISION, 9)
            <= PRECISION_RANK.get(stored_precision or DEFAULT_PRECISION, 9))


def venue_update(stored: Mapping[str, Any], n: NormalisedListing) -> dict[str, Any]:
    """What `n` changes of the stored venue (as `venue_values` shapes it) under the venue
    rule: {} when its fix is coarser or nothing differs."""
    new = venue_values(n)
    if not fix_at_least_as_good(new["geocode_precision"], stored.get("geocode_precision")):
        return {}
    return {k: v for k, v in new.items() if not _same(k, stored.get(k), v)}


def _same(key: str, old: Any, new: Any) -> bool:
    if key in ("latitude", "longitude") and old is not None and new is not None:
        return round(old, 7) == round(new, 7)  # a point read back from the database
    return old == new


def unchanged(stored_hash: str, listing: NormalisedListing) -> bool:
    """THE "unchanged" rule for a source's listing, for every path: the stored provenance
    holds the same content (`normalise.same_content`: the content half of the hash, however
    the hash was stored). Group-level writes (`update_group`) are no-ops when the field
    view does not differ."""
    return same_content(stored_hash, listing.content_hash)


def _find_location(session: Session, n: NormalisedListing) -> Location:
    """Shared by every group at the venue; updated under the venue rule (`venue_update`)."""
    key = n.address_key
    row = session.scalars(select(Location).where(Location.address_key == key)).first()
    if row is None:
        row = Location(address_key=key)
        session.add(row)
        changes = venue_values(n)
    else:
        point = getattr(row.point, "data", None)
        stored = {k: getattr(row, k) for k in venue_values(n) if hasattr(Location, k)}
        stored["latitude"], stored["longitude"] = _point_coordinates(session, row, point)
        changes = venue_update(stored, n)
    if not changes:
        return row
    for attr, value in changes.items():
        if attr not in ("latitude", "longitude"):
            setattr(row, attr, value)
    if "latitude" in changes or "longitude" in changes:
        row.point = WKTElement(f"POINT({n.longitude!r} {n.latitude!r})", srid=4326)
    return row


def _point_coordinates(session: Session, row: Location, point: Any
                       ) -> tuple[float | None, float | None]:
    """(lat, lng) of a stored venue: from the WKT we just set, else from the database."""
    if isinstance(point, str) and point.startswith("POINT("):
        lng, lat = point[6:-1].split()
        return float(lat), float(lng)
    found = session.execute(
        select(ST_Y(cast(L.c.point, Geometry)), ST_X(cast(L.c.point, Geometry)))
        .where(L.c.id == row.id)).first()
    return (found[0], found[1]) if found else (None, None)


def _check_geocoded(listing: NormalisedListing) -> None:
    if listing.timezone is None or (listing.format != "virtual" and listing.latitude is None):
        raise ValueError("geocode() the listing before writing it: it has no point or timezone")


def _fill(session: Session, group: Group, listing: NormalisedListing,
          organisation: Organisation | None, location: Location | None,
          now: dt.datetime) -> None:
    """Write the listing's fields, venue, organisation and schedules onto `group`."""
    group.organisation = organisation
    group.location = location
    for attr in ("name", "description", "format", "join_mode", "join_url", "join_phone",
                 "join_email", "join_notes", "cost", "facilitation", "accessibility_notes",
                 "timezone"):
        setattr(group, attr, getattr(listing, attr))
    # a confirmation never moves back (an older date, or none, from a publisher)
    group.last_confirmed = max(filter(None, (group.last_confirmed, listing.last_confirmed)),
                               default=None)
    for attr in ("loss_types", "audiences", "languages", "service_countries"):
        setattr(group, attr, list(getattr(listing, attr)))
    group.join_keys = join_keys(listing.join_url, listing.join_email, listing.join_phone)
    group.schedules = [_schedule_row(rec) for rec in listing.schedules]  # old rows are orphans
    session.flush()
    refresh_upcoming(session, schedules=list(group.schedules), now=now)
    session.flush()  # so Core queries in the same transaction see the new upcoming dates


def _shared_rows(session: Session, listing: NormalisedListing
                 ) -> tuple[Organisation | None, Location | None]:
    # looked up before a new group is added, so autoflush never sees it half-filled
    organisation = (
        _find_organisation(session, listing.organisation) if listing.organisation else None
    )
    location = None if listing.format == "virtual" else _find_location(session, listing)
    return organisation, location


# ------------------------------------------------------------------ group-level writes


def create_group(session: Session, listing: NormalisedListing, *, actor: Actor,
                 owner_organisation_id: int | None = None,
                 now: dt.datetime | None = None) -> int:
    """A new active group from a geocoded listing (see `geocode`); its id. Only an
    ingestion actor's listing gets a provenance row (`ListingSource`): a submitted group's
    source is its owner. Audited as "create"."""
    return _create(session, listing, actor=actor, owner_organisation_id=owner_organisation_id,
                   now=now or dt.datetime.now(dt.UTC),
                   provenance=actor.kind == "ingestion").id


def _create(session: Session, listing: NormalisedListing, *, actor: Actor,
            owner_organisation_id: int | None, now: dt.datetime, provenance: bool) -> Group:
    _check_geocoded(listing)
    organisation, location = _shared_rows(session, listing)
    group = Group(status="active", owner_organisation_id=owner_organisation_id)
    session.add(group)
    if provenance:
        session.add(ListingSource(
            group=group, source=listing.source, external_id=listing.external_id,
            url=listing.url, content_hash=listing.content_hash, first_seen_at=now,
            last_seen_at=now))
    _fill(session, group, listing, organisation, location, now)
    changes = fields.created_changes(group_fields(session, group.id))
    if owner_organisation_id is not None:
        changes["owner_organisation_id"] = [None, owner_organisation_id]
    audit.record(session, actor=actor, action="create", group_id=group.id, changes=changes,
                 note=_provenance_note(listing) if provenance else None)
    return group


def _provenance_note(listing: NormalisedListing) -> str:
    return f"listed by {listing.source} as {listing.external_id}"


def _group(session: Session, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise LookupError(f"no group with id {group_id}")
    return group


def update_group(session: Session, group_id: int, listing: NormalisedListing, *,
                 actor: Actor, now: dt.datetime | None = None,
                 note: str | None = None) -> dict[str, list]:
    """Give the group the listing's fields (venue under the venue rule, organisation,
    schedules); the changes written, `{}` when its field view already matches (nothing is
    written then). Status, owner and provenance are left alone. Audited as "update"."""
    _check_geocoded(listing)
    before = group_fields(session, group_id)
    if not fields.diff(before, keep_confirmation(before, fields.listing_fields(listing))):
        if listing.organisation is not None:  # its details are not in the field view
            _find_organisation(session, listing.organisation)
            session.flush()
        return {}
    group = _group(session, group_id)
    organisation, location = _shared_rows(session, listing)
    _fill(session, group, listing, organisation, location, now or dt.datetime.now(dt.UTC))
    changes = fields.diff(before, group_fields(session, group_id))
    if changes:
        audit.record(session, actor=actor, action="update", group_id=group_id,
                     changes=changes, note=note)
    return changes


def withdraw_group(session: Session, group_id: int, *, actor: Actor,
                   reason: str | None = None) -> bool:
    """Take the group out of search (its rows stay); False when it was already withdrawn.
    Its sources cannot bring it back by listing it again: only `restore_group` does."""
    group = _group(session, group_id)
    if group.status == "withdrawn":
        return False
    before = group.status
    group.status = "withdrawn"
    session.flush()
    audit.record(session, actor=actor, action="withdraw", group_id=group_id,
                 changes={"status": [before, "withdrawn"]}, note=reason)
    return True


def restore_group(session: Session, group_id: int, *, actor: Actor) -> bool:
    """A withdrawn group active again; False when it was not withdrawn."""
    group = _group(session, group_id)
    if group.status != "withdrawn":
        return False
    group.status = "active"
    session.flush()
    audit.record(session, actor=actor, action="restore", group_id=group_id,
                 changes={"status": ["withdrawn", "active"]})
    return True


def set_owner(session: Session, group_id: int, organisation_id: int | None, *,
              actor: Actor) -> None:
    """The account organisation that manages the group (None: nobody; its sources speak
    for it). While it is set, a source's changes to the group wait in moderation (kind
    "import" submissions) instead of overwriting it. Audited as "owner"."""
    group = _group(session, group_id)
    if organisation_id is not None and session.get(Organisation, organisation_id) is None:
        raise LookupError(f"no organisation with id {organisation_id}")
    before = group.owner_organisation_id
    if before == organisation_id:
        return
    group.owner_organisation_id = organisation_id
    session.flush()
    audit.record(session, actor=actor, action="owner", group_id=group_id,
                 changes={"owner_organisation_id": [before, organisation_id]})


def merge_groups(session: Session, keep_id: int, drop_id: int, *, actor: Actor) -> None:
    """Two groups that are one: `drop_id`'s sources (and pending submissions) move to
    `keep_id`, whose fields stay; `drop_id` stays behind withdrawn, its history intact.

    The moved sources come after `keep_id`'s own, so its first source still owns its
    fields (a moved source's changes then only refresh its provenance). The dropped group's
    owner carries over to a kept group that has none; two different owners are refused
    (ValueError), as is merging a group into itself. The dropped group's recorded
    conflicts are deleted (they compared it with its own first source)."""
    if keep_id == drop_id:
        raise ValueError(f"cannot merge group {keep_id} into itself")
    keep, drop = _group(session, keep_id), _group(session, drop_id)
    if (keep.owner_organisation_id is not None and drop.owner_organisation_id is not None
            and keep.owner_organisation_id != drop.owner_organisation_id):
        raise ValueError(f"groups {keep_id} and {drop_id} are managed by different "
                         f"organisations; change one's owner first")
    session.flush()
    before_sources = _source_names(session, keep_id)
    moved = session.execute(
        LS.delete().where(LS.c.group_id == drop_id).returning(
            LS.c.id, LS.c.source, LS.c.external_id, LS.c.url, LS.c.content_hash,
            LS.c.first_seen_at, LS.c.last_seen_at, LS.c.withdrawn_at)).all()
    if moved:
        session.execute(insert(LS), [
            {"group_id": keep_id, "source": r.source, "external_id": r.external_id,
             "url": r.url, "content_hash": r.content_hash, "first_seen_at": r.first_seen_at,
             "last_seen_at": r.last_seen_at, "withdrawn_at": r.withdrawn_at}
            for r in sorted(moved, key=lambda r: r.id)])
    session.execute(LC.delete().where(LC.c.group_id == drop_id))
    session.execute(update(Submission).where(
        Submission.group_id == drop_id, Submission.state.in_(("draft", "pending")))
        .values(group_id=keep_id))
    keep_changes: dict[str, list] = {}
    after_sources = _source_names(session, keep_id)
    if after_sources != before_sources:
        keep_changes["sources"] = [before_sources, after_sources]
    if keep.owner_organisation_id is None and drop.owner_organisation_id is not None:
        keep_changes["owner_organisation_id"] = [None, drop.owner_organisation_id]
        keep.owner_organisation_id = drop.owner_organisation_id
    drop_changes: dict[str, list] = {}
    if drop.status != "withdrawn":
        drop_changes["status"] = [drop.status, "withdrawn"]
        drop.status = "withdrawn"
    session.expire(keep, ["sources"])
    session.expire(drop, ["sources"])
    session.flush()
    audit.record(session, actor=actor, action="merge", group_id=keep_id,
                 changes=keep_changes, note=f"group {drop_id} merged into this one")
    audit.record(session, actor=actor, action="merge", group_id=drop_id,
                 changes=drop_changes, note=f"merged into group {keep_id}")


def _source_names(session: Session, group_id: int) -> list[str]:
    return [f"{s}:{e}" for s, e in session.execute(
        select(LS.c.source, LS.c.external_id).where(LS.c.group_id == group_id)
        .order_by(LS.c.id)).all()]


# ------------------------------------------------------------------ claimed groups


def queue_import(session: Session, group_id: int, owner_id: int,
                 listing: NormalisedListing, actor: Actor) -> int | None:
    """A source changed its listing of a group an organisation manages: the group is not
    overwritten; the change waits for a moderator as one pending `Submission(kind="import")`
    (an older pending import of the group is superseded). Its id; None when the group's
    field view already is what the source says (nothing to decide)."""
    before = group_fields(session, group_id)
    proposed = keep_confirmation(before, fields.listing_fields(listing))
    changes = fields.diff(before, proposed)
    session.execute(update(Submission).where(  # ORM-enabled: loaded rows see it too
        Submission.group_id == group_id, Submission.kind == "import",
        Submission.state == "pending").values(state="superseded", updated_at=func.now()))
    if not changes:
        return None
    submission_id = session.execute(insert(SUB).values(
        kind="import", state="pending", organisation_id=owner_id, group_id=group_id,
        payload={"source": listing.source, "external_id": listing.external_id,
                 "fields": proposed},
        created_by=actor.as_record()).returning(SUB.c.id)).scalar_one()
    audit.record(session, actor=actor, action="import", group_id=group_id, changes=changes,
                 note=f"{listing.source} changed its listing; not applied: the group is "
                      f"managed by organisation {owner_id} (submission {submission_id} "
                      f"waits for a moderator)")
    return submission_id


# ------------------------------------------------------------------ one source listing


def _ingestion_actor(actor: Actor | None, listing: NormalisedListing) -> Actor:
    return actor if actor is not None else Actor.ingestion(listing.source)


def upsert(session: Session, listing: NormalisedListing, *, actor: Actor | None = None,
           now: dt.datetime | None = None, decisions: bool = True) -> str:
    """Create or update the group this (source, external_id) names: `create_group` /
    `update_group` plus the provenance row. `actor` defaults to an ingestion of the
    listing's source.

    Returns "created", "updated" or "unchanged". An unchanged record (`unchanged`) only
    bumps `last_seen_at`. A listing that reappears in its feed after `withdraw` is active
    again; a group a person withdrew (its sources were never withdrawn) stays withdrawn, as
    does a claimed group. A changed listing of a claimed group (`owner_organisation_id`
    set) is queued for moderation (`queue_import`) and counts as "updated" (its
    provenance is). Parts of the group moderators picked another source's values for stay
    as picked while the listing still gives the values they were picked over
    (`keep_decided`; `decisions=False`: the caller knows the group has no such picks).
    """
    _check_geocoded(listing)
    actor = _ingestion_actor(actor, listing)
    now = now or dt.datetime.now(dt.UTC)
    ref = session.scalars(
        select(ListingSource).where(ListingSource.source == listing.source,
                                    ListingSource.external_id == listing.external_id)
    ).first()
    if ref is None:
        _create(session, listing, actor=actor, owner_organisation_id=None, now=now,
                provenance=True)
        return "created"
    returning = ref.withdrawn_at is not None
    ref.last_seen_at = now
    if returning:
        _reinstate(session, ref, actor)
    if unchanged(ref.content_hash, listing):
        return "updated" if returning else "unchanged"
    group = ref.group
    # what moderators picked over this source's values stays while it still sends them
    written, kept = keep_decided(session, group.id, listing) if decisions else (listing, [])
    if group.owner_organisation_id is not None:
        queue_import(session, group.id, group.owner_organisation_id, written, actor)
    else:
        note = _provenance_note(listing)
        if kept:
            note += f"; the moderators' pick kept for: {', '.join(kept)}"
        update_group(session, group.id, written, actor=actor, now=now, note=note)
    ref.url = listing.url
    ref.content_hash = listing.content_hash
    session.flush()
    return "updated"


def _reinstate(session: Session, ref: ListingSource, actor: Actor) -> None:
    """The source lists it again: undo what `withdraw` did, and only that (the group is
    active again if its sources had withdrawn it: see `_REVIVABLE`)."""
    ref.withdrawn_at = None
    group = ref.group
    if (group.status == "withdrawn" and group.owner_organisation_id is None
            and all(s.withdrawn_at is not None for s in group.sources if s is not ref)):
        group.status = "active"
        session.flush()
        audit.record(session, actor=actor, action="restore", group_id=group.id,
                     changes={"status": ["withdrawn", "active"]},
                     note=f"{ref.source} lists it again")


def _schedule_row(rec: Recurrence) -> Schedule:
    return Schedule(
        freq=rec.freq, interval=rec.interval, weekday=rec.weekday, set_pos=rec.set_pos,
        start_time=rec.start_time, duration_minutes=rec.duration_minutes,
        timezone=rec.timezone, valid_from=rec.valid_from, valid_until=rec.valid_until,
        cancelled_dates=sorted(rec.cancelled_dates), time_band=time_band(rec.start_time),
        upcoming=[], last_meeting_on=last_meeting_on(rec),
    )


def withdraw(session: Session, source: str, keep_external_ids: Iterable[str], *,
             allow_empty: bool = False, now: dt.datetime | None = None,
             actor: Actor | None = None) -> int:
    """Mark the source's listings that are not in `keep_external_ids` as withdrawn.

    Returns how many of this source's listings were newly withdrawn. Nothing is deleted: the
    listing keeps its history and comes back if the feed lists it again. A group is withdrawn
    only when every source that lists it has withdrawn it, so a hospital dropping a group
    does not hide the charity's listing of the same group; a claimed group (one an
    organisation manages) is never withdrawn by its sources. Audited in one statement
    ("withdraw" where the group's status changed, else "source"), by `actor` (default: an
    ingestion of `source`).

    An empty keep-list is refused unless `allow_empty`: a feed that suddenly lists nothing
    is far more often broken than empty, and must not take every listing down with it.
    """
    keep = set(keep_external_ids)
    if not keep and not allow_empty:
        raise ValueError(f"refusing to withdraw every listing of {source!r} (allow_empty=False)")
    now = now or dt.datetime.now(dt.UTC)
    actor = actor if actor is not None else Actor.ingestion(source)
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
    by_group: dict[int, list[ListingSource]] = {}
    for ref in refs:
        by_group.setdefault(ref.group_id, []).append(ref)
    withdrawn_rows, source_rows = [], []
    for group_id, dropped in by_group.items():
        group = dropped[0].group
        ids = ", ".join(r.external_id for r in dropped)
        if (group.status != "withdrawn" and group.owner_organisation_id is None
                and all(s.withdrawn_at is not None for s in group.sources)):
            withdrawn_rows.append((group_id, {"status": [group.status, "withdrawn"]},
                                   f"{source} no longer lists it ({ids})"))
            group.status = "withdrawn"
        else:
            source_rows.append((group_id, {}, f"{source} no longer lists {ids}"))
    session.flush()
    audit.record_many(session, actor=actor, action="withdraw", rows=withdrawn_rows)
    audit.record_many(session, actor=actor, action="source", rows=source_rows)
    return len(refs)

# ---------------------------------------------------------------------------- batches


G, L, LS, ORG, S = (Group.__table__, Location.__table__, ListingSource.__table__,
                  Organisation.__table__, Schedule.__table__)
LC = ListingConflict.__table__
SUB = Submission.__table__

MATCH_RADIUS_M = 300  # venues further apart than this are different groups


def _array_param(name: str, item: Any = Text) -> Any:
    """One array parameter (not one per value), sent as an array literal (see `_array`):
    psycopg adapts a list of 500 values element by element, slower than the query.

    The literal goes untyped (NullType renders no "::VARCHAR"), so PostgreSQL reads it as the
    array itself and plans with its values (a hashed `<> ALL`, an index scan for `= ANY`);
    cast from a typed text value it stays an expression, compared element by element."""
    return cast(bindparam(name, type_=NullType()), ARRAY(item))


_IDS = _array_param("ids")


class RunContext:
    """What the batches of one run of one source share, so that a batch's work does not
    grow with the number of listings the run has already written.

    Online groups with the same organisation or a shared join key are candidates for
    matching; they are looked up once per organisation or key and run, not once per batch:
    that scanned every online group of the organisation (or behind one Zoom dial-in number),
    this run's own included, for every batch. Only groups no listing of this source is part
    of are candidates, so a group this run merges a listing into stops being one. (Groups
    another source's run commits while this one runs may be missed, as they would be had
    that run finished a moment later.)
    """

    KEY = "finder.listings.store.run"  # where `start_run` keeps it, in the session's `info`

    def __init__(self) -> None:
        # lower-cased organisation name or join key -> (group id, join keys, organisation)
        self.by_org: dict[str, list[Any]] = {}
        self.by_key: dict[str, list[Any]] = {}
        self.merged: set[int] = set()
        self.clean_join_keys: bool | None = None  # may we empty the index's pending list?
        # the refs the run looked up in its last two batches (None: not stored), so writing
        # them needs no query (a batch of writes can straddle two batches of reading)
        self.refs: dict[tuple[str, str], Any] = {}
        self.older_refs: dict[tuple[str, str], Any] = {}
        self.pipeline: Any = None  # statements sent whose results nobody waits for
        self.hook: Any = None


def start_run(session: Session) -> RunContext:
    """Mark `session` (one transaction) as one run of one source: the `write_listings` calls
    it makes share a `RunContext`. Their listings must then be unique by (source,
    external_id) across the calls, as a run's are. Call `end_run` when the run is done."""
    context = session.info[RunContext.KEY] = RunContext()

    def before_statement(*_: Any) -> None:
        _drain(context)

    context.hook = (session.connection(), before_statement)
    event.listen(context.hook[0], "before_cursor_execute", before_statement)
    return context


def end_run(session: Session, failed: BaseException | None = None) -> None:
    """The run's last statement: wait for the deferred ones (their errors are the run's), or,
    when the run has `failed`, leave them to the rollback."""
    context: RunContext | None = session.info.pop(RunContext.KEY, None)
    if context is None:
        return
    try:
        _drain(context, failed)
    finally:
        if context.hook is not None:
            event.remove(context.hook[0], "before_cursor_execute", context.hook[1])


def defer(session: Session, sql: str, params: Mapping[str, Any] | None = None) -> None:
    """Send `sql` (psycopg placeholders) without waiting for it: in pipeline mode PostgreSQL
    runs it on the other CPU while the run reads and normalises the next rows. It has
    finished, in order, before the session's next statement. Without a run (`start_run`)
    or pipeline support it simply runs now."""
    context: RunContext | None = session.info.get(RunContext.KEY)
    session.flush()
    driver = session.connection().connection.driver_connection
    if context is None or not psycopg.Pipeline.is_supported():
        driver.execute(sql, params)
        return
    if context.pipeline is None:
        context.pipeline = driver.pipeline()
        context.pipeline.__enter__()
    driver.execute(sql, params)


def _drain(context: RunContext | None, failed: BaseException | None = None) -> None:
    if context is not None and context.pipeline is not None:
        pipeline, context.pipeline = context.pipeline, None
        pipeline.__exit__(type(failed) if failed else None, failed,
                          failed.__traceback__ if failed else None)


def write_listings(session: Session, listings: Sequence[NormalisedListing], *,
                   now: dt.datetime | None = None, actor: Actor | None = None,
                   confirmed: dt.date | None = None) -> list[str]:
    """One outcome per listing: "created", "updated", "unchanged" or "merged".

    Listings must be geocoded (see `geocode`) and unique by (source, external_id)
    within the call (and within the run, after `start_run`). Nothing is committed: the
    caller owns the transaction. Every write is audited by `actor` (default: an ingestion of
    each listing's source); creates and merges in one statement per batch.

    `confirmed`: the caller confirms every listing it writes as of that day before it
    commits (`confirm_listed`, as a successful run does), so new groups are written with
    that `last_confirmed` (or the listing's, when later) instead of being written once and
    rewritten by the confirmation (a new version of each row and its index entries).
    """
    context: RunContext | None = session.info.get(RunContext.KEY)
    now = now or dt.datetime.now(dt.UTC)
    outcomes: list[str] = [""] * len(listings)
    known = _known_refs(session, listings, primary=True)

    unchanged_ids: list[int] = []
    new: list[int] = []
    picked = _picked_groups(session, [ref.group_id for ref in known.values()
                                      if getattr(ref, "primary", False)])
    for i, listing in enumerate(listings):
        ref = known.get((listing.source, listing.external_id))
        if ref is None:
            new.append(i)
        elif ref.withdrawn_at is None and unchanged(ref.content_hash, listing):
            unchanged_ids.append(ref.id)
            outcomes[i] = "unchanged"
        elif ref.primary:
            outcomes[i] = upsert(session, listing, now=now,
                                 actor=_ingestion_actor(actor, listing),
                                 decisions=ref.group_id in picked)
        else:
            _refresh_secondary(session, ref, listing, now, _ingestion_actor(actor, listing))
            outcomes[i] = "updated"
    _touch(session, unchanged_ids, now)

    new_listings = [listings[i] for i in new]
    matches, groups = _match_existing(session, new_listings, context)
    to_insert = []
    merges = []
    for k, i in enumerate(new):
        group_id = matches.get(k)
        if group_id is None:
            to_insert.append(i)
            continue
        if context is not None:
            context.merged.add(group_id)
        merges.append((group_id, listings[i]))
        outcomes[i] = "merged"
    _merge(session, merges, groups, now, actor)
    _insert_new(session, [listings[i] for i in to_insert], now, actor, confirmed)
    _record_reviews(session)
    for i in to_insert:
        outcomes[i] = "created"
    if context is not None and to_insert:
        _clean_join_keys_index(session, context)
    session.flush()
    return outcomes


def stored_refs(session: Session, keys: Iterable[tuple[str, str]], *,
                remember: bool = False, empty: Collection[str] = ()
                ) -> dict[tuple[str, str], Any]:
    """(source, external_id) -> the stored ref (id, source, external_id, group_id,
    content_hash, withdrawn_at), for the keys we hold; one query per source.

    With `remember` (after `start_run`), `write_listings` takes these refs as they are for
    the same keys instead of reading them again: only this run writes its source's refs,
    and each once. Sources in `empty` are known to have none: nothing is read for them."""
    keys = list(keys)
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    out: dict[tuple[str, str], Any] = {}
    for source, ids in by_source.items():
        if source in empty:
            continue
        rows = session.execute(
            select(LS.c.id, LS.c.source, LS.c.external_id, LS.c.group_id, LS.c.content_hash,
                   LS.c.withdrawn_at)
            .where(LS.c.source == source, LS.c.external_id == any_(_IDS)),
            {"ids": _array(ids)}
        ).all()
        out.update({(r.source, r.external_id): r for r in rows})
    context: RunContext | None = session.info.get(RunContext.KEY)
    if remember and context is not None:
        context.older_refs, context.refs = context.refs, {key: out.get(key) for key in keys}
    return out


_UNCHANGED_SQL = (
    "UPDATE listing_sources s SET last_seen_at = %(now)s"
    " FROM unnest(CAST(%(ids)s AS text[]), CAST(%(fps)s AS text[])) AS v(external_id, fp)"
    " WHERE s.source = %(source)s AND s.external_id = v.external_id"
    " AND s.withdrawn_at IS NULL AND substr(s.content_hash, %(start)s) = v.fp"
    " RETURNING s.external_id")


class Unchanged:
    """What `mark_unchanged` found: the keys of the listings it marked seen.

    Sent in psycopg's pipeline mode, the UPDATE runs in PostgreSQL while the caller goes on
    (reading the next rows of the feed, on the other CPU); `keys()` waits for the answer.
    Until then the session must not be used: `keys()` or `close()` first.
    """

    def __init__(self, session: Session, fingerprints: Mapping[tuple[str, str], str],
                 now: dt.datetime) -> None:
        by_source: dict[str, tuple[list[str], list[str]]] = {}
        for (source, external_id), fingerprint in fingerprints.items():
            ids, fps = by_source.setdefault(source, ([], []))
            ids.append(external_id)
            fps.append(fingerprint)
        self._keys: set[tuple[str, str]] = set()
        self._cursors: list[tuple[str, Any]] = []
        self._pipeline: Any = None
        if not by_source:
            return
        _drain(session.info.get(RunContext.KEY))
        driver = session.connection().connection.driver_connection
        params = [{"now": now, "ids": _array(ids), "fps": _array(fps), "source": source,
                   "start": HALF + 1} for source, (ids, fps) in by_source.items()]
        if not psycopg.Pipeline.is_supported():  # libpq < 14: one round trip at a time
            for p in params:
                rows = driver.execute(_UNCHANGED_SQL, p).fetchall()
                self._keys.update((p["source"], external_id) for (external_id,) in rows)
            return
        self._pipeline = driver.pipeline()
        self._pipeline.__enter__()
        try:
            for p in params:
                cursor = driver.cursor()
                cursor.execute(_UNCHANGED_SQL, p)
                self._cursors.append((p["source"], cursor))
        except BaseException as exc:
            self._finish(exc)
            raise

    def keys(self) -> set[tuple[str, str]]:
        try:
            for source, cursor in self._cursors:
                self._keys.update((source, external_id) for (external_id,) in cursor.fetchall())
        except BaseException as exc:
            self._finish(exc)
            raise
        self._cursors = []
        self._finish(None)
        return self._keys

    def close(self, exc: BaseException | None = None) -> None:
        """Leave pipeline mode, results unread (the run is failing: it rolls back)."""
        self._cursors = []
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(type(exc) if exc else None, exc,
                              exc.__traceback__ if exc else None)


def mark_unchanged(session: Session, fingerprints: Mapping[tuple[str, str], str], *,
                   now: dt.datetime) -> Unchanged:
    """(source, external_id) -> record fingerprint (`normalize.record_hash`): bumps
    `last_seen_at` of the listings stored from an identical record (and not withdrawn), in
    one UPDATE per source; `.keys()` of the result are theirs. Nothing else is written or
    committed."""
    return Unchanged(session, fingerprints, now)


def mark_seen(session: Session, ref_ids: Sequence[int], *, now: dt.datetime,
              hashes: Sequence[tuple[int, str]] = ()) -> None:
    """Unchanged listings: `last_seen_at` bumped, in one UPDATE; `hashes` (ref id, content
    hash) replaces the stored hash of listings whose content is the same (another UPDATE).
    Nothing is rewritten and nothing is committed."""
    _touch(session, list(ref_ids), now)
    if hashes:
        session.execute(text(
            "UPDATE listing_sources SET content_hash = v.hash FROM unnest(CAST(:ids AS int[]),"
            " CAST(:hashes AS text[])) AS v(id, hash) WHERE listing_sources.id = v.id"),
            {"ids": _array(i for i, _ in hashes), "hashes": _array(h for _, h in hashes)})


def _touch(session: Session, ref_ids: list[int], now: dt.datetime) -> None:
    if ref_ids:
        session.execute(update(LS).where(LS.c.id == any_(_array_param("ref_ids", Integer)))
                        .values(last_seen_at=now), {"ref_ids": _array(ref_ids)})


# ----------------------------------------------------------------------------- what we hold


def _known_refs(session: Session, listings: Sequence[NormalisedListing], *,
                primary: bool = False) -> dict[tuple[str, str], Any]:
    """(source, external_id) -> the ref; with `primary`, each ref whose content differs
    from its listing's (or that is withdrawn) also says whether it owns the group's fields
    (`primary`: the group's first source; later sources of a merged group are secondary)
    and which organisation manages the group (`owner`, or None).

    Primary-ness is looked up only for those few refs: a correlated min(id) per row made
    this query cost more than the rest of a batch."""
    keys = [(n.source, n.external_id) for n in listings]
    context: RunContext | None = session.info.get(RunContext.KEY)
    if context is not None and all(
            key in context.refs or key in context.older_refs for key in keys):
        found = [context.refs.pop(key) if key in context.refs else context.older_refs.pop(key)
                 for key in keys]
        out = {key: ref for key, ref in zip(keys, found, strict=True) if ref is not None}
    else:
        out = stored_refs(session, keys)
    if not primary or not out:
        return out
    hashes = {(n.source, n.external_id): n.content_hash for n in listings}
    changed = {key: r for key, r in out.items()
               if not same_content(r.content_hash, hashes[key]) or r.withdrawn_at is not None}
    first = {group_id: (ref_id, owner) for group_id, ref_id, owner in session.execute(
        select(LS.c.group_id, func.min(LS.c.id), G.c.owner_organisation_id)
        .join(G, G.c.id == LS.c.group_id)
        .where(LS.c.group_id.in_(sorted({r.group_id for r in changed.values()})))
        .group_by(LS.c.group_id, G.c.owner_organisation_id)
    ).all()} if changed else {}
    for key, r in changed.items():
        ref_id, owner = first.get(r.group_id, (None, None))
        out[key] = SimpleNamespace(**r._asdict(), primary=ref_id == r.id, owner=owner)
    return out


def _refresh_secondary(session: Session, ref, listing: NormalisedListing,
                       now: dt.datetime, actor: Actor) -> None:
    """A second source changed its copy of a merged group: keep its provenance and the
    disagreements current, but leave the group's fields to its first source. A group
    withdrawn by its sources is active again (`_REVIVABLE`)."""
    revived = session.execute(update(G).where(G.c.id == ref.group_id, _REVIVABLE)
                              .values(status="active").returning(G.c.id)).all()
    session.execute(update(LS).where(LS.c.id == ref.id).values(
        content_hash=listing.content_hash, url=listing.url, last_seen_at=now, withdrawn_at=None))
    session.execute(LC.delete().where(LC.c.group_id == ref.group_id,
                                      LC.c.source_b == listing.source))
    _record_conflicts(session, ref.group_id, listing)
    audit.record(session, actor=actor, action="restore" if revived else "source",
                 group_id=ref.group_id,
                 changes={"status": ["withdrawn", "active"]} if revived else {},
                 note=f"{listing.source} changed its listing {listing.external_id} (a second "
                      f"source: the group keeps its first source's fields)")


def _by_actor(actor: Actor | None, rows: Iterable[tuple[NormalisedListing, Any]]
              ) -> list[tuple[Actor, list[Any]]]:
    """Audit rows grouped by who writes them: `actor`, else each listing's source."""
    if actor is not None:
        return [(actor, [row for _, row in rows])]
    by_source: dict[str, list[Any]] = {}
    for n, row in rows:
        by_source.setdefault(n.source, []).append(row)
    return [(Actor.ingestion(source), found) for source, found in by_source.items()]


# a withdrawn group that a source may bring back: one its sources withdrew (all of them
# had: none still lists it), and that nobody manages (a claimed group's status is its
# organisation's to change); a group a person withdrew while a source listed it stays
# withdrawn until `restore_group`
_REVIVABLE = ((G.c.status == "withdrawn") & G.c.owner_organisation_id.is_(None)
              & ~select(LS.c.id).where(LS.c.group_id == G.c.id, LS.c.withdrawn_at.is_(None))
              .exists())


# ----------------------------------------------------------------------------- matching


def _match_existing(session: Session, listings: list[NormalisedListing],
                    context: RunContext | None = None,
                    ) -> tuple[dict[int, int], dict[int, SimpleNamespace]]:
    """Index in `listings` -> id of a group another source already lists as the same group,
    and the candidate groups as `_stored_groups` read them."""
    if not listings:
        return {}, {}
    source = listings[0].source
    candidates: dict[int, list[int]] = {}
    # meetings at one venue share its point: look each point up once
    points: dict[tuple[float, float], list[int]] = {}
    for i, n in enumerate(listings):
        if n.latitude is not None:
            points.setdefault((n.longitude, n.latitude), []).append(i)
    if points:
        coords = list(points)
        # per point (LATERAL): venues nearby, their groups, those of other sources. As one
        # join the planner overestimated the venues found and, past some 50,000 groups,
        # hashed every group and provenance row of the database for each batch instead
        rows = session.execute(text("""
            SELECT v.i, c.id
            FROM unnest(CAST(:idx AS int[]), CAST(:lng AS float8[]), CAST(:lat AS float8[]))
                 AS v(i, lng, lat)
            CROSS JOIN LATERAL (
              SELECT g.id FROM locations l JOIN groups g ON g.location_id = l.id
              WHERE ST_DWithin(l.point,
                               ST_SetSRID(ST_MakePoint(v.lng, v.lat), 4326)::geography, :radius)
                AND NOT EXISTS (SELECT 1 FROM listing_sources s
                                WHERE s.group_id = g.id AND s.source = :source)) c
        """), {"idx": _array(range(len(coords))), "lng": _array(repr(x) for x, _ in coords),
               "lat": _array(repr(y) for _, y in coords), "radius": MATCH_RADIUS_M,
               "source": source}).all()
        for p, group_id in rows:
            for i in points[coords[p]]:
                candidates.setdefault(i, []).append(group_id)
    online = [(i, n) for i, n in enumerate(listings) if n.format != "in_person"]
    if online:
        keys = {i: set(dedupe.join_keys(n.join_url, n.join_email, n.join_phone))
                for i, n in online}
        orgs = {n.organisation.name.lower() for _, n in online if n.organisation}
        if context is None:
            rows = session.execute(_online_candidates(source).where(
                G.c.join_keys.overlap(list(set().union(*keys.values())))
                | func.lower(ORG.c.name).in_(orgs))).all()
        else:
            rows = _online_rows(session, source, set().union(*keys.values()), orgs, context)
        by_key: dict[str, list[int]] = {}
        by_org: dict[str, list[int]] = {}
        for r, (_, group_keys, group_org) in enumerate(rows):
            for key in group_keys:
                by_key.setdefault(key, []).append(r)
            by_org.setdefault(group_org, []).append(r)
        for i, n in online:
            org = n.organisation.name.lower() if n.organisation else None
            hits = {r for key in keys[i] for r in by_key.get(key, ())}
            if org:
                hits.update(by_org.get(org, ()))
            for r in sorted(hits):  # in the rows' order, as a scan of them would find them
                candidates.setdefault(i, []).append(rows[r][0])
    if not candidates:
        return {}, {}
    groups = _stored_groups(session, {g for ids in candidates.values() for g in ids})
    stored = {gid: dedupe.Candidate.from_group(g, lat=g.lat, lng=g.lng)
              for gid, g in groups.items()}
    matches = {}
    for i, group_ids in candidates.items():
        n = listings[i]
        mine = dedupe.Candidate.from_listing(n)
        found = dedupe.find_match(mine, [(g, stored[g]) for g in dict.fromkeys(group_ids)])
        if found is not None:
            matches[i] = found[0]
        else:
            _note_reviews(session, n, mine, [(g, stored[g]) for g in dict.fromkeys(group_ids)])
    return matches, groups


def _online_candidates(source: str) -> Any:
    """Online groups no listing of `source` is part of, with their join keys and organiser."""
    return (select(G.c.id, G.c.join_keys, func.lower(ORG.c.name))
            .select_from(G.outerjoin(ORG, ORG.c.id == G.c.organisation_id))
            .where(G.c.format != "in_person",
                   ~select(LS.c.id).where(LS.c.group_id == G.c.id, LS.c.source == source)
                   .exists()))


def _online_rows(session: Session, source: str, keys: set[str], orgs: set[str],
                 context: RunContext) -> list[Any]:
    """The rows `_online_candidates` gives for these join keys or organisations, with the
    organisations' candidates looked up once per run (see `RunContext`)."""
    new_keys = keys - context.by_key.keys()
    if new_keys:
        for key in new_keys:
            context.by_key[key] = []
        for row in session.execute(_online_candidates(source).where(
                G.c.join_keys.overlap(sorted(new_keys)))):
            for key in new_keys.intersection(row[1]):
                context.by_key[key].append(row)
    new_orgs = orgs - context.by_org.keys()
    if new_orgs:
        for org in new_orgs:
            context.by_org[org] = []
        for row in session.execute(_online_candidates(source).where(
                func.lower(ORG.c.name).in_(sorted(new_orgs)))):
            context.by_org.setdefault(row[2], []).append(row)
    found: dict[int, Any] = {}
    for rows in [*(context.by_key[k] for k in keys), *(context.by_org[o] for o in orgs)]:
        for row in rows:
            found.setdefault(row[0], row)
    return [found[gid] for gid in sorted(found) if gid not in context.merged]


JOIN_KEYS_INDEX = "ix_groups_join_keys"  # the GIN index on groups.join_keys (finder.models)


def _clean_join_keys_index(session: Session, context: RunContext) -> None:
    """Move the join-key index's pending entries into the index proper, after each batch of
    new groups (deferred: it runs while the next rows are read).

    GIN indexes collect new entries in a pending list (up to 4 MB) that every search reads
    from end to end; the groups a large run writes (and rewrites: a trigger sets their next
    meeting) would make each batch's join-key lookup read megabytes. Emptying it as we go
    costs the merge that would happen anyway. Only the index's owner may do it: otherwise
    searches simply stay slower.
    """
    if context.clean_join_keys is None:
        context.clean_join_keys = bool(session.scalar(text(
            "SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_class c "
            "WHERE c.oid = to_regclass(:index)"), {"index": JOIN_KEYS_INDEX}))
    if context.clean_join_keys:
        defer(session, "SELECT gin_clean_pending_list(CAST(%(index)s AS regclass))",
              {"index": JOIN_KEYS_INDEX})


def _stored_groups(session: Session, group_ids: set[int]) -> dict[int, SimpleNamespace]:
    """Groups as plain records shaped like listings, for dedupe's comparisons."""
    geom = cast(L.c.point, Geometry)
    rows = session.execute(
        select(G, ORG.c.name.label("org_name"), L.c.postcode, L.c.address_line1, L.c.town,
               ST_Y(geom).label("lat"), ST_X(geom).label("lng"))
        .select_from(G.outerjoin(ORG, ORG.c.id == G.c.organisation_id)
                     .outerjoin(L, L.c.id == G.c.location_id))
        .where(G.c.id.in_(group_ids))
    ).all()
    schedules: dict[int, list] = {}
    for s in session.execute(select(S).where(S.c.group_id.in_(group_ids))).all():
        schedules.setdefault(s.group_id, []).append(s)
    return {
        r.id: SimpleNamespace(
            name=r.name, format=r.format, loss_types=r.loss_types, join_mode=r.join_mode,
            join_url=r.join_url,
            join_email=r.join_email, join_phone=r.join_phone, timezone=r.timezone,
            organisation=SimpleNamespace(name=r.org_name) if r.org_name else None,
            location=SimpleNamespace(postcode=r.postcode), postcode=r.postcode,
            address_line1=r.address_line1, town=r.town, venue_name=None,
            schedules=schedules.get(r.id, []), lat=r.lat, lng=r.lng,
        )
        for r in rows
    }


def _merge(session: Session, merges: list[tuple[int, NormalisedListing]],
           groups: dict[int, SimpleNamespace], now: dt.datetime,
           actor: Actor | None = None) -> None:
    """Each (group id, listing): the listing becomes one more source of the group, which is
    active again if it was withdrawn, and its disagreements with the group's first source
    are recorded; in a few statements for the batch, not six per listing. A merge changes
    none of what `dedupe.conflicts` compares, so the groups read for matching serve."""
    if not merges:
        return
    group_ids = sorted({group_id for group_id, _ in merges})
    revived = set(session.execute(  # before the new refs exist (see `_REVIVABLE`)
        update(G).where(G.c.id == any_(_array_param("group_ids", Integer)), _REVIVABLE)
        .values(status="active").returning(G.c.id), {"group_ids": _array(group_ids)}
    ).scalars())
    session.execute(insert(LS), [
        {"group_id": group_id, "source": n.source, "external_id": n.external_id, "url": n.url,
         "content_hash": n.content_hash, "first_seen_at": now, "last_seen_at": now}
        for group_id, n in merges])
    rows = []
    for group_id, n in merges:
        change = {"status": ["withdrawn", "active"]} if group_id in revived else {}
        revived.discard(group_id)  # its status changes once, with its first merge
        rows.append((n, (group_id, change, f"also {_provenance_note(n)}")))
    for who, actor_rows in _by_actor(actor, rows):
        audit.record_many(session, actor=who, action="merge", rows=actor_rows)
    first_sources = dict(session.execute(text(
        "SELECT DISTINCT ON (group_id) group_id, source FROM listing_sources"
        " WHERE group_id = ANY(CAST(:ids AS int[])) ORDER BY group_id, id"),
        {"ids": _array(group_ids)}).all())
    for group_id, n in merges:
        _insert_conflicts(session, group_id, first_sources[group_id], n,
                          dedupe.conflicts(groups[group_id], n))


def _record_conflicts(session: Session, group_id: int, listing: NormalisedListing) -> None:
    """Moderators see where this source disagrees with the group's first source."""
    group = _stored_groups(session, {group_id})[group_id]
    first_source = session.execute(
        select(LS.c.source).where(LS.c.group_id == group_id).order_by(LS.c.id).limit(1)
    ).scalar_one()
    _insert_conflicts(session, group_id, first_source, listing,
                      dedupe.conflicts(group, listing))


def _insert_conflicts(session: Session, group_id: int, first_source: str,
                      listing: NormalisedListing, found: list[dedupe.Conflict]) -> None:
    if not found:
        return
    view = fields.listing_fields(listing)
    session.execute(
        pg_insert(LC).values([
            {"group_id": group_id, "field": c.field, "source_a": first_source,
             "value_a": c.a_value, "source_b": listing.source, "value_b": c.b_value,
             "fields_b": part_values(view, c.field)}
            for c in found
        ]).on_conflict_do_update(
            constraint="uq_listing_conflicts_pair",
            set_={"value_a": text("excluded.value_a"), "value_b": text("excluded.value_b"),
                  "fields_b": text("excluded.fields_b"), "resolved_at": None},
        )
    )
    resolve_decided_conflicts(session, group_id)


# ----------------------------------------------------------------------------- bulk insert


def _insert_new(session: Session, listings: list[NormalisedListing], now: dt.datetime,
                actor: Actor | None = None, confirmed: dt.date | None = None) -> None:
    """Venues, groups, their provenance, schedules and audit rows of new listings, ids drawn
    from the sequences first, each table in one INSERT sent without waiting (`_insert_later`):
    PostgreSQL writes a batch while the run reads and normalises the next one.

    The rows are the ones a row-by-row INSERT would write: every column is given, or has a
    server-side default. The columns the schedules' triggers keep (`next_meeting_at`,
    `meeting_slots`, `first_meetings`, `meets_until`) are written here, and the triggers told so
    (`_NEXT_MEETING_KNOWN`); `confirmed`: see `write_listings`.
    """
    if not listings:
        return
    org_ids = _organisation_ids(session, listings)
    keys = [n.address_key if n.format != "virtual" else None for n in listings]
    location_ids = _location_ids(session, [(k, n) for k, n in zip(keys, listings, strict=True)
                                           if k is not None])
    group_ids = _next_ids(session, G, len(listings))
    _insert_later(session, G, (
        "id", "name", "description", "format", "status", "join_mode", "join_url", "join_phone",
        "join_email", "join_notes", "loss_types", "audiences", "languages", "cost",
        "facilitation", "accessibility_notes", "organisation_id", "location_id", "timezone",
        "service_countries", "join_keys", "last_confirmed", "next_meeting_at", "meeting_slots",
        "first_meetings", "meets_until",
    ), [
        (gid, n.name, n.description, n.format, "active", n.join_mode, n.join_url, n.join_phone,
         n.join_email, n.join_notes, _array(n.loss_types), _array(n.audiences),
         _array(n.languages), n.cost, n.facilitation, n.accessibility_notes,
         org_ids.get(n.organisation.name.lower()) if n.organisation else None,
         location_ids.get(key) if key is not None else None, n.timezone,
         _array(n.service_countries),
         _array(dedupe.join_keys(n.join_url, n.join_email, n.join_phone)),
         _confirmed(n.last_confirmed, confirmed), _next_meeting(n.schedules, now),
         _array(meeting_slots(n.schedules)), _first_meetings(n.schedules, now),
         _meets_until(n.schedules))
        for gid, n, key in zip(group_ids, listings, keys, strict=True)
    ])
    _insert_later(session, LS, ("group_id", "source", "external_id", "url", "content_hash",
                                "first_seen_at", "last_seen_at"), [
        (gid, n.source, n.external_id, n.url, n.content_hash, now, now)
        for gid, n in zip(group_ids, listings, strict=True)
    ])
    rows = [(gid, r, _array(sorted(r.cancelled_dates)), time_band(r.start_time),
             _upcoming(r, now), _last_meeting(r))
            for gid, n in zip(group_ids, listings, strict=True) for r in n.schedules]
    if rows:
        # the flag is on for the INSERT alone (its rows are built first: nothing can fail
        # between the three statements)
        defer(session, _NEXT_MEETING_KNOWN.format("on"))
        _insert_later(session, S, (
            "group_id", "freq", "interval", "weekday", "set_pos", "start_time",
            "duration_minutes", "timezone", "valid_from", "valid_until", "cancelled_dates",
            "time_band", "upcoming", "last_meeting_on",
        ), [(gid, r.freq, r.interval, r.weekday, r.set_pos, r.start_time, r.duration_minutes,
             r.timezone, r.valid_from, r.valid_until, cancelled, band, upcoming, last)
            for gid, r, cancelled, band, upcoming, last in rows])
        defer(session, _NEXT_MEETING_KNOWN.format("off"))
    # the audit rows, built by PostgreSQL from what was just written (also deferred)
    for who, ids in _by_actor(actor, zip(listings, group_ids, strict=True)):
        defer(session, audit.CREATED_SQL, audit.created_params(actor=who,
                                                               group_ids=_array(ids)))


# the groups were written with their next meeting (`_next_meeting`), meeting slots and
# `meets_until` (`_meets_until`): the schedules' triggers need not look them up again
# (migrations 0006, 0007, 0015); for this one statement only
_NEXT_MEETING_KNOWN = "SET LOCAL groupfinder.next_meeting_known = '{}'"


def _insert_later(session: Session, table: Any, columns: Sequence[str],
                  rows: Sequence[Sequence[Any]]) -> None:
    """INSERT `rows` (values in `columns` order) into `table`, sent without waiting
    (`defer`): in a run, PostgreSQL writes them while the run reads on, and any error is the
    run's (the next statement, or `end_run`, raises it).

    One array literal per column (`_array`): the statement is the same few parameters
    whatever the batch, unlike a multi-row VALUES (one parameter per value), and unlike
    COPY it can be pipelined. Each value is cast from its text to the column's type (an
    array column's value is itself an array literal), so a value too long for its column
    fails as it would in any INSERT."""
    if not rows:
        return
    defer(session, _insert_sql(table, tuple(columns)),
          {f"c{i}": _array(list(values)) for i, values in enumerate(zip(*rows, strict=True))})


@functools.lru_cache(maxsize=16)
def _insert_sql(table: Any, columns: tuple[str, ...]) -> str:
    types = [re.sub(r"\([^)]*\)", "", table.c[c].type.compile(dialect=_PG_DIALECT))
             for c in columns]  # without a length: see `_insert_later`
    # an array of a scalar type is read as such; an array column's values are array
    # literals, read from text one by one (unnest would flatten an array of arrays), and
    # so are PostGIS values (their array literals are not comma-separated)
    as_text = [t.endswith("[]") or t.lower().startswith(("geography", "geometry"))
               for t in types]
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(f"CAST(c{i} AS {t})" if text_ else f"c{i}"
                       for i, (t, text_) in enumerate(zip(types, as_text, strict=True)))
    arrays = ", ".join(f"CAST(%(c{i})s AS {'text' if text_ else t}[])"
                       for i, (t, text_) in enumerate(zip(types, as_text, strict=True)))
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    return (f'INSERT INTO "{table.name}" ({names}) SELECT {values}'
            f" FROM unnest({arrays}) AS v({aliases})")


_PG_DIALECT = postgresql.dialect()


def _next_ids(session: Session, table: Any, count: int) -> list[int]:
    """`count` ids from the table's id sequence, in increasing order (as an INSERT of the
    rows in this order would have drawn them)."""
    return list(session.execute(text(
        "SELECT nextval(q.seq) FROM (SELECT pg_get_serial_sequence(:table, 'id')::regclass"
        " AS seq) q, generate_series(1, :count) ORDER BY 1"),
        {"table": table.name, "count": count}).scalars())


def _array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal (every element quoted, None as NULL), cheaper than
    adapting a list. A list of text only (most columns of a batch) is quoted in one pass
    over the joined text rather than element by element."""
    if type(values) is tuple:
        return _tuple_array(values)
    values = values if type(values) is list else list(values)
    try:
        joined = "\x00".join(values)  # text cannot hold NUL: PostgreSQL refuses it
    except TypeError:  # None, numbers, dates: element by element below
        joined = None
    if joined is not None and values and joined.count("\x00") == len(values) - 1:
        return ('{"' + joined.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", '","')
                + '"}')
    return "{" + ",".join([
        "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values]) + "}"


@functools.lru_cache(maxsize=4096)
def _tuple_array(values: tuple[Any, ...]) -> str:
    """Listings repeat the same few tuples of codes (loss types, languages, countries)."""
    return _array(list(values))


def _upcoming(rec: Recurrence, now: dt.datetime) -> str:
    """`upcoming_utc` as an array literal."""
    return _upcoming_and_next(rec, now)[0]


def _confirmed(given: dt.date | None, confirmed: dt.date | None) -> dt.date | None:
    """A new group's `last_confirmed`: the listing's, or the caller's confirmation when
    later (what `confirm_listed` would leave; a confirmation never moves back)."""
    if confirmed is None or (given is not None and given >= confirmed):
        return given
    return confirmed


def _meets_until(recs: Sequence[Recurrence]) -> dt.date | None:
    """`groups.meets_until` for a new group, by the schedules trigger's rule (migrations
    0012, 0014): when every schedule has an end date, the latest of their last meetings
    (`last_meeting_on`, else the end date), else None."""
    if not recs or any(r.valid_until is None for r in recs):
        return None
    return max(_last_meeting(r) or r.valid_until for r in recs)  # type: ignore[type-var]


def _next_meeting(recs: Iterable[Recurrence], now: dt.datetime) -> dt.datetime | None:
    """`groups.next_meeting_at` for a new group, as the schedules' trigger would set it (from
    `now`, the run's start, rather than its transaction's: a meeting in the seconds between
    is the hourly `schedules refresh --passed`'s to move on). Written with the group, so the
    trigger can be told to leave new groups alone (`_NEXT_MEETING_KNOWN`)."""
    return min((n for n in (_upcoming_and_next(r, now)[1] for r in recs) if n is not None),
               default=None)


def _first_meetings(recs: list[Recurrence], now: dt.datetime) -> str:
    """`groups.first_meetings` for a new group, as the schedules' trigger would set it: each
    schedule's first cached meeting (NULL when it has none), in the schedules' order."""
    return _array([_upcoming_and_next(r, now)[1] for r in recs])


def _upcoming_and_next(rec: Recurrence, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    """`upcoming_utc` as an array literal and its first meeting, once per distinct schedule:
    a feed's thousands of "Tuesdays at 7pm in Europe/London" share one answer, whatever
    their length (a meeting's start times do not depend on its duration)."""
    key = (rec.freq, rec.interval, rec.weekday, rec.set_pos, rec.start_time, rec.timezone,
           rec.valid_from, rec.valid_until, rec.cancelled_dates, now)
    found = _UPCOMING.get(key)
    if found is None:
        starts = upcoming_utc(rec, now)
        found = (_array([when.isoformat() for when in starts]), starts[0] if starts else None)
        if len(_UPCOMING) >= 16384:
            _UPCOMING.clear()
        _UPCOMING[key] = found
    return found


_UPCOMING: dict[tuple, tuple[str, dt.datetime | None]] = {}  # see `_upcoming_and_next`


@functools.lru_cache(maxsize=16384)
def _last_meeting(rec: Recurrence) -> dt.date | None:
    """`last_meeting_on`, once per distinct schedule (most are open-ended: None at once)."""
    return last_meeting_on(rec)


def _organisation_ids(session: Session, listings: list[NormalisedListing]) -> dict[str, int]:
    """Lower-cased name -> id, creating the organisations not seen before."""
    wanted = {n.organisation.name.lower(): n.organisation for n in listings if n.organisation}
    if not wanted:
        return {}
    rows = session.execute(
        select(ORG.c.id, func.lower(ORG.c.name)).where(func.lower(ORG.c.name).in_(wanted))
    ).all()
    ids = {name: oid for oid, name in rows}
    missing = [org for key, org in wanted.items() if key not in ids]
    if missing:
        created = session.execute(
            pg_insert(ORG).on_conflict_do_nothing().returning(ORG.c.id, ORG.c.name),
            [{"name": o.name, "website": o.website, "email": o.email, "phone": o.phone}
             for o in missing],
        ).all()
        ids.update({name.lower(): oid for oid, name in created})
    return ids


def _location_ids(session: Session,
                  listings: list[tuple[str, NormalisedListing]]) -> dict[str, int]:
    """Address key -> id for (address key, listing) pairs, under the one venue rule
    (`venue_update`, as `upsert` applies it one listing at a time): a venue we hold takes
    the details of the batch's best fix if that is at least as good as its own; new venues
    are copied in."""
    wanted: dict[str, NormalisedListing] = {}
    for key, n in listings:  # as one listing after another would leave the venue
        current = wanted.get(key)
        if current is None or fix_at_least_as_good(n.geocode_precision,
                                                   current.geocode_precision):
            wanted[key] = n
    if not wanted:
        return {}
    geom = cast(L.c.point, Geometry)
    rows = session.execute(
        select(L.c.id, L.c.address_key, *(L.c[k] for k in _VENUE_COLUMNS),
               ST_Y(geom).label("latitude"), ST_X(geom).label("longitude"))
        .where(L.c.address_key == any_(_array_param("keys"))),
        {"keys": _array(wanted)}
    ).all()
    ids = {row.address_key: row.id for row in rows}
    changed = [(row.id, wanted[row.address_key]) for row in rows
               if venue_update(row._mapping, wanted[row.address_key])]
    if changed:
        session.execute(text(_VENUE_UPDATE_SQL), [
            {"id": lid, **venue_values(n)} for lid, n in changed])
    missing = [(key, n) for key, n in wanted.items() if key not in ids]
    if missing:
        new_ids = _next_ids(session, L, len(missing))
        _insert_later(session, L, ("id", *_VENUE_COLUMNS, "point", "address_key"), [
            (lid, *map(venue_values(n).__getitem__, _VENUE_COLUMNS),
             f"SRID=4326;POINT({n.longitude!r} {n.latitude!r})", key)
            for lid, (key, n) in zip(new_ids, missing, strict=True)
        ])
        ids.update({key: lid for lid, (key, _) in zip(new_ids, missing, strict=True)})
    return ids


_VENUE_COLUMNS = ("venue_name", "address_line1", "address_line2", "town", "region",
                  "postcode", "country", "timezone", "geocode_precision")
_VENUE_UPDATE_SQL = (
    "UPDATE locations SET "
    + ", ".join(f"{c} = :{c}" for c in _VENUE_COLUMNS)
    + ", point = CAST(ST_SetSRID(ST_MakePoint(:longitude, :latitude), 4326) AS geography)"
    " WHERE id = :id")


# ------------------------------------------------------------------ freshness (issue 7)


def confirm_group(session: Session, group_id: int, *, actor: Actor,
                  today: dt.date | None = None, edit: bool = False) -> bool:
    """Someone who may speak for the group says it still runs: `last_confirmed` becomes
    today, and a listing paused for want of confirmation (or, by a moderator's explicit
    confirmation, any paused listing) is active again. Audited as "confirm"; False when the
    group is withdrawn.

    `edit`: the confirmation is an organisation's published edit (or a moderator's approval
    of one): it resumes only a listing paused for want of confirmation (approving a change
    does not undo a moderator's pause), and is audited only when it changes something."""
    from finder.freshness.rules import PAUSED_UNCONFIRMED

    group = _group(session, group_id)
    if group.status == "withdrawn":
        return False
    today = today or dt.date.today()
    changes: dict[str, list] = {}
    if group.last_confirmed is None or group.last_confirmed < today:
        changes["last_confirmed"] = [_iso(group.last_confirmed), today.isoformat()]
        group.last_confirmed = today
    if group.status == "paused" and (group.pause_reason == PAUSED_UNCONFIRMED
                                     or (actor.is_moderator and not edit)):
        changes["status"] = ["paused", "active"]
        group.status, group.pause_reason = "active", None
    session.flush()
    if changes or not edit:
        audit.record(session, actor=actor, action="confirm", group_id=group_id,
                     changes=changes, note="confirmed by its edit" if edit else None)
    return True


def pause_group(session: Session, group_id: int, *, actor: Actor, reason: str,
                note: str | None = None) -> bool:
    """Take an active group out of search for now (reversible: `confirm_group`); `reason`
    is `freshness.rules.PAUSED_*`. Audited as "pause"; False unless it was active."""
    group = _group(session, group_id)
    if group.status != "active":
        return False
    group.status, group.pause_reason = "paused", reason
    session.flush()
    audit.record(session, actor=actor, action="pause", group_id=group_id,
                 changes={"status": ["active", "paused"]}, note=note)
    return True


def confirm_listed(session: Session, source: str, *, actor: Actor,
                   today: dt.date | None = None, leave: Collection[str] = ()) -> int:
    """A successful run of `source` confirms every group it still lists (one UPDATE);
    groups it had paused for want of confirmation come back (audited each). How many
    groups' dates moved. `leave`: external ids whose groups it does not confirm (the
    demo's example of a listing nobody confirmed)."""
    from finder.freshness.rules import PAUSED_UNCONFIRMED

    today = today or dt.date.today()
    listed = ("SELECT group_id FROM listing_sources WHERE source = :source "
              "AND withdrawn_at IS NULL AND NOT (external_id = ANY(CAST(:leave AS text[])))")
    params = {"source": source, "today": today, "leave": _array(sorted(leave))}
    resumed = session.execute(text(
        f"UPDATE groups SET status = 'active', pause_reason = NULL, last_confirmed = :today"
        f" WHERE id IN ({listed}) AND status = 'paused' AND pause_reason = :reason"
        f" RETURNING id"), {**params, "reason": PAUSED_UNCONFIRMED}).scalars().all()
    moved = session.execute(text(
        f"UPDATE groups SET last_confirmed = :today WHERE id IN ({listed})"
        f" AND (last_confirmed IS NULL OR last_confirmed < :today)"), params).rowcount
    audit.record_many(session, actor=actor, action="confirm", rows=[
        (group_id, {"status": ["paused", "active"]}, f"{source} still lists it")
        for group_id in resumed])
    session.expire_all()
    return moved + len(resumed)


def set_reported_stale(session: Session, group_id: int, stale: bool) -> None:
    """Enough open "didn't meet" reports mark the listing "may be out of date" (and the
    resolution of one of them may clear it); not a change of the listing's fields."""
    session.execute(update(G).where(G.c.id == group_id, G.c.reported_stale.is_not(stale))
                    .values(reported_stale=stale))


def resolve_decided_conflicts(session: Session, group_id: int) -> None:
    """Conflicts a moderator already decided for the same two values stay resolved: by a
    pick of the first source's value (the group shows it). A pick of the other source's
    value is written and kept by the store (`keep_decided`), so when the same two values
    disagree again the first source sent something new about that part and the store
    wrote it: the pick no longer holds, and moderators see the disagreement again.
    (Picks recorded before the store kept them, with no `fields_b`, resolve it as before.)
    The latest decision on the two values counts."""
    session.execute(text(
        "UPDATE listing_conflicts c SET resolved_at = d.decided_at FROM ("
        " SELECT DISTINCT ON (field, value_a, value_b) field, value_a, value_b, chosen,"
        " fields_b, decided_at FROM conflict_decisions WHERE group_id = :g"
        " ORDER BY field, value_a, value_b, decided_at DESC, id DESC) d"
        " WHERE c.group_id = :g AND c.resolved_at IS NULL"
        " AND d.field = c.field AND d.value_a IS NOT DISTINCT FROM c.value_a"
        " AND d.value_b IS NOT DISTINCT FROM c.value_b"
        " AND (d.chosen = 'a' OR d.fields_b IS NULL)"), {"g": group_id})


# The part of a listing each disagreement `match.conflicts` reports is about: picking the
# other source's value writes that part of its listing (its `fields_b`) to the group. Field
# names of the field view (`finder.listings.fields`).
_SCHEDULES = ("schedules",)
# how to join online, when a pick of the format makes the group meet online: taken from the
# other source only where the group has none (a different link is a disagreement of its own)
_JOIN_IF_NONE = ("join_url", "join_phone", "join_email")
CONFLICT_PARTS: dict[str, tuple[str, ...]] = {
    "format": ("format", "service_countries", *fields.VENUE_FIELDS, *_JOIN_IF_NONE),
    "join_mode": ("join_mode",), "join_url": ("join_url",), "join_email": ("join_email",),
    "join_phone": ("join_phone",),
    "postcode": fields.VENUE_FIELDS, "address": fields.VENUE_FIELDS,
    "schedule.start_time": _SCHEDULES, "schedule.recurrence": _SCHEDULES,
    "schedule.weekday": _SCHEDULES, "schedules": _SCHEDULES,
}


def conflict_part(field: str) -> tuple[str, ...]:
    """The field-view keys a disagreement on `field` is about (empty for an unknown one)."""
    return CONFLICT_PARTS.get(field, ())


def part_values(view: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """`view`'s values of the part a disagreement on `field` is about (None: no part)."""
    part = conflict_part(field)
    return {key: view.get(key) for key in part} if part else None


def with_pick(view: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """`view` (a field view) with a picked part written over it (a picked format brings a
    way to join online only where the group has none). Picked schedules keep the
    dates `view`'s schedules on the same weekday give (cancelled meetings, an end date):
    the pick is about when the group meets, and a meeting its first source calls off or a
    series it ends must still show."""
    out = {**view, **chosen}
    if "format" in chosen:
        for key in _JOIN_IF_NONE:
            out[key] = view.get(key) or chosen.get(key)
    if "schedules" in chosen:
        own = {s["weekday"]: s for s in reversed(view.get("schedules") or [])}
        merged = []
        for s in chosen["schedules"] or []:
            mine = own.get(s["weekday"])
            if mine is not None:
                s = {**s, "cancelled_dates": sorted(set(s.get("cancelled_dates") or ())
                                                    | set(mine.get("cancelled_dates") or ()))}
                ends = [d for d in (s.get("valid_until"), mine.get("valid_until")) if d]
                if ends and min(ends) >= s["valid_from"]:  # ISO dates sort
                    s["valid_until"] = min(ends)
            merged.append(s)
        out["schedules"] = merged
    return out


def apply_pick(session: Session, group_id: int, chosen: Mapping[str, Any], *, actor: Actor,
               note: str | None = None) -> dict[str, list]:
    """A moderator picked another source's values (`chosen`: a part of the field view):
    the group takes them (`with_pick`). The changes written, audited as "update"."""
    view = group_fields(session, group_id)
    picked = with_pick(view, chosen)
    if not fields.diff(view, picked):
        return {}
    return update_group(session, group_id, fields.listing_from_fields(picked), actor=actor,
                        note=note)


def _picked_groups(session: Session, group_ids: Collection[int]) -> set[int]:
    """Which of these groups have picks `keep_decided` may keep (one query for a batch)."""
    if not group_ids:
        return set()
    return set(session.execute(text(
        "SELECT DISTINCT group_id FROM conflict_decisions WHERE group_id = ANY(CAST(:ids AS"
        " int[])) AND chosen = 'b' AND fields_b IS NOT NULL"),
        {"ids": _array(sorted(set(group_ids)))}).scalars())


def keep_decided(session: Session, group_id: int, listing: NormalisedListing
                 ) -> tuple[NormalisedListing, list[str]]:
    """`listing` (a source's changed listing of the group) with the parts moderators decided
    against it replaced by what they picked, and the names of those parts.

    A pick of "b" is kept while the source still sends the value it was picked over: when
    `match.conflicts` between the listing and the listing-with-the-pick finds, in the
    picked part, only disagreements decided for "b" with these very values. When the
    source sends something new for that part, the pick no longer applies and the normal
    rules do (the first source's values are written; the other source's next change
    raises a new disagreement)."""
    rows = session.execute(text(
        "SELECT field, value_a, value_b, fields_b FROM conflict_decisions"
        " WHERE group_id = :g AND chosen = 'b' AND fields_b IS NOT NULL"
        " ORDER BY decided_at, id"), {"g": group_id}).all()
    if not rows:
        return listing, []
    decided = {(r.field, r.value_a, r.value_b) for r in rows}
    latest: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in rows:  # the latest pick of each part
        if conflict_part(r.field):
            latest[conflict_part(r.field)] = r.fields_b
    view = fields.listing_fields(listing)
    # the listing as `_stored_groups` shows a group (no venue name), since a decision's
    # "a" value was read from the group its first source wrote
    as_group = dataclasses.replace(listing, venue_name=None)
    keys: set[str] = set()
    kept: list[str] = []
    for part, chosen in latest.items():
        candidate = fields.listing_from_fields(with_pick(view, chosen))
        found = [c for c in dedupe.conflicts(as_group, candidate)
                 if conflict_part(c.field) == part]
        if found and all((c.field, c.a_value, c.b_value) in decided for c in found):
            view = with_pick(view, chosen)
            keys.update(part)
            kept += [c.field for c in found]
    if not kept:
        return listing, []
    picked = fields.listing_from_fields(view)  # field-view keys are the listing's attributes
    return dataclasses.replace(listing, **{key: getattr(picked, key) for key in keys}), kept


def _note_reviews(session: Session, listing: NormalisedListing, mine: Any,
                  others: list[tuple[int, Any]]) -> None:
    """Candidates the matcher scored "review" for a listing it will insert as a new group:
    kept on the session, recorded for moderators once the group exists
    (`_record_reviews`, called by `write_listings`)."""
    for group_id, other in others:
        scored = dedupe.score(mine, other)
        if scored.decision == "review":
            session.info.setdefault("match_reviews", []).append(
                (listing.source, listing.external_id, group_id, scored.confidence,
                 list(scored.reasons)))


def _record_reviews(session: Session) -> None:
    """The noted "review" pairs as `match_reviews` rows (a pair already there, decided or
    not, is left alone: decisions are remembered)."""
    pending = session.info.pop("match_reviews", [])
    if not pending:
        return
    session.execute(text(
        "INSERT INTO match_reviews (group_id, candidate_id, source, external_id, confidence,"
        " reasons) SELECT s.group_id, s2.candidate, s.source, s.external_id, s2.confidence,"
        " s2.reasons FROM listing_sources s, (SELECT CAST(:candidate AS int) AS candidate,"
        " CAST(:confidence AS float8) AS confidence, CAST(:reasons AS jsonb) AS reasons) s2"
        " WHERE s.source = CAST(:source AS text) AND s.external_id = CAST(:external_id AS text)"
        " AND s.group_id <> s2.candidate"
        " ON CONFLICT ON CONSTRAINT uq_match_reviews_pair DO NOTHING"),
        [{"source": src, "external_id": ext, "candidate": cand, "confidence": conf,
          "reasons": json.dumps(reasons)} for src, ext, cand, conf, reasons in pending])


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def keep_confirmation(before: Mapping[str, Any], proposed: dict[str, Any]) -> dict[str, Any]:
    """`proposed` (a field view) with the stored confirmation date when it has an older
    one or none: a listing's date never moves a confirmation back (see `_fill`), so it is
    no difference to write or to put to a moderator."""
    stored, given = before.get("last_confirmed"), proposed.get("last_confirmed")
    if stored is not None and (given is None or given < stored):  # ISO dates sort
        proposed["last_confirmed"] = stored
    return proposed
