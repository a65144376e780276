"""Helpers for the organisation and moderation page tests: people in organisations, signed in
through the real sign-in page; a complete group form as a browser posts it; submissions as
rows for the tests that need one to exist beforehand."""

from __future__ import annotations

import datetime as dt
import functools

from finder.accounts import organisations, passwords
from finder.accounts.models import User
from finder.models import Submission
from tests.accounts_support import STRONG, csrf_token, sign_in

# a group that can be listed, as the form's boxes post it (LS1 3EX is in the bundled data)
GROUP_FORM = {
    "name": "Tuesday Circle",
    "description": "A calm evening group.\n\nTea and biscuits.",
    "format": "in_person",
    "venue_name": "St Mary's Hall",
    "address_line1": "1 Park Row",
    "town": "Leeds",
    "postcode": "LS1 3EX",
    "country": "GB",
    "join_mode": "drop_in",
    "join_email": "circle@example.org",
    "loss_types": ["miscarriage", "ectopic"],
    "audiences": ["couples"],
    "languages": ["en"],
    "cost": "free",
    "facilitation": "peer",
    "schedules-0-repeat": "weekly",
    "schedules-0-weekday": "1",
    "schedules-0-start_time": "19:00",
    "schedules-0-duration_minutes": "90",
}

# the same group as the API's JSON (finder.submissions.payload)
GROUP_JSON = {
    "name": "Saturday Morning Circle",
    "format": "in_person",
    "join": {"mode": "drop_in", "email": "saturday@example.org"},
    "location": {"venue_name": "Community Centre", "address_line1": "2 High Street",
                 "town": "Leeds", "postcode": "LS1 3EX", "country": "GB"},
    "schedules": [{"freq": "monthly", "set_pos": 1, "weekday": 5, "start_time": "10:30"}],
    "loss_types": ["stillbirth"],
}


@functools.cache
def _strong_hash() -> str:
    """STRONG's argon2 hash, made once: these tests are about pages, not password rules."""
    return passwords.hash_password(STRONG)


def member(session, email: str, organisation: str | None = None, *, moderator=False):
    """A verified person (and the organisation they found, if named)."""
    user = User(email=email, password_hash=_strong_hash(), is_moderator=moderator,
                verified_at=dt.datetime.now(dt.UTC))
    session.add(user)
    session.flush()
    org = organisations.create_organisation(session, organisation, user) if organisation \
        else None
    session.flush()
    return user, org


def signed_in(client, email: str):
    r = sign_in(client, email, STRONG)
    assert r.status_code == 302, (email, r.status_code)
    return client


def session_of(client, user):
    """`client` signed in as `user` without the sign-in form (its cost is argon2's): the
    session Flask-Login keeps after a real sign-in. For tests about what pages allow."""
    with client.session_transaction() as cookie_session:
        cookie_session["_user_id"] = user.get_id()
        cookie_session["_fresh"] = True
    return client


def post_page(client, path: str, data: dict, *, form_page: str):
    """Post `data` as a browser would: with the CSRF token of the page the form is on."""
    token = csrf_token(client, form_page)
    return client.post(path, data={**data, "csrf_token": token})


def add_submission(session, organisation_id: int | None, *, kind: str = "create",
                   state: str = "draft", payload: dict | None = None,
                   group_id: int | None = None, note: str | None = None) -> Submission:
    row = Submission(kind=kind, state=state, organisation_id=organisation_id,
                     group_id=group_id, payload=payload, note=note,
                     created_by={"kind": "user", "label": "test"})
    session.add(row)
    session.flush()
    return row
