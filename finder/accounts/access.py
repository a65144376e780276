"""Who may do what: guards for the pages to come (submissions, moderation)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from finder.accounts import organisations
from finder.db import get_session


def moderator_required(view: Callable) -> Callable:
    """Signed in (else the sign-in page) and site staff (else 403)."""

    @wraps(view)
    @login_required
    def guarded(*args, **kwargs):
        if not current_user.is_moderator:
            abort(403)
        return view(*args, **kwargs)

    return guarded


def is_member(organisation_id: int) -> bool:
    """Whether the signed-in user belongs to the organisation (moderators do not, unless
    they are members: their powers come through the moderation pages)."""
    return current_user.is_authenticated and organisations.membership(
        get_session(), current_user.id, organisation_id) is not None
