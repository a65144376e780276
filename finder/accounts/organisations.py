"""Organisations people belong to: creating one, membership, invitations by email."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finder.accounts.errors import AccountError
from finder.accounts.models import MEMBER, Invitation, Membership, User
from finder.accounts.text import has_control, shown, single_line
from finder.accounts.users import normalise_email
from finder.models import Organisation


def check_name(raw: str | None, field: str = "organisation_name") -> str:
    name = single_line(raw, field, what="organisation's name", max_length=200)
    if len(name) < 2:
        raise AccountError(field, "Enter the organisation's name.")
    return name


def check_website(raw: str | None) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        host, parts = "", None
    if parts is None or parts.scheme.lower() not in ("http", "https") or "." not in host \
            or len(value) > 500 or any(c.isspace() for c in value) or has_control(value):
        raise AccountError("website", f"“{shown(value)}” is not a web address starting "
                                      "with https:// (or http://), of at most 500 characters.")
    return value


def create_organisation(session: Session, name: str, founder: User,
                        website: str | None = None,
                        field: str = "organisation_name") -> Organisation:
    """A new organisation with `founder` as its first member.

    A name already listed (for instance imported from a hospital's feed) is refused: joining
    or claiming an existing organisation goes through an invitation or a moderator.
    """
    name = check_name(name, field)
    website = check_website(website)
    taken = session.scalar(
        select(Organisation.id).where(func.lower(Organisation.name) == name.lower())
    )
    if taken is not None:
        raise AccountError(field, f"“{name}” is already listed. If you work there, ask a "
                                  "colleague to invite you, or contact us to claim it.")
    organisation = Organisation(name=name, website=website)
    try:
        with session.begin_nested():
            session.add(organisation)
            session.flush()
            session.add(Membership(user_id=founder.id, organisation_id=organisation.id,
                                   role=MEMBER))
    except IntegrityError:
        raise AccountError(field, f"“{name}” is already listed.") from None
    return organisation


def membership(session: Session, user_id: int, organisation_id: int) -> Membership | None:
    return session.get(Membership, (user_id, organisation_id))


def organisations_of(session: Session, user_id: int) -> list[Organisation]:
    return list(session.scalars(
        select(Organisation).join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.user_id == user_id).order_by(Organisation.name)
    ))


def members_of(session: Session, organisation_id: int) -> list[User]:
    return list(session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id).order_by(User.email)
    ))


def pending_invitations(session: Session, organisation_id: int) -> list[Invitation]:
    """Invitations not yet accepted whose links still work."""
    from finder.accounts.links import INVITATION, MAX_AGE

    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=MAX_AGE[INVITATION])
    return list(session.scalars(
        select(Invitation).where(Invitation.organisation_id == organisation_id,
                                 Invitation.accepted_at.is_(None),
                                 Invitation.created_at > since)
        .order_by(Invitation.created_at.desc())
    ))


def invite(session: Session, organisation: Organisation, email: str,
           invited_by: User) -> Invitation:
    email = normalise_email(email)
    already = session.scalar(
        select(User.id).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation.id,
               func.lower(User.email) == email.lower())
    )
    if already is not None:
        raise AccountError("email", f"{email} is already a member of {organisation.name}.")
    invitation = Invitation(organisation_id=organisation.id, email=email,
                            invited_by_id=invited_by.id)
    session.add(invitation)
    session.flush()
    return invitation


def accept(session: Session, invitation: Invitation, user: User) -> None:
    """`user` joins the organisation; the invitation is used up."""
    now = dt.datetime.now(dt.UTC)
    invitation.accepted_at = now
    invitation.accepted_by_id = user.id
    if membership(session, user.id, invitation.organisation_id) is None:
        session.add(Membership(user_id=user.id, organisation_id=invitation.organisation_id,
                               role=MEMBER))
    session.flush()
