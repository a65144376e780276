"""The pages a reminder's links open: a button to press (a mail scanner that follows links
must not confirm or withdraw anything), then the change through the listing store."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, render_template

from finder.accounts.actor import Actor
from finder.accounts.links import LinkError, LinkExpired
from finder.db import get_session
from finder.freshness import links
from finder.listings import store
from finder.models import Group

bp = Blueprint("freshness", __name__)


def _actor(owner_id: int) -> Actor:
    return Actor("user", organisation_id=owner_id, label=f"reminder link of organisation "
                                                         f"{owner_id}")


def _checked(action: str, token: str) -> tuple[Group | None, str | None, bool]:
    """(the group, None, False) for a usable link; else (None, the reason, expired)."""
    if action not in links.ACTIONS:
        abort(404)
    try:
        group_id, owner_id = links.read_token(action, token)  # type: ignore[arg-type]
    except LinkError as exc:
        return None, str(exc), isinstance(exc, LinkExpired)
    group = get_session().get(Group, group_id)
    if group is None or group.owner_organisation_id != owner_id:
        return None, "This link is for a listing your organisation no longer manages.", False
    if group.status == "withdrawn":
        return None, "This listing has been taken down. Sign in to list the group again.", False
    return group, None, False


@bp.get("/listings/<action>/<token>")
def link(action: str, token: str):
    group, problem, expired = _checked(action, token)
    if group is None:
        return render_template("freshness/link_problem.html", message=problem,
                               expired=expired), 400
    return render_template("freshness/link.html", group=group, action=action, done=False)


@bp.post("/listings/<action>/<token>")
def act(action: str, token: str):
    group, problem, expired = _checked(action, token)
    if group is None:
        return render_template("freshness/link_problem.html", message=problem,
                               expired=expired), 400
    owner_id = group.owner_organisation_id
    assert owner_id is not None
    with current_app.extensions["db"].transaction() as session:
        if action == "confirm":
            store.confirm_group(session, group.id, actor=_actor(owner_id),
                                today=dt.datetime.now(dt.UTC).date())
        else:
            store.withdraw_group(session, group.id, actor=_actor(owner_id),
                                 reason="the organisation said the group has stopped "
                                        "(reminder link)")
    return render_template("freshness/link.html", group=group, action=action, done=True)
