"""Organisations' API tokens: issue (shown once), revoke, and resolve a presented token.

A token is `gf_` and 40 random URL-safe characters. Only its SHA-256 is stored (the token
is random enough that a slow hash adds nothing); its first 11 characters are kept in the
clear so people can tell tokens apart and so a lookup needs no scan. The stored hash is
compared in constant time. `require_token` guards the write API; it never looks at cookies,
so those endpoints need no CSRF token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.accounts.errors import AccountError
from finder.accounts.models import ApiToken
from finder.accounts.text import single_line

SCHEME = "gf_"
PREFIX_LENGTH = len(SCHEME) + 8
# last_used_at is written at most this often per token (a write per call would be waste)
TOUCH_EVERY = dt.timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(raw: str | None) -> str:
    name = single_line(raw, "name", what="token's name", max_length=100)
    if not name:
        raise AccountError("name", "Give the token a name, such as the system that will use it.")
    return name


def issue(session: Session, organisation_id: int, name: str,
          created_by_id: int | None) -> tuple[ApiToken, str]:
    """A new token row and the token itself, which is shown once and never stored."""
    token = SCHEME + secrets.token_urlsafe(30)
    row = ApiToken(organisation_id=organisation_id, name=check_name(name),
                   prefix=token[:PREFIX_LENGTH], token_hash=_digest(token),
                   created_by_id=created_by_id)
    session.add(row)
    session.flush()
    return row, token


def revoke(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = dt.datetime.now(dt.UTC)


def tokens_of(session: Session, organisation_id: int) -> list[ApiToken]:
    return list(session.scalars(
        select(ApiToken).where(ApiToken.organisation_id == organisation_id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
    ))


def resolve(session: Session, presented: str | None) -> ApiToken | None:
    """The active token `presented` is, or None (unknown, malformed or revoked)."""
    if not presented or not presented.startswith(SCHEME) or len(presented) > 200:
        return None
    digest = _digest(presented)
    found = None
    for row in session.scalars(
        select(ApiToken).where(ApiToken.prefix == presented[:PREFIX_LENGTH])
    ):
        if hmac.compare_digest(row.token_hash, digest):
            found = row
    if found is None or found.revoked_at is not None:
        return None
    return found


def bearer(header: str | None) -> str | None:
    scheme, _, value = (header or "").strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _unauthorised(message: str, presented: bool):
    challenge = 'Bearer realm="groupfinder"'
    if presented:
        challenge += ', error="invalid_token"'
    return ({"error": {"message": message}}, 401, {"WWW-Authenticate": challenge})


def require_token(view: Callable) -> Callable:
    """Guard an API view: `Authorization: Bearer <token>` or 401. Sets `g.api_token` and
    `g.organisation_id`; `finder.accounts.actor.current_actor()` then names the token."""

    @wraps(view)
    def guarded(*args, **kwargs):
        from finder.db import get_session

        header = request.headers.get("Authorization")
        presented = bearer(header)
        if presented is None:
            return _unauthorised("This needs an API token: send `Authorization: Bearer "
                                 "<token>` (tokens are made on your account page).", False)
        token = resolve(get_session(), presented)
        if token is None:
            return _unauthorised("This API token is not valid or has been revoked.", True)
        _touch(token)
        g.api_token = token
        g.organisation_id = token.organisation_id
        return view(*args, **kwargs)

    return guarded


def _touch(token: ApiToken) -> None:
    now = dt.datetime.now(dt.UTC)
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    with current_app.extensions["db"].transaction() as session:
        session.execute(ApiToken.__table__.update().where(ApiToken.id == token.id)
                        .values(last_used_at=now))
    token.last_used_at = now
