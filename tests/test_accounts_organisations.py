"""Organisations: invitations, API tokens, and who may see or change what (the matrix)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
import time_machine
from sqlalchemy import func, select

from finder.accounts import organisations, users
from finder.accounts.models import ApiToken, Invitation, Membership, User
from tests.accounts_support import OTHER_STRONG, STRONG, csrf_token, post_form, sign_in

_TOKEN = re.compile(r'value="(gf_[A-Za-z0-9_-]+)"')


@dataclass
class World:
    org_a: int
    org_b: int
    token_a: int


@pytest.fixture
def world(session) -> World:
    a = users.create_user(session, "a@example.org", STRONG, verified=True)
    b = users.create_user(session, "b@example.org", STRONG, verified=True)
    users.create_user(session, "mod@example.org", STRONG, verified=True, moderator=True)
    org_a = organisations.create_organisation(session, "Organisation A", a)
    org_b = organisations.create_organisation(session, "Organisation B", b)
    from finder.accounts import api_tokens

    token_a, _ = api_tokens.issue(session, org_a.id, "A's website", a.id)
    session.flush()
    return World(org_a.id, org_b.id, token_a.id)


def _client_as(new_client, who: str | None):
    client = new_client()
    if who is not None:
        assert sign_in(client, who, STRONG).status_code == 302
    return client


def _token_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no new token on the page"
    return match.group(1)


ACTORS = [None, "a@example.org", "b@example.org", "mod@example.org"]


def test_authorisation_matrix(app, session, world, new_client):
    """Every account page and action, for each kind of visitor. Pages to come (submissions,
    moderation, the write API) add their rows here: a 302 for anonymous goes to sign-in, a
    404 means "not yours" (no hint that it exists), and a refused POST writes nothing."""
    a, b = world.org_a, world.org_b
    # (method, path, expected status for: anonymous, member of A, member of B, moderator)
    pages = [
        ("GET", "/account/sign-up", (200, 200, 200, 200)),
        ("GET", "/account/sign-in", (200, 200, 200, 200)),
        ("GET", "/account/password/forgot", (200, 200, 200, 200)),
        ("GET", "/account/", (302, 200, 200, 200)),
        ("GET", f"/account/organisations/{a}", (302, 200, 404, 404)),
        ("GET", f"/account/organisations/{b}", (302, 404, 200, 404)),
        ("POST", f"/account/organisations/{a}/invitations", (302, 302, 404, 404)),
        ("POST", f"/account/organisations/{b}/invitations", (302, 404, 302, 404)),
        ("POST", f"/account/organisations/{a}/tokens", (302, 200, 404, 404)),
        # B may not revoke A's token, not even through B's own organisation's address
        ("POST", f"/account/organisations/{b}/tokens/{world.token_a}/revoke",
         (302, 404, 404, 404)),
        ("POST", f"/account/organisations/{a}/tokens/{world.token_a}/revoke",
         (302, 302, 404, 404)),
    ]
    form_data = {"invitations": {"email": "colleague@example.org"},
                 "tokens": {"name": "sync"}}
    for index, who in enumerate(ACTORS):
        client = _client_as(new_client, who)
        token = csrf_token(client, "/account/" if who else "/account/sign-in")
        for method, path, expected in pages:
            data = next((v for k, v in form_data.items() if path.endswith(k)), {})
            if method == "GET":
                r = client.get(path)
            else:
                before = _state(session)
                r = client.post(path, data={**data, "csrf_token": token})
                if who is None or expected[index] == 404:  # refused: nothing written
                    assert _state(session) == before, (who, path)
            assert r.status_code == expected[index], (who, method, path, r.status_code)
            if r.status_code == 302 and who is None:
                assert "/account/sign-in" in r.headers["Location"]
            if who == "b@example.org" and method == "GET" and r.status_code == 200:
                assert "A's website" not in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(ApiToken, world.token_a).revoked_at is not None  # by A, last


def _state(session):
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(Invitation)),
            session.scalar(select(func.count()).select_from(ApiToken)),
            session.scalar(select(func.count()).select_from(ApiToken)
                           .where(ApiToken.revoked_at.is_not(None))))


def test_token_created_once_used_and_revoked(app, session, world, new_client):
    client = _client_as(new_client, "a@example.org")
    page = f"/account/organisations/{world.org_a}"
    r = post_form(client, f"{page}/tokens", {"name": "  Volunteer rota sync "}, form_page=page)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    token = _token_from(r.get_data(as_text=True))
    assert 'value="  Volunteer rota sync "' not in r.get_data(as_text=True)  # form emptied

    row = session.scalars(select(ApiToken).where(ApiToken.name == "Volunteer rota sync")).one()
    assert row.prefix == token[:11] and token not in row.token_hash and len(row.token_hash) == 64
    assert token not in client.get(page).get_data(as_text=True)  # shown once

    api = new_client()
    r = api.get("/api/v1/token", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json["organisation"] == {"id": world.org_a, "name": "Organisation A"}
    assert r.json["token"]["prefix"] == token[:11]
    session.expire_all()
    assert session.get(ApiToken, row.id).last_used_at is not None

    # the last character changed (a random token may already end in "x": then to "y")
    altered = token[:-1] + ("y" if token.endswith("x") else "x")
    for header in (None, "Bearer", f"Basic {token}", f"Bearer {altered}",
                   f"Bearer {token[:11]}{'A' * 40}", "Bearer gf_"):
        r = api.get("/api/v1/token", headers={"Authorization": header} if header else {})
        assert r.status_code == 401, header
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in r.json

    r = post_form(client, f"{page}/tokens/{row.id}/revoke", {}, form_page=page)
    assert r.status_code == 302
    r = api.get("/api/v1/token", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "revoked" in r.json["error"]["message"]


def test_token_needs_a_name(app, session, world, new_client):
    client = _client_as(new_client, "a@example.org")
    page = f"/account/organisations/{world.org_a}"
    r = post_form(client, f"{page}/tokens", {"name": "   "}, form_page=page)
    assert r.status_code == 422 and "Give the token a name" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_invite_a_new_person(app, session, world, mailbox, new_client):
    inviter = _client_as(new_client, "a@example.org")
    page = f"/account/organisations/{world.org_a}"
    r = post_form(inviter, f"{page}/invitations", {"email": "New.Person@Example.org"},
                  form_page=page)
    assert r.status_code == 302
    assert "New.Person@example.org" in inviter.get(page).get_data(as_text=True)
    link = mailbox.link_in_last("New.Person@example.org")
    assert "Organisation A" in mailbox.last_to("New.Person@example.org")["Subject"]

    invited = new_client()
    assert "Choose a" in invited.get(link).get_data(as_text=True)
    r = post_form(invited, link, {"password": "password1234"})
    assert r.status_code == 422 and "password" in r.get_data(as_text=True).lower()
    r = post_form(invited, link, {"password": OTHER_STRONG})
    assert r.status_code == 302 and r.headers["Location"].endswith(page)
    assert invited.get(page).status_code == 200

    user = users.find_by_email(session, "new.person@example.org")
    assert user.verified_at is not None
    assert session.get(Membership, (user.id, world.org_a)) is not None
    # used once
    r = new_client().get(link)
    assert r.status_code == 400 and "already been accepted" in r.get_data(as_text=True)


def test_invite_someone_with_an_account(app, session, world, mailbox, new_client):
    a = _client_as(new_client, "a@example.org")
    page = f"/account/organisations/{world.org_a}"
    post_form(a, f"{page}/invitations", {"email": "b@example.org"}, form_page=page)
    link = mailbox.link_in_last("b@example.org")

    # the link forwarded to someone else does not let them join
    r = a.get(link)
    assert r.status_code == 403 and "sent to" in r.get_data(as_text=True)
    anonymous = new_client()
    assert "already has an account" in anonymous.get(link).get_data(as_text=True)
    r = anonymous.post(link, data={"password": OTHER_STRONG,
                                   "csrf_token": csrf_token(anonymous, "/account/sign-in")})
    assert r.status_code == 403

    b = _client_as(new_client, "b@example.org")
    r = post_form(b, link, {})
    assert r.status_code == 302
    b_user = users.find_by_email(session, "b@example.org")
    assert session.get(Membership, (b_user.id, world.org_a)) is not None
    assert b.get(page).status_code == 200


def test_invitations_refuse_members_bad_addresses_and_expire(session, world, mailbox,
                                                             new_client):
    a = _client_as(new_client, "a@example.org")
    page = f"/account/organisations/{world.org_a}"
    for email, expected in (("a@EXAMPLE.org", "already a member"),
                            ("nope", "is not an email address")):
        r = post_form(a, f"{page}/invitations", {"email": email}, form_page=page)
        assert r.status_code == 422 and expected in r.get_data(as_text=True)
        assert f'value="{email}"' in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Invitation)) == 0

    post_form(a, f"{page}/invitations", {"email": "late@example.org"}, form_page=page)
    link = mailbox.link_in_last("late@example.org")
    with time_machine.travel(time.time() + 15 * 24 * 3600):
        r = new_client().get(link)
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    assert users.find_by_email(session, "late@example.org") is None


def test_organisation_created_after_sign_up(app, session, new_client):
    users.create_user(session, "later@example.org", STRONG, verified=True)
    session.flush()
    client = _client_as(new_client, "later@example.org")
    r = post_form(client, "/account/organisations", {"organisation_name": ""},
                  form_page="/account/")
    assert r.status_code == 422 and "Enter the organisation" in r.get_data(as_text=True)
    r = post_form(client, "/account/organisations",
                  {"organisation_name": "  Stillbirth   Support  Bristol "},
                  form_page="/account/")
    assert r.status_code == 302
    user = session.scalars(select(User).where(User.email == "later@example.org")).one()
    (org,) = organisations.organisations_of(session, user.id)
    assert org.name == "Stillbirth Support Bristol"
    assert client.get(r.headers["Location"]).status_code == 200
