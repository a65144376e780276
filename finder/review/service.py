"""Decisions on what ingestion could not decide.

- A "review" match (`MatchReview`): merge the two groups (`store.merge_groups`: the older
  group is kept, the new one's source moves to it) or keep them apart. Either way the row
  stays, decided, so the pair is never raised again: the matcher only compares listings a
  source brings for the first time, and a pair already held is not inserted twice.
- A conflict (`ListingConflict`): pick the right value. The pick is kept in
  `conflict_decisions`, and a conflict detected again with the same two values is resolved
  by it at once (`store.resolve_decided_conflicts`). Picking the second source's join
  link, email, phone or way of joining also writes it to the group through the store.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.listings import store
from finder.listings.fields import group_fields, listing_from_fields
from finder.models import Group, ListingConflict
from finder.review.models import ConflictDecision, MatchReview

DECISIONS = ("merge", "apart")
PICKS = ("a", "b")
# conflict fields whose value a pick can write to the group as it is
APPLICABLE = ("join_url", "join_email", "join_phone", "join_mode")


class ReviewError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def open_matches(session: Session) -> list[tuple[MatchReview, Group, Group]]:
    """Undecided pairs (both groups still listed), oldest first: (review, new, candidate)."""
    rows = session.scalars(select(MatchReview).where(MatchReview.decision.is_(None))
                           .order_by(MatchReview.detected_at, MatchReview.id)).all()
    out = []
    for r in rows:
        new, old = session.get(Group, r.group_id), session.get(Group, r.candidate_id)
        if new is not None and old is not None and "withdrawn" not in (new.status, old.status):
            out.append((r, new, old))
    return out


def open_conflicts(session: Session) -> list[tuple[ListingConflict, Group]]:
    rows = session.scalars(select(ListingConflict).where(ListingConflict.resolved_at.is_(None))
                           .order_by(ListingConflict.detected_at, ListingConflict.id)).all()
    return [(c, session.get(Group, c.group_id)) for c in rows]


def decide_match(session: Session, review_id: int, decision: str | None, *, actor: Actor,
                 now: dt.datetime | None = None) -> MatchReview:
    if decision not in DECISIONS:
        raise ReviewError("decision", f"unknown decision {decision!r}; one of merge, apart")
    review = session.get(MatchReview, review_id)
    if review is None:
        raise LookupError(f"no review {review_id}")
    if review.decision is not None:
        raise ReviewError("decision", f"review {review_id} was already decided "
                                      f"({review.decision})")
    if decision == "merge":
        store.merge_groups(session, review.candidate_id, review.group_id, actor=actor)
    review.decision = decision
    review.decided_at = now or dt.datetime.now(dt.UTC)
    review.decided_by = actor.as_record()
    session.flush()
    return review


def decide_conflict(session: Session, conflict_id: int, chosen: str | None, *, actor: Actor,
                    now: dt.datetime | None = None) -> ListingConflict:
    if chosen not in PICKS:
        raise ReviewError("chosen", f"pick 'a' or 'b' (got {chosen!r})")
    conflict = session.get(ListingConflict, conflict_id)
    if conflict is None:
        raise LookupError(f"no conflict {conflict_id}")
    now = now or dt.datetime.now(dt.UTC)
    session.add(ConflictDecision(group_id=conflict.group_id, field=conflict.field,
                                 value_a=conflict.value_a, value_b=conflict.value_b,
                                 chosen=chosen, decided_at=now,
                                 decided_by=actor.as_record()))
    conflict.resolved_at = now
    session.flush()
    if chosen == "b" and conflict.field in APPLICABLE:
        view = group_fields(session, conflict.group_id)
        if view.get(conflict.field) != conflict.value_b:
            view[conflict.field] = conflict.value_b
            store.update_group(session, conflict.group_id, listing_from_fields(view),
                               actor=actor, note=f"conflict {conflict_id}: "
                                                 f"{conflict.source_b}'s value chosen")
    return conflict
