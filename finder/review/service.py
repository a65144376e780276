"""Decisions on what ingestion could not decide.

- A "review" match (`MatchReview`): merge the two groups (`store.merge_groups`: the older
  group is kept, the new one's source moves to it) or keep them apart. Either way the row
  stays, decided, so the pair is never raised again: the matcher only compares listings a
  source brings for the first time, and a pair already held is not inserted twice.
- A conflict (`ListingConflict`): pick the right value. The pick is kept in
  `conflict_decisions`, and a conflict detected again with the same two values is resolved
  by it at once (`store.resolve_decided_conflicts`). Picking the second source's value
  writes it to the group through the store, for any field (a time, a venue, a format, a
  join detail), and the store keeps it there while the first source sends the value it
  was picked over (`store.keep_decided`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.listings import store
from finder.models import Group, ListingConflict
from finder.review.models import ConflictDecision, MatchReview

DECISIONS = ("merge", "apart")
PICKS = ("a", "b")
# conflict fields whose recorded value alone can be written to the group (conflicts recorded
# before their sources' values were kept with them, migration 0014)
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
    """Pick a value. Picking "b" writes the other source's values of the disagreeing part
    (`store.CONFLICT_PARTS`: its schedules, its venue, its format, a join detail) to the
    group, and the store keeps them while the first source still sends the value they were
    picked over (`store.keep_decided`). The group's other open disagreements with the same
    source about the same part are decided with it (the part is now one source's)."""
    if chosen not in PICKS:
        raise ReviewError("chosen", f"pick 'a' or 'b' (got {chosen!r})")
    conflict = session.get(ListingConflict, conflict_id)
    if conflict is None:
        raise LookupError(f"no conflict {conflict_id}")
    now = now or dt.datetime.now(dt.UTC)
    part = store.conflict_part(conflict.field)
    picked = conflict.fields_b
    if picked is None and conflict.field in APPLICABLE:  # recorded before migration 0014
        picked = {conflict.field: conflict.value_b}
    if chosen == "b" and picked is None:
        raise ReviewError("chosen", f"this disagreement was recorded before the finder kept "
                                    f"{conflict.source_b}'s values with it, so they cannot "
                                    f"be written to the group; it is recorded again, with "
                                    f"them, when {conflict.source_b} next changes its listing")
    decided = [conflict]
    if part:
        decided += [c for c in session.scalars(select(ListingConflict).where(
            ListingConflict.group_id == conflict.group_id,
            ListingConflict.source_b == conflict.source_b,
            ListingConflict.resolved_at.is_(None), ListingConflict.id != conflict.id))
            if store.conflict_part(c.field) == part]
    for c in decided:
        session.add(ConflictDecision(group_id=c.group_id, field=c.field, value_a=c.value_a,
                                     value_b=c.value_b, chosen=chosen, decided_at=now,
                                     decided_by=actor.as_record(),
                                     fields_b=picked if chosen == "b" else None))
        c.resolved_at = now
    session.flush()
    if chosen == "b":
        assert picked is not None
        store.apply_pick(session, conflict.group_id, picked, actor=actor,
                         note=f"conflict {conflict_id}: {conflict.source_b}'s value chosen")
    return conflict
