"""The audit log of listings: who or what changed which group, and how, field by field.

Every write of the listing store (`finder.listings.store`) records rows here, in the
caller's transaction: a row says when (`at`, the transaction's time), which group, what
happened (`action`), who (`Actor.as_record()`, its kind kept apart for filtering) and
`changes` as `{field: [before, after]}` in the terms of `finder.listings.fields`, plus
"status" and "owner_organisation_id" where those change. Ingestion writes its rows in
bulk (`record_many`), so a run costs one statement more per batch, not one per listing.

Actions: create, update, withdraw, restore, merge, owner (the managing organisation set or
cleared), source (a source's provenance changed without changing the group: a second
source's new copy, a source dropping one of several listings of a group), import (a
source's change to a claimed group, not applied: it waits in moderation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.models import ListingAudit

AUDIT = ListingAudit.__table__


def record(session: Session, *, actor: Actor, action: str, group_id: int | None,
           changes: Mapping[str, list] | None = None, note: str | None = None) -> None:
    """One audit row (not committed: the caller's transaction owns it)."""
    session.execute(insert(AUDIT).values(
        group_id=group_id, action=action, actor_kind=actor.kind, actor=actor.as_record(),
        changes=dict(changes or {}), note=note))


BULK_SQL = (
    "INSERT INTO listing_audit (group_id, action, actor_kind, actor, changes, note)"
    " SELECT g, %(action)s, %(kind)s, CAST(%(actor)s AS jsonb), CAST(c AS jsonb), n"
    " FROM unnest(CAST(%(g)s AS int[]), CAST(%(c)s AS text[]), CAST(%(n)s AS text[]))"
    " AS v(g, c, n)")


def bulk_params(*, actor: Actor, action: str,
                rows: Iterable[tuple[int, Mapping[str, Any] | None, str | None]]
                ) -> dict[str, Any] | None:
    """`BULK_SQL`'s parameters for rows of (group id, changes, note) by one actor for one
    action (the JSON goes as text, written by orjson); None when there are no rows."""
    groups: list[int] = []
    changes: list[str] = []
    notes: list[str | None] = []
    for group_id, change, note in rows:
        groups.append(group_id)
        changes.append(orjson.dumps(change or {}).decode())
        notes.append(note)
    if not groups:
        return None
    return {"action": action, "kind": actor.kind,
            "actor": orjson.dumps(actor.as_record()).decode(),
            "g": groups, "c": changes, "n": notes}


# A new group's "create" row for each group id, as `fields.created_changes(group_fields())`
# would give it, built by PostgreSQL from the stored rows (so in the batch writer it costs
# the ingesting process nothing: it runs while the next rows are read). The key order of a
# JSONB object is its own; tests compare it with the Python field view.
_FIELD_SQL = {
    "name": "g.name", "description": "g.description", "format": "g.format",
    "organisation": "o.name", "venue_name": "l.venue_name",
    "address_line1": "l.address_line1", "address_line2": "l.address_line2",
    "town": "l.town", "region": "l.region", "postcode": "l.postcode", "country": "l.country",
    "latitude": "round(CAST(ST_Y(CAST(l.point AS geometry)) AS numeric), 6)",
    "longitude": "round(CAST(ST_X(CAST(l.point AS geometry)) AS numeric), 6)",
    "geocode_precision": "l.geocode_precision", "timezone": "g.timezone",
    "service_countries": "to_jsonb(g.service_countries)",
    "schedules": (
        "(SELECT jsonb_agg(jsonb_build_object('freq', s.freq, 'interval', s.interval,"
        " 'weekday', s.weekday, 'set_pos', s.set_pos, 'start_time', CAST(s.start_time AS text),"
        " 'duration_minutes', s.duration_minutes, 'timezone', s.timezone,"
        " 'valid_from', CAST(s.valid_from AS text), 'valid_until', CAST(s.valid_until AS text),"
        " 'cancelled_dates', (SELECT coalesce(jsonb_agg(CAST(d AS text) ORDER BY d), '[]')"
        " FROM unnest(s.cancelled_dates) AS d)) ORDER BY s.id)"
        " FROM schedules s WHERE s.group_id = g.id)"),
    "join_mode": "g.join_mode", "join_url": "g.join_url", "join_phone": "g.join_phone",
    "join_email": "g.join_email", "join_notes": "g.join_notes",
    "loss_types": "to_jsonb(g.loss_types)", "audiences": "to_jsonb(g.audiences)",
    "languages": "to_jsonb(g.languages)", "cost": "g.cost", "facilitation": "g.facilitation",
    "accessibility_notes": "g.accessibility_notes",
    "last_confirmed": "CAST(g.last_confirmed AS text)",
}
CREATED_SQL = (
    "INSERT INTO listing_audit (group_id, action, actor_kind, actor, changes, note)"
    " SELECT g.id, 'create', %(kind)s, CAST(%(actor)s AS jsonb),"
    " (SELECT coalesce(jsonb_object_agg(e.key, jsonb_build_array(NULL, e.value)), '{}')"
    "  FROM jsonb_each(jsonb_build_object("
    + ", ".join(f"'{key}', {sql}" for key, sql in _FIELD_SQL.items())
    + ")) AS e WHERE e.value NOT IN ('null', '\"\"', '[]')),"
    " (SELECT 'listed by ' || ls.source || ' as ' || ls.external_id FROM listing_sources ls"
    "  WHERE ls.group_id = g.id ORDER BY ls.id LIMIT 1)"
    " FROM groups g LEFT JOIN organisations o ON o.id = g.organisation_id"
    " LEFT JOIN locations l ON l.id = g.location_id"
    " WHERE g.id = ANY(CAST(%(ids)s AS int[]))")


def created_params(*, actor: Actor, group_ids: str) -> dict[str, Any]:
    """`CREATED_SQL`'s parameters: `group_ids` is a PostgreSQL array literal."""
    return {"kind": actor.kind, "actor": orjson.dumps(actor.as_record()).decode(),
            "ids": group_ids}


def record_many(session: Session, *, actor: Actor, action: str,
                rows: Iterable[tuple[int, Mapping[str, Any] | None, str | None]]) -> int:
    """Audit rows of (group id, changes, note) by one actor for one action, in one
    statement. Returns how many were written."""
    params = bulk_params(actor=actor, action=action, rows=rows)
    if params is None:
        return 0
    session.flush()
    session.connection().exec_driver_sql(BULK_SQL, params)
    return len(params["g"])


def history(session: Session, group_id: int) -> list[ListingAudit]:
    """The group's audit rows, newest first."""
    return list(session.scalars(
        select(ListingAudit).where(ListingAudit.group_id == group_id)
        .order_by(ListingAudit.at.desc(), ListingAudit.id.desc())))
