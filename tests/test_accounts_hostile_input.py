"""Hostile and oversize input through every account form field: a clear field error or a
value stored as typed and shown escaped; never a 500, never half-written data."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from finder.accounts import organisations, users
from finder.accounts.extensions import limiter
from finder.accounts.models import ApiToken, Invitation, User
from finder.models import Organisation
from tests.accounts_support import STRONG, post_form, sign_in

HOSTILE = [
    "<script>alert(1)</script>",
    "\x00",
    "nul\x00inside",
    "\u202eevil\u202c",
    "'; DROP TABLE users; --",
    "x" * 5000,
    "😀" * 60,
    "   ",
    "javascript:alert(1)",
    "\r\nBcc: everyone@example.org",
]


def _counts(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (User, Organisation, Invitation, ApiToken))


@pytest.fixture
def member(app, session, new_client):
    user = users.create_user(session, "member@example.org", STRONG, verified=True)
    org = organisations.create_organisation(session, "Calm Org", user)
    session.flush()
    client = new_client()
    assert sign_in(client, "member@example.org", STRONG).status_code == 302
    return client, org.id


def _check(r, value: str) -> None:
    assert r.status_code in (200, 302, 422), r.status_code
    html = r.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    if r.status_code == 422:
        assert 'class="field-error"' in html


@pytest.mark.parametrize("value", HOSTILE)
def test_sign_up_fields(app, client, session, value):
    before = _counts(session)
    for field in ("email", "password", "organisation_name", "website"):
        with app.app_context():
            limiter.reset()
        data = {"email": "hostile@example.org", "password": STRONG,
                "organisation_name": "Hostile Org", "website": "https://hostile.example.org"}
        data[field] = value
        r = post_form(client, "/account/sign-up", data)
        _check(r, value)
        if r.status_code == 200:  # accepted: stored as typed (spaces collapsed), one account
            user = users.find_by_email(session, "hostile@example.org")
            assert user is not None
            session.delete(user)
            session.execute(Organisation.__table__.delete().where(
                Organisation.name != "nothing"))
            session.flush()
        else:
            assert _counts(session) == before, (field, value)


@pytest.mark.parametrize("value", HOSTILE)
def test_member_forms(member, session, value):
    client, org_id = member
    page = f"/account/organisations/{org_id}"
    for path, field, form_page in (
        (f"{page}/invitations", "email", page),
        (f"{page}/tokens", "name", page),
        ("/account/organisations", "organisation_name", "/account/"),
        ("/account/organisations", "website", "/account/"),
    ):
        before = _counts(session)
        data = {field: value}
        if path.endswith("/organisations") and field == "website":
            data["organisation_name"] = "Website Test Org"
        r = post_form(client, path, data, form_page=form_page)
        _check(r, value)
        if r.status_code == 422:
            assert _counts(session) == before, (path, value)
        else:
            # accepted values are shown escaped where they appear
            shown = client.get(page if "tokens" in path else "/account/")
            assert "<script>alert(1)</script>" not in shown.get_data(as_text=True)


def test_accepted_names_are_stored_as_typed_and_escaped(member, session):
    client, org_id = member
    page = f"/account/organisations/{org_id}"
    r = post_form(client, f"{page}/tokens", {"name": "<b>bold</b> & \"quotes\""},
                  form_page=page)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quotes&#34;" in html
    assert session.scalar(select(ApiToken.name)) == "<b>bold</b> & \"quotes\""
