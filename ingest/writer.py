"""Writing normalised listings in batches: the path every ingestion run takes.

Per batch it costs a handful of statements, whatever the size:
- one query finds which (source, external id) pairs we already hold and their content hashes
  (and, only for the few whose hash changed, whether they are their group's first source);
- unchanged listings only have `last_seen_at` bumped, in one UPDATE (`skip_unchanged` does
  this before geocoding, so the runner geocodes only what it will write);
- new listings are matched against groups other sources already list (`ingest.dedupe`):
  a match becomes one more `ListingSource` on that group (and any disagreements become
  `ListingConflict`s for moderators); the rest are inserted in bulk;
- changed listings go through `normalize.upsert` one by one (they are few in a steady feed),
  unless the listing is a second source of a merged group: then only its provenance and the
  conflicts are refreshed, so two sources never overwrite each other's fields back and forth.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import any_, bindparam, cast, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from finder.models import Group, ListingConflict, ListingSource, Location, Organisation, Schedule
from finder.schedules import Recurrence, time_band, upcoming_utc
from ingest import dedupe
from ingest.normalize import NormalisedListing, upsert

G, L, LS, ORG, S = (Group.__table__, Location.__table__, ListingSource.__table__,
                  Organisation.__table__, Schedule.__table__)
LC = ListingConflict.__table__

MATCH_RADIUS_M = 300  # venues further apart than this are different groups
_IDS = bindparam("ids", type_=ARRAY(LS.c.external_id.type))  # one array, not N parameters


def write_listings(session: Session, listings: Sequence[NormalisedListing], *,
                   now: dt.datetime | None = None) -> list[str]:
    """One outcome per listing: "created", "updated", "unchanged" or "merged".

    Listings must be geocoded (see `normalize.geocode`) and unique by (source, external_id)
    within the call. Nothing is committed: the caller owns the transaction.
    """
    now = now or dt.datetime.now(dt.UTC)
    outcomes: list[str] = [""] * len(listings)
    known = _known_refs(session, listings, primary=True)

    unchanged_ids: list[int] = []
    new: list[int] = []
    for i, listing in enumerate(listings):
        ref = known.get((listing.source, listing.external_id))
        if ref is None:
            new.append(i)
        elif ref.content_hash == listing.content_hash and ref.withdrawn_at is None:
            unchanged_ids.append(ref.id)
            outcomes[i] = "unchanged"
        elif ref.primary:
            outcomes[i] = upsert(session, listing, now=now)
        else:
            _refresh_secondary(session, ref, listing, now)
            outcomes[i] = "updated"
    _touch(session, unchanged_ids, now)

    matches = _match_existing(session, [listings[i] for i in new])
    to_insert = []
    for i in new:
        group_id = matches.get(i)
        if group_id is None:
            to_insert.append(i)
            continue
        _add_source(session, group_id, listings[i], now)
        _record_conflicts(session, group_id, listings[i])
        outcomes[i] = "merged"
    _insert_new(session, [listings[i] for i in to_insert], now)
    for i in to_insert:
        outcomes[i] = "created"
    session.flush()
    return outcomes


def skip_unchanged(session: Session, listings: Sequence[NormalisedListing], *,
                   now: dt.datetime | None = None) -> list[NormalisedListing]:
    """The listings that still need writing; the rest are stored with the same content hash
    (and not withdrawn), so only their `last_seen_at` is bumped, in one UPDATE.

    `write_listings` would count them "unchanged" too: calling this first lets the caller
    skip geocoding what it will not write. Nothing is committed.
    """
    now = now or dt.datetime.now(dt.UTC)
    known = _known_refs(session, listings)
    unchanged_ids: list[int] = []
    rest = []
    for listing in listings:
        ref = known.get((listing.source, listing.external_id))
        if ref is not None and ref.content_hash == listing.content_hash \
                and ref.withdrawn_at is None:
            unchanged_ids.append(ref.id)
        else:
            rest.append(listing)
    _touch(session, unchanged_ids, now)
    return rest


def _touch(session: Session, ref_ids: list[int], now: dt.datetime) -> None:
    if ref_ids:
        session.execute(update(LS).where(LS.c.id == any_(bindparam("ref_ids", ref_ids,
                                                                   type_=ARRAY(LS.c.id.type))))
                        .values(last_seen_at=now))


# ----------------------------------------------------------------------------- what we hold


def _known_refs(session: Session, listings: Sequence[NormalisedListing], *,
                primary: bool = False) -> dict[tuple[str, str], Any]:
    """(source, external_id) -> the ref; with `primary`, each ref whose content hash differs
    from its listing's (or that is withdrawn) also says whether it owns the group (the
    group's first source; later sources of a merged group are secondary).

    Primary-ness is looked up only for those few refs: a correlated min(id) per row made
    this query cost more than the rest of a batch."""
    by_source: dict[str, list[str]] = {}
    for listing in listings:
        by_source.setdefault(listing.source, []).append(listing.external_id)
    out: dict[tuple[str, str], Any] = {}
    for source, ids in by_source.items():
        rows = session.execute(
            select(LS.c.id, LS.c.source, LS.c.external_id, LS.c.group_id, LS.c.content_hash,
                   LS.c.withdrawn_at)
            .where(LS.c.source == source, LS.c.external_id == any_(_IDS)), {"ids": ids}
        ).all()
        out.update({(r.source, r.external_id): r for r in rows})
    if not primary or not out:
        return out
    hashes = {(n.source, n.external_id): n.content_hash for n in listings}
    changed = {key: r for key, r in out.items()
               if r.content_hash != hashes[key] or r.withdrawn_at is not None}
    first = dict(session.execute(
        select(LS.c.group_id, func.min(LS.c.id)).where(LS.c.group_id.in_(
            sorted({r.group_id for r in changed.values()}))).group_by(LS.c.group_id)
    ).all()) if changed else {}
    for key, r in changed.items():
        out[key] = SimpleNamespace(**r._asdict(), primary=first.get(r.group_id) == r.id)
    return out


def _refresh_secondary(session: Session, ref, listing: NormalisedListing,
                       now: dt.datetime) -> None:
    """A second source changed its copy of a merged group: keep its provenance and the
    disagreements current, but leave the group's fields to its first source."""
    session.execute(update(LS).where(LS.c.id == ref.id).values(
        content_hash=listing.content_hash, url=listing.url, last_seen_at=now, withdrawn_at=None))
    session.execute(update(G).where(G.c.id == ref.group_id, G.c.status == "withdrawn")
                    .values(status="active"))
    session.execute(LC.delete().where(LC.c.group_id == ref.group_id,
                                      LC.c.source_b == listing.source))
    _record_conflicts(session, ref.group_id, listing)


# ----------------------------------------------------------------------------- matching


def _match_existing(session: Session, listings: list[NormalisedListing]) -> dict[int, int]:
    """Index in `listings` -> id of a group another source already lists as the same group."""
    if not listings:
        return {}
    source = listings[0].source
    candidates: dict[int, list[int]] = {}
    located = [(i, n) for i, n in enumerate(listings) if n.latitude is not None]
    if located:
        rows = session.execute(text("""
            SELECT v.i, g.id
            FROM unnest(CAST(:idx AS int[]), CAST(:lng AS float8[]), CAST(:lat AS float8[]))
                 AS v(i, lng, lat)
            JOIN locations l
              ON ST_DWithin(l.point, ST_SetSRID(ST_MakePoint(v.lng, v.lat), 4326)::geography,
                            :radius)
            JOIN groups g ON g.location_id = l.id
            WHERE NOT EXISTS (SELECT 1 FROM listing_sources s
                              WHERE s.group_id = g.id AND s.source = :source)
        """), {"idx": [i for i, _ in located], "lng": [n.longitude for _, n in located],
               "lat": [n.latitude for _, n in located], "radius": MATCH_RADIUS_M,
               "source": source}).all()
        for i, group_id in rows:
            candidates.setdefault(i, []).append(group_id)
    online = [(i, n) for i, n in enumerate(listings) if n.format != "in_person"]
    if online:
        keys = {i: set(dedupe.join_keys(n.join_url, n.join_email, n.join_phone))
                for i, n in online}
        orgs = {n.organisation.name.lower() for _, n in online if n.organisation}
        rows = session.execute(
            select(G.c.id, G.c.join_keys, func.lower(ORG.c.name))
            .select_from(G.outerjoin(ORG, ORG.c.id == G.c.organisation_id))
            .where(G.c.format != "in_person",
                   G.c.join_keys.overlap(list(set().union(*keys.values())))
                   | func.lower(ORG.c.name).in_(orgs),
                   ~select(LS.c.id).where(LS.c.group_id == G.c.id, LS.c.source == source)
                   .exists())
        ).all()
        for i, n in online:
            org = n.organisation.name.lower() if n.organisation else None
            for group_id, group_keys, group_org in rows:
                if keys[i] & set(group_keys) or (org and org == group_org):
                    candidates.setdefault(i, []).append(group_id)
    if not candidates:
        return {}
    stored = _stored_candidates(session, {g for ids in candidates.values() for g in ids})
    matches = {}
    for i, group_ids in candidates.items():
        n = listings[i]
        mine = dedupe.Candidate.from_listing(n)
        found = dedupe.find_match(mine, [(g, stored[g]) for g in dict.fromkeys(group_ids)])
        if found is not None:
            matches[i] = found[0]
    return matches


def _stored_candidates(session: Session, group_ids: set[int]) -> dict[int, dedupe.Candidate]:
    groups = _stored_groups(session, group_ids)
    return {gid: dedupe.Candidate.from_group(g, lat=g.lat, lng=g.lng)
            for gid, g in groups.items()}


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


def _add_source(session: Session, group_id: int, listing: NormalisedListing,
                now: dt.datetime) -> None:
    session.execute(insert(LS).values(
        group_id=group_id, source=listing.source, external_id=listing.external_id,
        url=listing.url, content_hash=listing.content_hash, first_seen_at=now, last_seen_at=now))
    session.execute(update(G).where(G.c.id == group_id, G.c.status == "withdrawn")
                    .values(status="active"))


def _record_conflicts(session: Session, group_id: int, listing: NormalisedListing) -> None:
    """Moderators see where this source disagrees with the group's first source."""
    group = _stored_groups(session, {group_id})[group_id]
    first_source = session.execute(
        select(LS.c.source).where(LS.c.group_id == group_id).order_by(LS.c.id).limit(1)
    ).scalar_one()
    found = dedupe.conflicts(group, listing)
    if not found:
        return
    session.execute(
        pg_insert(LC).values([
            {"group_id": group_id, "field": c.field, "source_a": first_source,
             "value_a": c.a_value, "source_b": listing.source, "value_b": c.b_value}
            for c in found
        ]).on_conflict_do_update(
            constraint="uq_listing_conflicts_pair",
            set_={"value_a": text("excluded.value_a"), "value_b": text("excluded.value_b"),
                  "resolved_at": None},
        )
    )


# ----------------------------------------------------------------------------- bulk insert


def _insert_new(session: Session, listings: list[NormalisedListing], now: dt.datetime) -> None:
    if not listings:
        return
    org_ids = _organisation_ids(session, listings)
    location_ids = _location_ids(session, [n for n in listings if n.format != "virtual"])
    group_ids = session.execute(
        insert(G).returning(G.c.id, sort_by_parameter_order=True),
        [
            {
                "name": n.name, "description": n.description, "format": n.format,
                "status": "active", "join_mode": n.join_mode, "join_url": n.join_url,
                "join_phone": n.join_phone, "join_email": n.join_email,
                "join_notes": n.join_notes, "loss_types": list(n.loss_types),
                "audiences": list(n.audiences), "languages": list(n.languages),
                "cost": n.cost, "facilitation": n.facilitation,
                "accessibility_notes": n.accessibility_notes,
                "organisation_id": org_ids.get(n.organisation.name.lower())
                if n.organisation else None,
                "location_id": location_ids.get(n.address_key) if n.format != "virtual" else None,
                "timezone": n.timezone, "service_countries": list(n.service_countries),
                "join_keys": dedupe.join_keys(n.join_url, n.join_email, n.join_phone),
                "last_confirmed": n.last_confirmed,
            }
            for n in listings
        ],
    ).scalars().all()
    session.execute(insert(LS), [
        {"group_id": gid, "source": n.source, "external_id": n.external_id, "url": n.url,
         "content_hash": n.content_hash, "first_seen_at": now, "last_seen_at": now}
        for gid, n in zip(group_ids, listings, strict=True)
    ])
    schedule_rows = [
        {"group_id": gid, "freq": r.freq, "interval": r.interval, "weekday": r.weekday,
         "set_pos": r.set_pos, "start_time": r.start_time,
         "duration_minutes": r.duration_minutes, "timezone": r.timezone,
         "valid_from": r.valid_from, "valid_until": r.valid_until,
         "cancelled_dates": sorted(r.cancelled_dates), "time_band": time_band(r.start_time),
         "upcoming": list(_upcoming(r, now))}
        for gid, n in zip(group_ids, listings, strict=True) for r in n.schedules
    ]
    if schedule_rows:
        session.execute(insert(S), schedule_rows)


@functools.lru_cache(maxsize=8192)
def _upcoming(rec: Recurrence, now: dt.datetime) -> tuple[dt.datetime, ...]:
    """`upcoming_utc`, once per distinct schedule: a feed's thousands of "Tuesdays at 7pm in
    Europe/London" share one answer (a Recurrence is immutable and hashable)."""
    return tuple(upcoming_utc(rec, now))


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


def _location_ids(session: Session, listings: list[NormalisedListing]) -> dict[str, int]:
    """Address key -> id; a venue we already hold is reused as it is."""
    wanted: dict[str, NormalisedListing] = {}
    for n in listings:
        wanted.setdefault(n.address_key, n)
    if not wanted:
        return {}
    rows = session.execute(
        select(L.c.id, L.c.address_key).where(L.c.address_key.in_(wanted))
    ).all()
    ids = {key: lid for lid, key in rows}
    missing = [n for key, n in wanted.items() if key not in ids]
    if missing:
        created = session.execute(
            insert(L).returning(L.c.id, L.c.address_key, sort_by_parameter_order=True),
            [{"venue_name": n.venue_name, "address_line1": n.address_line1,
              "address_line2": n.address_line2, "town": n.town, "region": n.region,
              "postcode": n.postcode, "country": n.country,
              "point": f"SRID=4326;POINT({n.longitude!r} {n.latitude!r})",
              "timezone": n.timezone, "geocode_precision": n.geocode_precision or "given",
              "address_key": n.address_key} for n in missing],
        ).all()
        ids.update({key: lid for lid, key in created})
    return ids
