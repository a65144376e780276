"""Signed, expiring links mailed to people (itsdangerous, keyed by the app's SECRET_KEY).

Each purpose has its own salt, so a verification token can never be replayed as a reset
token. What makes a link single-use lives in its payload: a reset link carries the password
hash's fingerprint (dead once the password changes); an invitation is marked accepted.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"
INVITATION = "invitation"

# how long each kind of link works, in seconds
MAX_AGE = {
    VERIFY_EMAIL: 3 * 24 * 3600,
    RESET_PASSWORD: 3600,
    INVITATION: 14 * 24 * 3600,
}


class LinkError(Exception):
    """A link that cannot be used; the message is for the person who followed it."""


class LinkExpired(LinkError):
    pass


class LinkInvalid(LinkError):
    pass


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"finder.{purpose}")


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a token this app signed for `purpose` within its lifetime."""
    try:
        payload = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as exc:
        raise LinkExpired("This link has expired.") from exc
    except BadSignature as exc:
        raise LinkInvalid("This link is not valid. Please check it was copied in full.") from exc
    if not isinstance(payload, dict):
        raise LinkInvalid("This link is not valid. Please check it was copied in full.")
    return payload
