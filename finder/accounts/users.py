"""People who sign in: finding, creating, verifying, changing passwords, authenticating."""

from __future__ import annotations

import datetime as dt

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finder.accounts import passwords
from finder.accounts.errors import AccountError
from finder.accounts.models import User
from finder.accounts.text import shown

MAX_EMAIL = 254


def normalise_email(raw: str | None) -> str:
    """The address to store (domain lower-cased), or AccountError naming the field."""
    value = (raw or "").strip()
    if not value:
        raise AccountError("email", "Enter your email address.")
    if len(value) > MAX_EMAIL:
        raise AccountError("email", f"An email address has at most {MAX_EMAIL} characters.")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AccountError("email", f"“{shown(value)}” is not an email address: {exc}") \
            from None


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalars(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).one_or_none()


def check_new_password(password: str, email: str | None) -> None:
    message = passwords.problem(password or "", email=email)
    if message:
        raise AccountError("password", message)


def create_user(session: Session, email: str, password: str, *, verified: bool = False,
                moderator: bool = False) -> User:
    """A new account; AccountError for a bad or taken email or a weak password."""
    email = normalise_email(email)
    check_new_password(password, email)
    if find_by_email(session, email) is not None:
        raise AccountError("email", "An account with this email address already exists. "
                                    "Sign in, or reset your password if you have forgotten it.")
    user = User(email=email, password_hash=passwords.hash_password(password),
                is_moderator=moderator,
                verified_at=dt.datetime.now(dt.UTC) if verified else None)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:  # someone signed up with it between the check and the insert
        raise AccountError("email", "An account with this email address already exists.") \
            from None
    return user


def set_password(user: User, password: str) -> None:
    check_new_password(password, user.email)
    user.password_hash = passwords.hash_password(password)


def mark_verified(user: User) -> None:
    if user.verified_at is None:
        user.verified_at = dt.datetime.now(dt.UTC)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user these credentials belong to, or None (same work either way)."""
    user = find_by_email(session, email or "")
    if not passwords.verify_password(user.password_hash if user else None, password or ""):
        return None
    return user
