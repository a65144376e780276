"""Shared set-up for the submissions tests: two organisations with tokens, a moderator,
a group as an organisation would send it, and counts of what the write path may write."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from sqlalchemy import func, select

from finder.accounts import api_tokens, organisations, users
from finder.accounts.actor import Actor
from finder.models import Group, ListingAudit, Submission
from tests.accounts_support import STRONG

LEEDS_POSTCODE = "LS9 7TF"

NEW_GROUP = {
    "name": "Leeds miscarriage circle",
    "description": "A monthly circle for anyone after miscarriage.",
    "format": "in_person",
    "join": {"mode": "drop_in", "email": "circle@example.org"},
    "location": {"venue_name": "Community Hall", "address_line1": "Beckett Street",
                 "town": "Leeds", "postcode": LEEDS_POSTCODE, "country": "GB"},
    "schedules": [{"freq": "monthly", "weekday": 1, "set_pos": 1, "start_time": "19:00",
                   "valid_from": "2026-01-01"}],
    "loss_types": ["miscarriage"],
}


def new_group(**changes) -> dict:
    data = copy.deepcopy(NEW_GROUP)
    data.update(changes)
    return data


@dataclass
class World:
    org_a: int
    org_b: int
    user_a: int
    user_b: int
    moderator_id: int
    token_a: str
    token_b: str
    revoked_a: str
    moderator: Actor

    def auth(self, who: str | None) -> dict:
        token = {"a": self.token_a, "b": self.token_b, "revoked": self.revoked_a,
                 None: None}[who]
        return {"Authorization": f"Bearer {token}"} if token else {}


def make_world(session) -> World:
    a = users.create_user(session, "a@example.org", STRONG, verified=True)
    b = users.create_user(session, "b@example.org", STRONG, verified=True)
    mod = users.create_user(session, "mod@example.org", STRONG, verified=True, moderator=True)
    org_a = organisations.create_organisation(session, "Organisation A", a)
    org_b = organisations.create_organisation(session, "Organisation B", b)
    _, token_a = api_tokens.issue(session, org_a.id, "A's site", a.id)
    _, token_b = api_tokens.issue(session, org_b.id, "B's site", b.id)
    revoked, revoked_token = api_tokens.issue(session, org_a.id, "old", a.id)
    api_tokens.revoke(revoked)
    session.flush()
    return World(org_a.id, org_b.id, a.id, b.id, mod.id, token_a, token_b, revoked_token,
                 Actor.user(mod))


def written(session) -> dict:
    """What the write path may have written, to compare before and after a refusal."""
    session.expire_all()
    return {
        "groups": session.execute(select(Group.id, Group.name, Group.status,
                                         Group.owner_organisation_id, Group.description)
                                  .order_by(Group.id)).all(),
        "submissions": session.execute(select(Submission.id, Submission.state,
                                              Submission.payload)
                                       .order_by(Submission.id)).all(),
        "audit": session.scalar(select(func.count()).select_from(ListingAudit)),
    }
