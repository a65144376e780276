"""An organisation's pages through the real forms: the group form for every field, the
"check the address" step, several meeting times of every kind, errors next to their boxes
with what was typed kept, drafts, sending for review, withdrawing, cancelling, claiming;
and the group page's provenance and 404 for anything not published."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from finder.models import Group, ListingSource, Submission
from tests.factories import make_group
from tests.listings_support import GROUP_FORM, member, post_page, signed_in

LEEDS = (53.7997, -1.5492)


@pytest.fixture
def organiser(session, new_client):
    _, org = member(session, "organiser@example.org", "Leeds Loss Circle")
    client = signed_in(new_client(), "organiser@example.org")
    return client, org.id


def _new(org_id: int) -> str:
    return f"/account/organisations/{org_id}/listings/new"


def _errors(html: str, box: str) -> list[str]:
    return re.findall(rf'<p class="field-error" id="{re.escape(box)}-error\d+">([^<]+)</p>', html)


def _value(html: str, box: str) -> str | None:
    match = re.search(rf'<input[^>]*id="{re.escape(box)}"[^>]*value="([^"]*)"', html) or \
        re.search(rf'<input[^>]*value="([^"]*)"[^>]*id="{re.escape(box)}"', html)
    return match.group(1) if match else None


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_the_form_has_a_labelled_box_for_every_field(organiser):
    client, org_id = organiser
    html = client.get(_new(org_id)).get_data(as_text=True)
    for box in ("name", "description", "venue_name", "address_line1", "address_line2", "town",
                "region", "postcode", "country", "timezone", "service_countries",
                "service_anywhere", "join_url", "join_phone", "join_email", "join_notes",
                "accessibility_notes", "note", "schedules-0-repeat",
                "schedules-0-week_of_month", "schedules-0-weekday", "schedules-0-start_time",
                "schedules-0-duration_minutes", "schedules-0-valid_from",
                "schedules-0-valid_until", "schedules-0-cancelled_dates"):
        assert f'for="{box}"' in html, box
    for group in ("format", "join_mode", "loss_types", "audiences", "languages", "cost",
                  "facilitation"):
        assert re.search(rf'<fieldset id="{group}"[^>]*>\s*<legend>', html), group
    for kind in ("Every week", "Every other week", "Once a month", "First", "Last"):
        assert kind in html
    for button in ("Check the address", "Add another meeting time", "Save as a draft",
                   "Send for review"):
        assert button in html


def test_checking_the_address_shows_the_place_and_whether_it_is_approximate(organiser,
                                                                           session):
    client, org_id = organiser
    r = post_page(client, _new(org_id), {**GROUP_FORM, "action": "check"},
                  form_page=_new(org_id))
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "We placed the venue at LS1 3EX" in html and "centre of its postcode" in html
    assert "approximate" not in html.split('id="place-check"')[1].split("</div>")[0]
    # a postcode district only: placed, and said to be approximate
    r = post_page(client, _new(org_id), {**GROUP_FORM, "postcode": "LS1", "action": "check"},
                  form_page=_new(org_id))
    html = r.get_data(as_text=True)
    assert "This is approximate" in html
    # an unknown postcode: the message is next to the postcode box, the typing kept
    r = post_page(client, _new(org_id), {**GROUP_FORM, "postcode": "ZZ99 9ZZ",
                                         "action": "check"}, form_page=_new(org_id))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert any("ZZ99 9ZZ" in e for e in _errors(html, "postcode"))
    assert _value(html, "postcode") == "ZZ99 9ZZ" and _value(html, "name") == "Tuesday Circle"
    assert _count(session, Submission) == 0  # checking saves nothing


def test_several_meeting_times_of_every_kind(organiser, session):
    client, org_id = organiser
    form = {**GROUP_FORM, "action": "add_schedule"}
    r = post_page(client, _new(org_id), form, form_page=_new(org_id))
    html = r.get_data(as_text=True)
    assert html.count('class="schedule"') == 2 and _value(html, "schedules-0-start_time") == \
        "19:00"
    form.update({
        # first Saturday 10:30
        "schedules-1-repeat": "monthly", "schedules-1-week_of_month": "1",
        "schedules-1-weekday": "5", "schedules-1-start_time": "10:30",
        # every other Wednesday from a date, with an end date
        "schedules-2-repeat": "weekly:2", "schedules-2-weekday": "2",
        "schedules-2-start_time": "18:00", "schedules-2-valid_from": "2026-01-07",
        "schedules-2-valid_until": "2027-06-30",
        # last Thursday, with cancelled dates
        "schedules-3-repeat": "monthly", "schedules-3-week_of_month": "-1",
        "schedules-3-weekday": "3", "schedules-3-start_time": "19:30",
        "schedules-3-cancelled_dates": "2026-12-31, 2027-01-28",
        "schedules-0-cancelled_dates": "2026-12-29",
        "action": "submit",
    })
    r = post_page(client, _new(org_id), form, form_page=_new(org_id))
    assert r.status_code == 302, r.get_data(as_text=True)
    row = session.scalars(select(Submission)).one()
    assert (row.kind, row.state) == ("create", "pending")
    got = [(s["freq"], s["interval"], s.get("set_pos"), s["weekday"], s["start_time"])
           for s in row.payload["schedules"]]
    assert got == [("weekly", 1, None, 1, "19:00"), ("monthly", 1, 1, 5, "10:30"),
                   ("weekly", 2, None, 2, "18:00"), ("monthly", 1, -1, 3, "19:30")]
    assert row.payload["schedules"][2]["valid_until"] == "2027-06-30"
    assert row.payload["schedules"][3]["cancelled_dates"] == ["2026-12-31", "2027-01-28"]
    assert _count(session, Group) == 0  # nothing public until a moderator approves


def test_errors_are_next_to_their_boxes_and_nothing_is_written(organiser, session):
    client, org_id = organiser
    form = {**GROUP_FORM, "name": "", "join_url": "javascript:alert(1)",
            "schedules-0-weekday": "", "schedules-0-start_time": "25:00",
            "loss_types": ["miscarriage", "not-a-loss"], "action": "submit"}
    r = post_page(client, _new(org_id), form, form_page=_new(org_id))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert _errors(html, "name") and _errors(html, "join_url")
    assert any("25:00" in e for e in _errors(html, "schedules-0-start_time"))
    assert _errors(html, "loss_types")
    assert 'role="alert"' in html and 'href="#join_url"' in html
    assert _value(html, "join_url") == "javascript:alert(1)"
    assert _value(html, "schedules-0-start_time") == "25:00"
    assert 'value="miscarriage" checked' in html
    assert _count(session, Submission) == 0 and _count(session, Group) == 0


def test_a_draft_is_kept_private_then_sent_for_review(organiser, session, new_client):
    client, org_id = organiser
    r = post_page(client, _new(org_id), {**GROUP_FORM, "schedules-0-start_time": "",
                                         "action": "draft"}, form_page=_new(org_id))
    assert r.status_code == 302
    draft = session.scalars(select(Submission)).one()
    assert draft.state == "draft"
    listings = client.get(f"/account/organisations/{org_id}/listings").get_data(as_text=True)
    assert "Tuesday Circle" in listings and "Draft" in listings
    page = f"/account/organisations/{org_id}/submissions/{draft.id}"
    html = client.get(page).get_data(as_text=True)
    assert _value(html, "name") == "Tuesday Circle" and _value(html, "postcode") == "LS1 3EX"
    r = post_page(client, page, {**GROUP_FORM, "action": "submit"}, form_page=page)
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Submission, draft.id).state == "pending"
    assert _count(session, Submission) == 1


def test_cancelling_a_pending_submission(organiser, session):
    client, org_id = organiser
    post_page(client, _new(org_id), {**GROUP_FORM, "action": "submit"}, form_page=_new(org_id))
    row = session.scalars(select(Submission)).one()
    listings = f"/account/organisations/{org_id}/listings"
    r = post_page(client, f"{listings[:-9]}/submissions/{row.id}/cancel", {},
                  form_page=listings)
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Submission, row.id).state == "cancelled"


def test_editing_and_withdrawing_an_owned_group(organiser, session):
    client, org_id = organiser
    group = make_group(session, "Our Thursday Group", lat=LEEDS[0], lng=LEEDS[1],
                       owner_organisation_id=org_id)
    edit = f"/account/organisations/{org_id}/groups/{group.id}/edit"
    html = client.get(edit).get_data(as_text=True)
    assert _value(html, "name") == "Our Thursday Group"
    assert 'value="in_person" checked' in html
    r = post_page(client, edit, {**GROUP_FORM, "name": "Our Renamed Group",
                                 "action": "submit"}, form_page=edit)
    assert r.status_code == 302
    change = session.scalars(select(Submission)).one()
    assert (change.kind, change.state, change.group_id) == ("update", "pending", group.id)
    session.expire_all()
    assert session.get(Group, group.id).name == "Our Thursday Group"  # until approved
    r = post_page(client, f"{edit[:-5]}/withdraw", {"reason": "The group has ended"},
                  form_page=edit)
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Group, group.id).status == "withdrawn"
    assert client.get(f"/groups/{group.id}").status_code == 404


def test_claiming_an_imported_listing(organiser, session):
    client, org_id = organiser
    group = make_group(session, "Hospital Group", lat=LEEDS[0], lng=LEEDS[1])
    session.add(ListingSource(group_id=group.id, source="leeds-hospitals", external_id="7",
                              content_hash="x"))
    session.flush()
    page = client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert "Claim this listing" in page
    claim = f"/account/groups/{group.id}/claim"
    r = post_page(client, claim, {"organisation_id": str(org_id), "note": "We run it"},
                  form_page=claim)
    assert r.status_code == 302
    row = session.scalars(select(Submission)).one()
    assert (row.kind, row.state, row.organisation_id) == ("claim", "pending", org_id)


def test_group_page_provenance_and_no_claim_for_anonymous(client, session):
    group = make_group(session, "Imported Group", lat=LEEDS[0], lng=LEEDS[1])
    session.add(ListingSource(group_id=group.id, source="leeds-hospitals", external_id="9",
                              content_hash="x"))
    session.flush()
    html = client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert re.search(r"Imported from Leeds hospitals on \d{4}-\d\d-\d\d", html)
    assert "Claim this listing" not in html


def test_a_withdrawn_group_is_gone_and_a_paused_one_says_so(client, session, new_client):
    _, org = member(session, "owner@example.org", "Owner Org")
    withdrawn = make_group(session, "Quiet Group", lat=LEEDS[0], lng=LEEDS[1],
                           status="withdrawn", owner_organisation_id=org.id)
    paused = make_group(session, "Resting Group", lat=LEEDS[0], lng=LEEDS[1],
                        status="paused", owner_organisation_id=org.id)
    owner = signed_in(new_client(), "owner@example.org")
    for visitor in (client, owner):  # a withdrawn group is gone for all, its owner too
        assert visitor.get(f"/groups/{withdrawn.id}").status_code == 404
    page = client.get(f"/groups/{paused.id}")
    assert page.status_code == 200 and "This group is paused" in page.get_data(as_text=True)
    assert client.get(f"/api/v1/groups/{paused.id}").get_json()["status"] == "paused"
    assert "Resting Group" not in client.get(f"/?near={LEEDS[0]},{LEEDS[1]}").get_data(as_text=True)


def test_is_this_the_same_group(organiser, session):
    """A new group like one already listed asks first; saying it is different sends it."""
    client, org_id = organiser
    listed = make_group(session, "Tuesday Circle", lat=53.8014, lng=-1.5517)
    page = _new(org_id)
    r = post_page(client, page, {**GROUP_FORM, "action": "submit"}, form_page=page)
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert "Is this the same group?" in html and f'href="/groups/{listed.id}"' in html
    assert _value(html, "not_duplicate") == str(listed.id)
    assert _count(session, Submission) == 0
    r = post_page(client, page, {**GROUP_FORM, "not_duplicate": str(listed.id),
                                 "action": "submit"}, form_page=page)
    assert r.status_code == 302
    assert session.scalars(select(Submission.state)).all() == ["pending"]
