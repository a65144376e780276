"""Accounts tables: people, their organisations, invitations and the organisations' API tokens.

Imported by `finder.models` so that Alembic and the tests see one metadata. Emails are kept as
typed and are unique case-insensitively (a unique index on `lower(email)`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from finder.models import Base, Organisation

MEMBER = "member"
MEMBERSHIP_ROLES = (MEMBER,)


class User(Base):
    """Someone who signs in: an organisation's member, or site staff (`is_moderator`)."""

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_email_lower", text("lower(email)"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    # argon2id, in the PHC string format argon2-cffi writes (parameters included)
    password_hash: Mapped[str] = mapped_column(String(255))
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    is_moderator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Membership.created_at"
    )

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    # what Flask-Login asks of a user (duck-typed, so the model needs no Flask)
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return not self.disabled

    def get_id(self) -> str:
        """The session's user id carries the password hash's fingerprint, so changing the
        password ends every other session."""
        from finder.accounts.passwords import fingerprint

        return f"{self.id}:{fingerprint(self.password_hash)}"


class Membership(Base):
    """A person belongs to an organisation; `member` manages its listings."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in MEMBERSHIP_ROLES)})",
                        name="ck_memberships_role"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=MEMBER, server_default=MEMBER)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship()


class Invitation(Base):
    """A member asked someone, by email, to join their organisation. Used once."""

    __tablename__ = "organisation_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    organisation: Mapped[Organisation] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])


class ApiToken(Base):
    """An organisation's key for the write API. Only a SHA-256 of the token is stored; the
    short `prefix` lets people tell their tokens apart and lets us find one without a scan."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
