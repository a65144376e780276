"""The moderation pages through the real forms: the queue, a change as before/after per
field, approving (the group is published and says who submitted it), rejecting with a
reason (mailed, and shown on the organisation's list), trusting an organisation, a claim,
an import's differences for a claimed listing, and a group's history."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from finder.models import Group, ListingSource, Organisation, Submission
from tests.factories import make_group
from tests.listings_support import GROUP_FORM, add_submission, member, post_page, signed_in

LEEDS = (53.7997, -1.5492)


@pytest.fixture
def people(session, new_client):
    _, org = member(session, "organiser@example.org", "Leeds Loss Circle")
    member(session, "mod@example.org", moderator=True)
    return (signed_in(new_client(), "organiser@example.org"), org.id,
            signed_in(new_client(), "mod@example.org"))


def _submit(client, org_id: int, **changes) -> None:
    page = f"/account/organisations/{org_id}/listings/new"
    r = post_page(client, page, {**GROUP_FORM, **changes, "action": "submit"}, form_page=page)
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]


def _decide(moderator, change_id: int, verb: str, data: dict | None = None,
            form_page: str | None = None):
    page = f"/moderation/changes/{change_id}"
    return post_page(moderator, f"{page}/{verb}", data or {}, form_page=form_page or page)


def test_approving_a_new_group_publishes_it_with_its_provenance(people, session, client):
    organiser, org_id, moderator = people
    _submit(organiser, org_id)
    change = session.scalars(select(Submission)).one()
    queue = moderator.get("/moderation/").get_data(as_text=True)
    assert "Tuesday Circle" in queue and "Leeds Loss Circle" in queue and "New group" in queue
    html = moderator.get(f"/moderation/changes/{change.id}").get_data(as_text=True)
    # each field as before/after: a new group's before is empty
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td data-label="Before" class="before">'
                      r'(.*?)</td><td data-label="After" class="after">(.*?)</td></tr>', html,
                      re.S)
    fields = {label: (before, after) for label, before, after in rows}
    assert any("Tuesday Circle" in after for _, after in fields.values())
    assert all("(empty)" in before for before, _ in fields.values())
    assert _decide(moderator, change.id, "approve").status_code == 302
    session.expire_all()
    group = session.scalars(select(Group)).one()
    assert group.status == "active" and group.owner_organisation_id == org_id
    page = client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert re.search(r"Submitted by Leeds Loss Circle on \d{4}-\d\d-\d\d", page)
    results = client.get("/api/v1/groups?near=LS1+3EX").get_json()
    assert [g["name"] for g in results["results"]] == ["Tuesday Circle"]


def test_rejecting_needs_a_reason_which_is_mailed_and_shown(people, session, mailbox, client):
    organiser, org_id, moderator = people
    _submit(organiser, org_id, name="Never Listed Group")
    change = session.scalars(select(Submission)).one()
    r = _decide(moderator, change.id, "reject", {"reason": ""})
    assert r.status_code == 422 and 'id="reason-error1"' in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Submission, change.id).state == "pending"
    r = _decide(moderator, change.id, "reject", {"reason": "Please add the room number."})
    assert r.status_code == 302
    mail = mailbox.last_to("organiser@example.org")
    assert "Please add the room number." in mail.get_content()
    listing = organiser.get(f"/account/organisations/{org_id}/listings").get_data(as_text=True)
    assert "Sent back" in listing and "Please add the room number." in listing
    assert session.scalars(select(Group)).all() == []
    assert client.get("/api/v1/groups?near=LS1+3EX").get_json()["results"] == []
    # deciding twice does nothing more (the page has no buttons now; a stale one posts)
    r = _decide(moderator, change.id, "approve", form_page="/moderation/organisations")
    assert r.status_code == 302
    assert session.scalars(select(Group)).all() == []


def test_an_edit_shows_only_what_changes(people, session):
    organiser, org_id, moderator = people
    group = make_group(session, "Thursday Group", lat=LEEDS[0], lng=LEEDS[1],
                       owner_organisation_id=org_id)
    edit = f"/account/organisations/{org_id}/groups/{group.id}/edit"
    form = {**GROUP_FORM, "name": "Thursday Group"}
    # the form as the edit page fills it, with the time changed
    html = organiser.get(edit).get_data(as_text=True)
    assert 'value="Thursday Group"' in html
    r = post_page(organiser, edit, {**form, "schedules-0-start_time": "18:30",
                                    "action": "submit"}, form_page=edit)
    assert r.status_code == 302
    change = session.scalars(select(Submission)).one()
    html = moderator.get(f"/moderation/changes/{change.id}").get_data(as_text=True)
    assert "Every Tuesday, 6:30pm to 8:00pm (Europe/London)" in html  # the pattern, in words
    assert "Changes to a group" in html
    assert _decide(moderator, change.id, "approve").status_code == 302
    history = moderator.get(f"/moderation/groups/{group.id}/history").get_data(as_text=True)
    assert "6:30pm" in history and "approve" in history


def test_trusted_organisations_publish_at_once(people, session):
    organiser, org_id, moderator = people
    r = post_page(moderator, f"/moderation/organisations/{org_id}/trusted/on", {},
                  form_page="/moderation/organisations")
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Organisation, org_id).trusted
    _submit(organiser, org_id)
    session.expire_all()
    assert session.scalars(select(Group.name)).all() == ["Tuesday Circle"]
    r = post_page(moderator, f"/moderation/organisations/{org_id}/trusted/off", {},
                  form_page="/moderation/organisations")
    session.expire_all()
    assert not session.get(Organisation, org_id).trusted


def test_a_claim_and_an_import_for_the_claimed_listing(people, session):
    organiser, org_id, moderator = people
    group = make_group(session, "Hospital Group", lat=LEEDS[0], lng=LEEDS[1])
    session.add(ListingSource(group_id=group.id, source="leeds-hospitals", external_id="1",
                              content_hash="x"))
    session.flush()
    claim = f"/account/groups/{group.id}/claim"
    post_page(organiser, claim, {"organisation_id": str(org_id), "note": "We run it"},
              form_page=claim)
    change = session.scalars(select(Submission)).one()
    html = moderator.get(f"/moderation/changes/{change.id}").get_data(as_text=True)
    assert "Claim of an imported listing" in html and "Leeds Loss Circle" in html
    assert "We run it" in html
    assert _decide(moderator, change.id, "approve").status_code == 302
    session.expire_all()
    assert session.get(Group, group.id).owner_organisation_id == org_id
    # an import's differences for it wait for a moderator, shown field by field
    from finder.listings.fields import group_fields

    fields = group_fields(session, group.id)
    imported = add_submission(session, org_id, kind="import", state="pending",
                              group_id=group.id,
                              payload={"source": "leeds-hospitals", "external_id": "1",
                                       "fields": {**fields, "name": "Hospital Group (new)"}})
    queue = moderator.get("/moderation/").get_data(as_text=True)
    assert "Import differs from a claimed listing" in queue
    html = moderator.get(f"/moderation/changes/{imported.id}").get_data(as_text=True)
    assert "Hospital Group (new)" in html and "leeds-hospitals" in html
    # the organisation sees it waiting, but cannot dismiss it: a moderator decides
    listing = organiser.get(f"/account/organisations/{org_id}/listings").get_data(as_text=True)
    assert "Import differences" in listing
    assert f"/submissions/{imported.id}/cancel" not in listing
    # moderators reach a group's history from its page; nobody else sees the link
    history = f"/moderation/groups/{group.id}/history"
    assert history in moderator.get(f"/groups/{group.id}").get_data(as_text=True)
    assert history not in organiser.get(f"/groups/{group.id}").get_data(as_text=True)


def test_a_change_sent_back_can_be_corrected_and_sent_again(people, session):
    organiser, org_id, moderator = people
    _submit(organiser, org_id, name="First Try Group")
    first = session.scalars(select(Submission)).one()
    _decide(moderator, first.id, "reject", {"reason": "Which room?"})
    page = f"/account/organisations/{org_id}/submissions/{first.id}"
    html = organiser.get(page).get_data(as_text=True)
    assert "A moderator sent this back" in html and "Which room?" in html
    assert 'value="First Try Group"' in html
    r = post_page(organiser, page, {**GROUP_FORM, "name": "First Try Group",
                                    "venue_name": "Room 2, St Mary's Hall", "action": "submit"},
                  form_page=page)
    assert r.status_code == 302
    session.expire_all()
    rows = session.scalars(select(Submission).order_by(Submission.id)).all()
    assert [(s.id, s.state) for s in rows] == [(first.id, "rejected"), (rows[1].id, "pending")]
    assert rows[1].payload["location"]["venue_name"] == "Room 2, St Mary's Hall"
