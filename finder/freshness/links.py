"""The signed, expiring links in a reminder: "still running" and "we've stopped".

No log-in is needed: the link is the proof, signed with the app's SECRET_KEY for its own
purpose (a salt per action, so one can never be replayed as the other) and naming the group
and the organisation that owned it when the mail was sent (a link dies with a change of
owner). Expired or altered links raise `finder.accounts.links.LinkError`s.
"""

from __future__ import annotations

from typing import Literal

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from finder.accounts.links import LinkExpired, LinkInvalid

Action = Literal["confirm", "stopped"]
ACTIONS: tuple[Action, ...] = ("confirm", "stopped")
MAX_AGE_S = 30 * 24 * 3600  # a reminder's links work for 30 days

_INVALID = "This link is not valid. Please check it was copied in full."


def _serializer(action: Action) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"],
                                  salt=f"finder.freshness.{action}")


def make_token(action: Action, group_id: int, owner_id: int) -> str:
    return _serializer(action).dumps({"g": group_id, "o": owner_id})


def read_token(action: Action, token: str) -> tuple[int, int]:
    """(group id, owner organisation id) of a token signed for `action` within its life."""
    try:
        payload = _serializer(action).loads(token, max_age=MAX_AGE_S)
    except SignatureExpired as exc:
        raise LinkExpired("This link has expired. Sign in to confirm the listing, or wait "
                          "for the next reminder.") from exc
    except BadSignature as exc:
        raise LinkInvalid(_INVALID) from exc
    if not (isinstance(payload, dict) and isinstance(payload.get("g"), int)
            and isinstance(payload.get("o"), int)):
        raise LinkInvalid(_INVALID)
    return payload["g"], payload["o"]
