"""Hostile and oversize input through every box of the group form, the claim, withdraw and
moderation forms: never a 500, never half-written data; a clear message by the box, or the
value kept as typed (a draft keeps anything) and shown escaped wherever it appears."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from finder.models import Group, ListingSource, Submission
from tests.accounts_support import csrf_token
from tests.factories import make_group
from tests.listings_support import GROUP_FORM, member, post_page, signed_in

HOSTILE = [
    "<script>alert(1)</script>",
    "\x00",
    "nul\x00inside",
    "\u202eevil\u202c",
    "'; DROP TABLE groups; --",
    "x" * 5000,
    "😀" * 60,
    "   ",
    "javascript:alert(1)",
    "\r\nBcc: everyone@example.org",
    '"><img src=x onerror=alert(1)>',
]
BOXES = ["name", "description", "format", "venue_name", "address_line1", "address_line2",
         "town", "region", "postcode", "country", "timezone", "service_countries",
         "join_mode", "join_url", "join_phone", "join_email", "join_notes", "loss_types",
         "audiences", "languages", "cost", "facilitation", "accessibility_notes", "note",
         "not_duplicate", "schedules-0-repeat", "schedules-0-week_of_month",
         "schedules-0-weekday", "schedules-0-start_time", "schedules-0-duration_minutes",
         "schedules-0-valid_from", "schedules-0-valid_until", "schedules-0-cancelled_dates"]
ADDRESS_BOXES = {"format", "venue_name", "address_line1", "address_line2", "town", "region",
                 "postcode", "country"}
LEEDS = (53.7997, -1.5492)


@pytest.fixture
def organiser(session, new_client):
    _, org = member(session, "organiser@example.org", "Calm Org")
    member(session, "mod@example.org", moderator=True)
    return (signed_in(new_client(), "organiser@example.org"), org.id,
            signed_in(new_client(), "mod@example.org"))


def _counts(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (Submission, Group))


def _safe(html: str) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x onerror" not in html


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_every_box_of_the_group_form(app, organiser, session, value):
    from finder.accounts.extensions import limiter

    client, org_id, _ = organiser
    page = f"/account/organisations/{org_id}/listings/new"
    token = csrf_token(client, page)
    for box in BOXES:
        with app.app_context():
            limiter.reset()  # more posts than the submission limit allows a minute
        # "check the address" reads only the place's boxes
        actions = ("check", "submit", "draft") if box in ADDRESS_BOXES else ("submit", "draft")
        for action in actions:
            before = _counts(session)
            r = client.post(page, data={**GROUP_FORM, box: value, "action": action,
                                        "csrf_token": token})
            where = (box, action, r.status_code)
            assert r.status_code in (200, 302, 409, 422), where
            _safe(r.get_data(as_text=True))
            if r.status_code == 422:
                assert 'class="field-error"' in r.get_data(as_text=True), where
                assert _counts(session) == before, where
            if r.status_code == 302:
                row = session.scalars(select(Submission).order_by(Submission.id.desc())).first()
                shown = client.get(f"/account/organisations/{org_id}/submissions/{row.id}")
                assert shown.status_code == 200, where
                _safe(shown.get_data(as_text=True))
                listing = client.get(f"/account/organisations/{org_id}/listings")
                _safe(listing.get_data(as_text=True))
                session.execute(Submission.__table__.delete())
                session.commit()


def test_a_draft_keeps_what_was_typed_and_shows_it_escaped(organiser, session):
    client, org_id, moderator = organiser
    page = f"/account/organisations/{org_id}/listings/new"
    typed = '<b>Bold</b> & "quoted" group'
    r = post_page(client, page, {**GROUP_FORM, "name": typed, "action": "draft"},
                  form_page=page)
    assert r.status_code == 302
    row = session.scalars(select(Submission)).one()
    assert row.payload["name"] == typed
    html = client.get(f"/account/organisations/{org_id}/submissions/{row.id}")
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; &#34;quoted&#34; group" in html.get_data(as_text=True)
    # sent for review, approved: the public page shows it as typed, escaped
    edit = f"/account/organisations/{org_id}/submissions/{row.id}"
    post_page(client, edit, {**GROUP_FORM, "name": typed, "action": "submit"}, form_page=edit)
    change = f"/moderation/changes/{row.id}"
    assert "&lt;b&gt;Bold" in moderator.get(change).get_data(as_text=True)
    assert post_page(moderator, f"{change}/approve", {}, form_page=change).status_code == 302
    group = session.scalars(select(Group)).one()
    assert group.name == typed
    page_html = client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page_html and "<b>Bold</b>" not in page_html


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_claim_withdraw_and_moderation_forms(organiser, session, value):
    client, org_id, moderator = organiser
    imported = make_group(session, "Imported", lat=LEEDS[0], lng=LEEDS[1])
    session.add(ListingSource(group_id=imported.id, source="feed", external_id="1",
                              content_hash="x"))
    owned = make_group(session, "Owned", lat=LEEDS[0], lng=LEEDS[1],
                       owner_organisation_id=org_id)
    session.flush()
    claim = f"/account/groups/{imported.id}/claim"
    for data in ({"organisation_id": value}, {"organisation_id": str(org_id), "note": value}):
        r = post_page(client, claim, data, form_page=claim)
        assert r.status_code in (302, 422), (data, r.status_code)
        _safe(r.get_data(as_text=True))
    claim_row = session.scalars(select(Submission).where(Submission.kind == "claim")).first()
    if claim_row is not None:
        page = f"/moderation/changes/{claim_row.id}"
        _safe(moderator.get(page).get_data(as_text=True))
        r = post_page(moderator, f"{page}/reject", {"reason": value}, form_page=page)
        assert r.status_code in (302, 422), r.status_code
        _safe(r.get_data(as_text=True))
        _safe(client.get(f"/account/organisations/{org_id}/listings").get_data(as_text=True))
    edit = f"/account/organisations/{org_id}/groups/{owned.id}/edit"
    r = post_page(client, edit.replace("/edit", "/withdraw"), {"reason": value},
                  form_page=edit)
    assert r.status_code == 302, r.status_code
    _safe(client.get(edit).get_data(as_text=True))
    r = post_page(moderator, f"/moderation/organisations/{org_id}/trusted/{value[:3]}", {},
                  form_page="/moderation/organisations")
    assert r.status_code in (302, 404, 405), r.status_code

