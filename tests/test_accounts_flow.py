"""Signing up, confirming, signing in and out, password reset: through the real pages, with
the mail read back from the file mailer and the data checked in PostGIS."""

from __future__ import annotations

import re
import time

import time_machine
from sqlalchemy import func, select

from finder.accounts.models import Membership, User
from finder.models import Organisation
from tests.accounts_support import OTHER_STRONG, STRONG, csrf_token, post_form, sign_in


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_sign_up_verify_sign_in_sign_out(client, session, mailbox):
    page = client.get("/account/sign-up")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="email">' in html and '<label for="password">' in html

    r = post_form(client, "/account/sign-up", {
        "email": "Midwife@Example.org", "password": STRONG,
        "organisation_name": "Rainbow Families Leeds", "website": "https://rainbow.example.org",
    })
    assert r.status_code == 200
    assert "Check your email" in r.get_data(as_text=True)

    user = session.scalars(select(User)).one()
    assert user.email == "Midwife@example.org"  # domain lower-cased, local part as typed
    assert user.verified_at is None
    assert user.password_hash.startswith("$argon2id$") and STRONG not in user.password_hash
    org = session.scalars(select(Organisation).where(
        Organisation.name == "Rainbow Families Leeds")).one()
    assert session.get(Membership, (user.id, org.id)).role == "member"

    # not confirmed yet: signing in is refused and a new link goes out
    mailbox.clear()
    r = sign_in(client, "midwife@example.org", STRONG)
    assert r.status_code == 422
    assert "confirm your email address first" in r.get_data(as_text=True)
    link = mailbox.link_in_last("Midwife@example.org")
    assert link.startswith("/account/verify/")

    r = client.get(link)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/sign-in")
    session.expire_all()
    assert session.get(User, user.id).verified_at is not None

    r = sign_in(client, "MIDWIFE@example.org", STRONG)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # local development and tests speak plain http

    account = client.get("/account/")
    assert account.status_code == 200
    text = account.get_data(as_text=True)
    assert "Midwife@example.org" in text and "Rainbow Families Leeds" in text

    r = post_form(client, "/account/sign-out", {}, form_page="/account/")
    assert r.status_code == 302
    after = client.get("/account/")
    assert after.status_code == 302 and "/account/sign-in" in after.headers["Location"]


def test_secure_cookie_when_configured(app, client, session):
    from finder.accounts import users

    users.create_user(session, "tls@example.org", STRONG, verified=True)
    session.flush()
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        r = sign_in(client, "tls@example.org", STRONG)
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    assert r.status_code == 302
    assert "Secure" in r.headers["Set-Cookie"]


def _errors_for(html: str, field: str) -> list[str]:
    return re.findall(rf'<p class="field-error" id="{field}-error\d+">([^<]+)</p>', html)


def test_bad_sign_ups_name_the_field_and_write_nothing(app, client, session, mailbox):
    from finder.accounts import users
    from finder.accounts.extensions import limiter

    users.create_user(session, "Taken@Example.org", STRONG)
    session.flush()
    before = _count(session, User), _count(session, Organisation)
    cases = [
        ({"email": "not-an-email", "password": STRONG}, "email", "is not an email address"),
        ({"email": "", "password": STRONG}, "email", "Enter your email address"),
        ({"email": "short@example.org", "password": "tiny pass"}, "password",
         "at least 12 characters"),
        ({"email": "common@example.org", "password": "1q2w3e4r5t6y"}, "password",
         "most common passwords"),
        ({"email": "weak@example.org", "password": "aaaaaaaaaaaaaaaa"}, "password",
         "too easy to guess"),
        ({"email": "TAKEN@example.ORG", "password": STRONG}, "email", "already exists"),
        ({"email": "site@example.org", "password": STRONG, "website": "javascript:alert(1)",
          "organisation_name": "Good Org"}, "website", "is not a web address"),
    ]
    for data, field, expected in cases:
        with app.app_context():
            limiter.reset()  # more attempts than the sign-up limit allows a minute
        r = post_form(client, "/account/sign-up", data)
        html = r.get_data(as_text=True)
        assert r.status_code == 422, data
        errors = _errors_for(html, field)
        assert any(expected in e for e in errors), (data, errors)
        assert 'aria-invalid="true"' in html
        # what was typed is kept, never the password
        if data["email"]:
            assert f'value="{data["email"]}"' in html
        assert data["password"] not in html
    assert (_count(session, User), _count(session, Organisation)) == before
    assert mailbox.messages() == []


def test_existing_organisation_name_is_refused_whole(client, session):
    session.add(Organisation(name="St Mary's Hospital"))
    session.flush()
    r = post_form(client, "/account/sign-up", {
        "email": "new@example.org", "password": STRONG, "organisation_name": "st mary's hospital"})
    assert r.status_code == 422
    assert "is already listed" in r.get_data(as_text=True)
    # the user row written before the organisation failed was rolled back with it
    assert session.scalar(select(User).where(User.email == "new@example.org")) is None


def _signed_up(client, session, mailbox, email="parent@example.org") -> str:
    post_form(client, "/account/sign-up", {"email": email, "password": STRONG})
    return mailbox.link_in_last(email)


def test_verification_link_expires(client, session, mailbox):
    link = _signed_up(client, session, mailbox)
    with time_machine.travel(time.time() + 4 * 24 * 3600):
        r = client.get(link)
    assert r.status_code == 400
    assert "expired" in r.get_data(as_text=True)
    assert session.scalars(select(User)).one().verified_at is None


def test_tampered_links_are_refused(client, session, mailbox):
    link = _signed_up(client, session, mailbox)
    prefix, token = link.rsplit("/", 1)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = client.get(f"{prefix}/{tampered}")
    assert r.status_code == 400 and "not valid" in r.get_data(as_text=True)
    # a reset link's signature is no verification link (separate salts)
    user = session.scalars(select(User)).one()
    mailbox.clear()
    session.execute(User.__table__.update().values(verified_at=func.now()))
    post_form(client, "/account/password/forgot", {"email": user.email})
    reset_token = mailbox.link_in_last(user.email).rsplit("/", 1)[1]
    assert client.get(f"/account/verify/{reset_token}").status_code == 400
    assert client.get("/account/password/reset/garbage").status_code == 400


def test_password_reset_is_single_use_and_invalidates_older_links(client, session, mailbox):
    from finder.accounts import users

    users.create_user(session, "reset@example.org", STRONG, verified=True)
    session.flush()
    post_form(client, "/account/password/forgot", {"email": "reset@example.org"})
    first = mailbox.link_in_last("reset@example.org")
    post_form(client, "/account/password/forgot", {"email": "RESET@example.org"})
    second = mailbox.link_in_last("reset@example.org")

    assert client.get(second).status_code == 200
    r = post_form(client, second, {"password": "short"})
    assert r.status_code == 422 and "at least 12 characters" in r.get_data(as_text=True)
    r = post_form(client, second, {"password": OTHER_STRONG})
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/sign-in")

    for used in (first, second):
        r = client.get(used)
        assert r.status_code == 400 and "already been used" in r.get_data(as_text=True)
    assert sign_in(client, "reset@example.org", STRONG).status_code == 422
    assert sign_in(client, "reset@example.org", OTHER_STRONG).status_code == 302


def test_reset_link_expires(client, session, mailbox):
    from finder.accounts import users

    users.create_user(session, "late@example.org", STRONG, verified=True)
    session.flush()
    post_form(client, "/account/password/forgot", {"email": "late@example.org"})
    link = mailbox.link_in_last("late@example.org")
    with time_machine.travel(time.time() + 2 * 3600):
        r = client.get(link)
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)


def test_forgot_password_says_the_same_for_unknown_addresses(client, mailbox):
    r = post_form(client, "/account/password/forgot", {"email": "nobody@example.org"})
    assert r.status_code == 200 and "If there is an account" in r.get_data(as_text=True)
    assert mailbox.messages() == []


def test_password_change_ends_other_sessions(app, client, session, mailbox, new_client):
    from finder.accounts import users

    users.create_user(session, "two@example.org", STRONG, verified=True)
    session.flush()
    other = new_client()
    assert sign_in(other, "two@example.org", STRONG).status_code == 302
    assert other.get("/account/").status_code == 200
    post_form(client, "/account/password/forgot", {"email": "two@example.org"})
    post_form(client, mailbox.link_in_last("two@example.org"), {"password": OTHER_STRONG})
    assert other.get("/account/").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(client, session):
    from finder.accounts import users

    users.create_user(session, "known@example.org", STRONG, verified=True)
    session.flush()
    wrong = sign_in(client, "known@example.org", OTHER_STRONG)
    unknown = sign_in(client, "unknown@example.org", OTHER_STRONG)
    assert wrong.status_code == unknown.status_code == 422
    message = "That email address and password do not match an account."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_sign_in_redirects_only_within_the_site(client, session):
    from finder.accounts import users

    users.create_user(session, "next@example.org", STRONG, verified=True)
    session.flush()
    for target, expected in (("/account/organisations/1", "/account/organisations/1"),
                             ("https://evil.example/", "/account/"),
                             ("//evil.example/", "/account/")):
        token = csrf_token(client, f"/account/sign-in?next={target}")
        r = client.post("/account/sign-in", data={
            "email": "next@example.org", "password": STRONG, "next": target,
            "csrf_token": token})
        assert r.status_code == 302 and r.headers["Location"] == expected, target
        client.post("/account/sign-out", data={"csrf_token": csrf_token(client, "/account/")})


def test_forms_without_csrf_token_are_rejected(client, session, new_client):
    from finder.accounts import users

    users.create_user(session, "csrf@example.org", STRONG, verified=True)
    session.flush()
    for path, data in (("/account/sign-up", {"email": "x@example.org", "password": STRONG}),
                       ("/account/sign-in", {"email": "csrf@example.org", "password": STRONG}),
                       ("/account/password/forgot", {"email": "csrf@example.org"})):
        r = client.post(path, data=data)
        assert r.status_code == 400, path
        assert "nothing was changed" in r.get_data(as_text=True)
    assert session.scalar(select(User).where(User.email == "x@example.org")) is None
    # a token from another session does not work either
    assert sign_in(client, "csrf@example.org", STRONG).status_code == 302
    stolen = csrf_token(client, "/account/")
    intruder_client = new_client()
    r = intruder_client.post("/account/sign-out", data={"csrf_token": stolen})
    assert r.status_code == 400


def test_sign_in_flooding_is_rate_limited(client, session):
    token = csrf_token(client, "/account/sign-in")
    statuses = [
        client.post("/account/sign-in", data={"email": "victim@example.org",
                                              "password": f"guess number {i}",
                                              "csrf_token": token}).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [422] * 10
    assert statuses[10:] == [429, 429]
    r = client.post("/account/sign-in", data={"email": "victim@example.org",
                                              "password": "x", "csrf_token": token})
    assert r.status_code == 429
    assert "too many attempts" in r.get_data(as_text=True)
    assert r.headers.get("Retry-After")
    # reading the page is not limited
    assert client.get("/account/sign-in").status_code == 200


def test_search_pages_set_no_cookie(client):
    r = client.get("/?near=SW1A+1AA")
    assert "Set-Cookie" not in r.headers
    assert "Organisations: sign in" in r.get_data(as_text=True)


def test_guessing_one_account_from_many_addresses_is_rate_limited(client):
    token = csrf_token(client, "/account/sign-in")
    statuses = [
        client.post("/account/sign-in",
                    data={"email": "Victim@example.org" if i % 2 else "victim@example.org",
                          "password": f"guess number {i}", "csrf_token": token},
                    environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"}).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [422] * 20 and statuses[20] == 429
    # another account from a fresh address is not affected
    r = client.post("/account/sign-in", data={"email": "other@example.org", "password": "x",
                                              "csrf_token": token},
                    environ_base={"REMOTE_ADDR": "192.0.2.200"})
    assert r.status_code == 422
