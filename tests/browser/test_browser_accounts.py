"""The account pages in Chromium: axe-core finds nothing at both widths (empty forms, forms
with errors, the signed-in pages and a new token shown once), and the forms work by keyboard
and without JavaScript."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_browser_pages import AXE_RULES

STRONG = "quiet harbour lantern 42"

PUBLIC = {
    "sign-in": "/account/sign-in",
    "sign-up": "/account/sign-up",
    "forgot-password": "/account/password/forgot",
    "link-problem": "/account/verify/not-a-real-link",
}


def _no_violations(page, name: str) -> None:
    results = Axe().run(page, options=AXE_RULES)
    screenshot(page, name)
    assert results.violations_count == 0, results.generate_report()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", list(PUBLIC))
def test_account_page_has_no_accessibility_violations(new_context, name, viewport):
    context, _ = new_context(viewport=viewport)
    page = context.new_page()
    response = page.goto(PUBLIC[name])
    assert response is not None and response.status in (200, 400)
    _no_violations(page, f"account-{name}")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_sign_up_errors_by_keyboard(new_context, javascript):
    context, _ = new_context(viewport=PHONE, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/account/sign-up")
    page.get_by_label("Email address").fill("not-an-email")
    page.get_by_label("Password").fill("password")
    with page.expect_navigation():
        page.get_by_label("Password").press("Enter")
    summary = page.get_by_role("alert")
    assert "is not an email address" in summary.inner_text()
    assert "Use at least 12 characters" in summary.inner_text()
    assert page.get_by_label("Email address").input_value() == "not-an-email"
    assert page.get_by_label("Password").input_value() == ""  # never sent back
    assert page.get_by_label("Email address").get_attribute("aria-invalid") == "true"
    if javascript:  # axe runs as a script in the page; the markup is the same without it
        _no_violations(page, "account-sign-up-errors")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_signed_in_pages_and_a_new_token(new_context, live_server, viewport):
    from finder.accounts import organisations, users

    email = f"browser-{viewport['width']}@example.org"
    with live_server.app.extensions["db"].transaction() as session:
        user = users.find_by_email(session, email) or users.create_user(
            session, email, STRONG, verified=True)
        if not organisations.organisations_of(session, user.id):
            organisations.create_organisation(session, f"Browser Org {viewport['width']}", user)
    context, _ = new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/account/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(STRONG)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/")
    _no_violations(page, "account-home")

    page.get_by_role("link", name=f"Browser Org {viewport['width']}").click()
    page.get_by_label("What will use this token?").fill("Our website")
    page.get_by_role("button", name="Create a token").click()
    token = page.get_by_label("Token", exact=True).input_value()
    assert token.startswith("gf_") and len(token) == 43
    _no_violations(page, "account-new-token")

    page.goto(page.url)  # the organisation's page again: the token is not shown twice
    assert "Our website" in page.content() and token not in page.content()
    page.get_by_role("link", name="Your account").first.click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/account/sign-in")
