"""The review queue's tables (migration 0012)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from finder.models import Base


class MatchReview(Base):
    """A new source listing (now `group_id`) that `finder.listings.match` scored "review"
    against a group another source lists (`candidate_id`): a moderator merges them or
    keeps them apart. One row per (source, external id, candidate), so a later run never
    asks again."""

    __tablename__ = "match_reviews"
    __table_args__ = (
        CheckConstraint("decision IS NULL OR decision IN ('merge', 'apart')",
                        name="ck_match_reviews_decision"),
        UniqueConstraint("source", "external_id", "candidate_id", name="uq_match_reviews_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(300))
    confidence: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list] = mapped_column(JSONB)
    detected_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    decision: Mapped[str | None] = mapped_column(String(10))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[dict | None] = mapped_column(JSONB)


class ConflictDecision(Base):
    """A moderator's pick ("a": the group's first source, "b": the other) for two values
    of one field; a conflict detected again with the same two values is resolved by it."""

    __tablename__ = "conflict_decisions"
    __table_args__ = (
        CheckConstraint("chosen IN ('a', 'b')", name="ck_conflict_decisions_chosen"),
        Index("ix_conflict_decisions_group", "group_id", "field"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(50))
    value_a: Mapped[str | None] = mapped_column(Text)
    value_b: Mapped[str | None] = mapped_column(Text)
    chosen: Mapped[str] = mapped_column(String(1))
    # the values a pick of "b" writes (the conflict's `fields_b`), and keeps writing while
    # the first source still gives `value_a` (`store.keep_decided`)
    fields_b: Mapped[dict | None] = mapped_column(JSONB)
    decided_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    decided_by: Mapped[dict] = mapped_column(JSONB)
