"""Issue 6's "done" flow in Chromium against the live server, end to end.

A new organisation signs up and confirms its address through the mail the file mailer
wrote, lists one group with the form (checking the address first; without JavaScript),
makes an API token in the UI and sends a second group through the API; a moderator approves
one and rejects the other; the approved group appears in a search near its postcode, the
rejected one never does. axe-core checks the new pages on the way, with and without errors.
"""

from __future__ import annotations

import email
import re
from email.policy import default
from urllib.parse import urlsplit

from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE
from tests.browser.test_browser_accounts import _no_violations

STRONG = "quiet harbour lantern 42"
ORGANISER = "volunteer@riverside-loss.example.org"
ORGANISATION = "Riverside Loss Support"
FORM_GROUP = "Riverside Tuesday Circle"
API_GROUP = "Riverside Saturday Walk"


def _mail_link(address: str) -> str:
    """The link in the newest mail the file mailer wrote to `address` (its path)."""
    mails = []
    for path in sorted((ARTIFACTS / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        if message["To"] == address:
            mails.append(message)
    assert mails, f"no mail to {address}"
    url = re.search(r"https?://\S+", mails[-1].get_content()).group(0)
    return urlsplit(url).path


def _sign_in(page, address: str, password: str = STRONG) -> None:
    page.goto("/account/sign-in")
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/")


def _fill_group(page) -> None:
    page.get_by_label("Name of the group").fill(FORM_GROUP)
    page.get_by_label("What happens at the group").fill("A calm evening group by the river.")
    page.get_by_label("In person", exact=True).check()
    page.get_by_label("Venue name (optional)").fill("Riverside Community Centre")
    page.get_by_label("Address", exact=True).fill("3 Wharf Street")
    page.get_by_label("Town or city").fill("Leeds")
    page.get_by_label("Postcode or ZIP code").fill("LS2 9JT")
    page.locator("#country").select_option("GB")
    page.locator("#schedules-0-weekday").select_option("1")
    page.locator("#schedules-0-start_time").fill("19:00")
    page.get_by_label("Drop in", exact=True).check()
    page.get_by_label("Email address (optional)").fill("tuesday@riverside-loss.example.org")
    page.get_by_label("Miscarriage", exact=True).check()


def test_organisation_lists_two_groups_moderator_decides_search_shows_one(
        new_context, live_server):
    # 1. sign up and confirm, without JavaScript
    organiser_ctx, _ = new_context(viewport=PHONE, java_script_enabled=False)
    page = organiser_ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto("/account/sign-up")
    page.get_by_label("Email address").fill(ORGANISER)
    page.get_by_label("Password").fill(STRONG)
    page.get_by_label("Your organisation's name (optional)").fill(ORGANISATION)
    page.get_by_role("button", name="Create account").click()
    assert "Check your email" in page.content()
    page.goto(_mail_link(ORGANISER))
    page.wait_for_url("**/account/sign-in")
    _sign_in(page, ORGANISER)

    # 2. the form: a first try with a mistake, the address checked, then sent for review
    page.get_by_role("link", name="its listings").click()
    page.get_by_role("link", name="List a new group").click()
    _fill_group(page)
    page.locator("#schedules-0-start_time").fill("")
    page.get_by_role("button", name="Check the address").click()
    place = page.locator("#place-check")
    assert "LS2 9JT" in place.inner_text() and "approximate" not in place.inner_text()
    page.get_by_role("button", name="Send for review").click()
    summary = page.get_by_role("alert")
    assert "start" in summary.inner_text().lower()
    assert page.get_by_label("Name of the group").input_value() == FORM_GROUP  # kept
    page.locator("#schedules-0-start_time").fill("19:00")
    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url("**/listings")
    assert "Sent for review" in page.content() and "Waiting for a moderator" in page.content()

    # 3. a token made in the UI, and the second group through the API
    page.get_by_role("link", name=ORGANISATION).click()
    page.get_by_label("What will use this token?").fill("Our rota spreadsheet")
    page.get_by_role("button", name="Create a token").click()
    token = page.get_by_label("Token", exact=True).input_value()
    api = organiser_ctx.request.post("/api/v1/groups", headers={
        "Authorization": f"Bearer {token}"}, data={
        "name": API_GROUP, "format": "in_person",
        "join": {"mode": "register", "url": "https://riverside-loss.example.org/walk"},
        "location": {"venue_name": "Hyde Park gate", "address_line1": "Hyde Park Road",
                     "town": "Leeds", "postcode": "LS6 1AA", "country": "GB"},
        "schedules": [{"freq": "monthly", "set_pos": 1, "weekday": 5, "start_time": "10:30"}],
        "loss_types": ["stillbirth"]})
    assert api.status in (201, 202), api.text()
    organiser_ctx.close()

    # 4. the moderator approves the form's group and rejects the API's
    from finder.accounts import users

    with live_server.app.extensions["db"].transaction() as session:
        users.create_user(session, "moderator@riverside.example.org", STRONG, verified=True,
                          moderator=True)
    mod_ctx, _ = new_context(viewport=DESKTOP)
    mod = mod_ctx.new_page()
    mod.set_default_timeout(15_000)
    _sign_in(mod, "moderator@riverside.example.org")
    mod.get_by_role("link", name="Moderation queue").click()
    _no_violations(mod, "moderation-queue")
    mod.get_by_role("link", name=FORM_GROUP).click()
    assert mod.locator("table.diff").get_by_text(FORM_GROUP).count() == 1
    _no_violations(mod, "moderation-change")
    mod.get_by_role("button", name="Approve").click()
    mod.wait_for_url("**/moderation/")
    mod.get_by_role("link", name=API_GROUP).click()
    mod.get_by_label("Reason (sent to the organisation)").fill(
        "Please give the meeting point inside the park.")
    mod.get_by_role("button", name="Reject").click()
    mod.wait_for_url("**/moderation/")
    assert "Nothing is waiting" in mod.content()
    mod.get_by_role("link", name="Organisations and trust").click()
    assert ORGANISATION in mod.content()
    _no_violations(mod, "moderation-organisations")

    # the organisation is told why
    assert "Please give the meeting point inside the park." in _mail_body(ORGANISER)

    # 5. the public search near each postcode: the approved group, never the rejected one
    public_ctx, _ = new_context(viewport=PHONE)
    search = public_ctx.new_page()
    search.set_default_timeout(15_000)
    search.goto("/?near=LS2+9JT")
    results = search.locator("ol.groups").first.inner_text()
    assert FORM_GROUP in results and API_GROUP not in results
    search.goto("/?near=LS6+1AA")
    assert API_GROUP not in search.content()
    search.get_by_role("link", name=FORM_GROUP).first.click()
    assert re.search(f"Submitted by {ORGANISATION} on \\d{{4}}-\\d\\d-\\d\\d",
                     search.content())

    # the moderator can read the published group's history from its page
    mod.goto(urlsplit(search.url).path)
    mod.get_by_role("link", name="Its history (moderators)").click()
    assert "create" in mod.content() and FORM_GROUP in mod.content()
    _no_violations(mod, "moderation-history")


def _mail_body(address: str) -> str:
    bodies = []
    for path in sorted((ARTIFACTS / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        if message["To"] == address:
            bodies.append(message.get_content())
    return "\n".join(bodies)


def test_listing_pages_have_no_accessibility_violations(new_context, live_server):
    """The organisation's pages at both widths: the empty form, the form with errors and a
    checked address, the list, and the claim page."""
    from finder.accounts import organisations, users

    for viewport in (PHONE, DESKTOP):
        address = f"axe-{viewport['width']}@example.org"
        with live_server.app.extensions["db"].transaction() as session:
            user = users.create_user(session, address, STRONG, verified=True)
            org = organisations.create_organisation(session, f"Axe Org {viewport['width']}",
                                                    user)
            org_id = org.id
        context, _ = new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        _sign_in(page, address)
        page.goto(f"/account/organisations/{org_id}/listings/new")
        _no_violations(page, "listing-form")
        _fill_group(page)
        page.get_by_role("button", name="Check the address").click()
        _no_violations(page, "listing-form-place")
        page.get_by_label("Link to join or register (optional)").fill("javascript:alert(1)")
        page.locator("#schedules-0-start_time").fill("")
        page.get_by_role("button", name="Send for review").click()
        assert page.get_by_role("alert").is_visible()
        _no_violations(page, "listing-form-errors")
        page.goto(f"/account/organisations/{org_id}/listings")
        _no_violations(page, "listing-list")
        page.goto(f"/account/groups/{live_server.ids['monthly']}/claim")
        _no_violations(page, "listing-claim")
        context.close()
