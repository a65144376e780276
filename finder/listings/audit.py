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


# The batch writer's "create" rows: each new group's name and format (`CREATED_KEYS`, as
# `[null, value]`), built by PostgreSQL from the rows just written, in a statement that
# runs while the next rows are read; the actor names the source and the run, and the
# group's `listing_sources` row its id there. Not the whole field view: that cost
# PostgreSQL about ten times as much per group (the JSON of every field and schedule,
# TOASTed). Nothing is lost: every later change records its `before`, so the group as
# created is its field view now with the later changes undone. (One-listing writes,
# `create_group`, record the whole view.)
CREATED_KEYS = ("name", "format")
CREATED_SQL = (
    "INSERT INTO listing_audit (group_id, action, actor_kind, actor, changes)"
    " SELECT g.id, 'create', %(kind)s, CAST(%(actor)s AS jsonb),"
    " jsonb_build_object("
    + ", ".join(f"'{key}', jsonb_build_array(NULL, g.{key})" for key in CREATED_KEYS)
    + ") FROM groups g WHERE g.id = ANY(CAST(%(ids)s AS int[]))")


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
