"""The problem reports table (migration 0012)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from finder.models import Base

REPORT_KINDS = ("didnt_meet", "wrong_time_place", "link_phone", "other")
RESOLUTIONS = ("fixed", "not_a_problem", "paused")


class ListingReport(Base):
    """Someone (no account needed) says a listing is wrong; open until a moderator resolves
    it. `details` is the reporter's own text: shown escaped, never trusted."""

    __tablename__ = "listing_reports"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in REPORT_KINDS)})",
                        name="ck_listing_reports_kind"),
        CheckConstraint("state IN ('open', 'resolved')", name="ck_listing_reports_state"),
        CheckConstraint("resolution IS NULL OR resolution IN "
                        f"({', '.join(repr(r) for r in RESOLUTIONS)})",
                        name="ck_listing_reports_resolution"),
        Index("ix_listing_reports_open", "group_id", postgresql_where=text("state = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    details: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    state: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[dict | None] = mapped_column(JSONB)
