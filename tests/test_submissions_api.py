"""The write API, as an integrator uses it: tokens, states, moderation's effect on search,
the authorisation matrix, bad input, duplicates, claims, rate limits. Requests run as in
production (autocommit request connections, committed set-up)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from finder.accounts.actor import Actor
from finder.models import Group, ListingAudit, ListingSource, Submission
from finder.submissions import service
from tests.factories import make_group
from tests.submissions_support import LEEDS_POSTCODE, make_world, new_group, written

NEAR_LEEDS = f"/api/v1/groups?near={LEEDS_POSTCODE.replace(' ', '%20')}&radius=5"


@pytest.fixture
def world(session, client):
    made = make_world(session)
    client.live.commit()  # the moderator's calls below run on their own connections
    return made


def names_near_leeds(client) -> set[str]:
    body = client.get(NEAR_LEEDS).get_json()
    return {g["name"] for g in body["results"]}


def post(client, world, who="a", body=None):
    return client.post("/api/v1/groups", json=new_group() if body is None else body,
                       headers=world.auth(who))


def test_a_new_group_waits_for_a_moderator_and_is_nowhere_public_until_approved(
        app, client, session, world, mailbox):
    r = post(client, world)
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["state"] == "pending" and body["group_id"] is None
    assert body["place"]["postcode"] == LEEDS_POSTCODE
    assert body["place"]["geocode_precision"] == "postcode"
    assert body["place"]["approximate"] is False
    sub_id = body["submission"]["id"]
    assert r.headers["Location"] == f"/api/v1/submissions/{sub_id}"
    # not a group: not in search, the API or a page
    assert session.scalars(select(Group)).all() == []
    assert "Leeds miscarriage circle" not in names_near_leeds(client)
    mine = client.get("/api/v1/organisations/me/groups", headers=world.auth("a")).get_json()
    assert [(s["id"], s["kind"], s["state"]) for s in mine["submissions"]] == [
        (sub_id, "create", "pending")]
    assert mine["groups"] == []
    assert client.get(f"/api/v1/submissions/{sub_id}", headers=world.auth("a")).status_code == 200

    with app.test_request_context("/moderation", base_url="https://finder.example"):
        outcome = service.approve(sub_id, world.moderator)  # as the moderation page does
    assert outcome.state == "approved" and outcome.group_id
    assert "Leeds miscarriage circle" in names_near_leeds(client)
    group = client.get(f"/api/v1/groups/{outcome.group_id}").get_json()
    assert group["location"]["postcode"] == LEEDS_POSTCODE
    assert client.get(f"/groups/{outcome.group_id}").status_code == 200
    mail = mailbox.last_to("a@example.org")
    assert mail["Subject"] == "Approved: Leeds miscarriage circle"
    assert f"https://finder.example/groups/{outcome.group_id}" in mail.get_content()
    mine = client.get("/api/v1/organisations/me/groups", headers=world.auth("a")).get_json()
    assert [g["id"] for g in mine["groups"]] == [outcome.group_id]
    assert mine["groups"][0]["group"]["location"]["postcode"] == LEEDS_POSTCODE
    session.expire_all()
    assert session.get(Group, outcome.group_id).owner_organisation_id == world.org_a
    assert session.scalars(select(ListingAudit.action).where(
        ListingAudit.group_id == outcome.group_id)).all()


def test_a_rejected_group_never_appears_and_the_reason_is_mailed(
        app, client, session, world, mailbox):
    sub_id = post(client, world).get_json()["submission"]["id"]
    with app.app_context():
        service.reject(sub_id, world.moderator, "Please add the hospital's own contact.")
    assert session.scalars(select(Group)).all() == []
    assert "Leeds miscarriage circle" not in names_near_leeds(client)
    mail = mailbox.last_to("a@example.org")
    assert mail["Subject"] == "Not approved: Leeds miscarriage circle"
    assert "Please add the hospital's own contact." in mail.get_content()
    mine = client.get("/api/v1/organisations/me/groups", headers=world.auth("a")).get_json()
    assert mine["submissions"][0]["state"] == "rejected"
    assert mine["submissions"][0]["rejection_reason"] == "Please add the hospital's own contact."
    with app.app_context(), pytest.raises(service.WrongState):
        service.approve(sub_id, world.moderator)
    assert session.scalars(select(Group)).all() == []


def test_a_trusted_organisation_publishes_at_once(app, client, session, world):
    with app.app_context():
        service.set_trusted(world.org_a, True, actor=world.moderator)
    r = post(client, world)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["state"] == "published" and body["submission"]["state"] == "approved"
    assert r.headers["Location"] == f"/api/v1/groups/{body['group_id']}"
    assert "Leeds miscarriage circle" in names_near_leeds(client)
    actions = session.scalars(select(ListingAudit.action).where(
        ListingAudit.group_id == body["group_id"])).all()
    assert "create" in actions


def _published(app, client, world, **changes) -> int:
    sub_id = post(client, world, body=new_group(**changes)).get_json()["submission"]["id"]
    with app.app_context():
        return service.approve(sub_id, world.moderator).group_id


def test_a_change_waits_a_newer_one_supersedes_it_and_approval_publishes_both_edits(
        app, client, session, world):
    gid = _published(app, client, world)
    r1 = client.patch(f"/api/v1/groups/{gid}", json={"description": "Now with tea."},
                      headers=world.auth("a"))
    assert r1.status_code == 202, r1.get_json()
    r2 = client.patch(f"/api/v1/groups/{gid}", json={"name": "Leeds circle (Tuesdays)"},
                      headers=world.auth("a"))
    assert r2.status_code == 202
    first, second = r1.get_json()["submission"]["id"], r2.get_json()["submission"]["id"]
    session.expire_all()
    assert session.get(Submission, first).state == "superseded"
    public = client.get(f"/api/v1/groups/{gid}").get_json()
    assert public["name"] == "Leeds miscarriage circle"  # unapproved: not public
    assert public["description"] == "A monthly circle for anyone after miscarriage."
    with app.app_context():
        diff = service.change_diff(session.get(Submission, second), session)
        assert set(diff) == {"name", "description"}
        service.approve(second, world.moderator)
    public = client.get(f"/api/v1/groups/{gid}").get_json()
    assert (public["name"], public["description"]) == ("Leeds circle (Tuesdays)",
                                                        "Now with tea.")


def test_withdrawing_is_at_once_and_audited(app, client, session, world):
    gid = _published(app, client, world)
    r = client.delete(f"/api/v1/groups/{gid}?reason=No%20longer%20meeting",
                      headers=world.auth("a"))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "withdrawn"
    assert client.get(f"/api/v1/groups/{gid}").status_code == 404
    assert "Leeds miscarriage circle" not in names_near_leeds(client)
    assert "withdraw" in session.scalars(select(ListingAudit.action).where(
        ListingAudit.group_id == gid)).all()
    assert client.delete(f"/api/v1/groups/{gid}", headers=world.auth("a")).status_code == 404


def test_authorisation_matrix_for_every_write_endpoint(app, client, session, world):
    """No token and a revoked token: 401. Organisation B on A's group: 403; on A's
    submission: 404. Nothing is written by any refused request."""
    gid = _published(app, client, world)
    pending = post(client, world, body=new_group(name="Second circle", location={
        "postcode": "LS1 4AP", "country": "GB"})).get_json()["submission"]["id"]
    endpoints = [
        ("post", "/api/v1/groups", new_group(name="Other")),
        ("patch", f"/api/v1/groups/{gid}", {"name": "Taken over"}),
        ("delete", f"/api/v1/groups/{gid}", None),
        ("post", f"/api/v1/groups/{gid}/claim", None),
        ("get", "/api/v1/organisations/me/groups", None),
        ("get", f"/api/v1/submissions/{pending}", None),
        ("patch", f"/api/v1/submissions/{pending}", {"name": "Hijacked"}),
        ("delete", f"/api/v1/submissions/{pending}", None),
    ]
    expected_b = {f"/api/v1/groups/{gid}": 403, f"/api/v1/submissions/{pending}": 404}
    before = written(session)
    for method, path, body in endpoints:
        for who in (None, "revoked"):
            r = getattr(client, method)(path, json=body, headers=world.auth(who))
            assert r.status_code == 401, (who, method, path, r.status_code)
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        if method == "post" and path == "/api/v1/groups" or method == "get" and "me" in path \
                or path.endswith("/claim"):
            continue  # B may post its own groups, list its own, claim (tested below)
        r = getattr(client, method)(path, json=body, headers=world.auth("b"))
        assert r.status_code == expected_b[path], (method, path, r.status_code, r.get_json())
    assert written(session) == before
    mine_b = client.get("/api/v1/organisations/me/groups", headers=world.auth("b")).get_json()
    assert mine_b == {"groups": [], "submissions": []}


def test_bad_input_is_a_422_naming_each_field_and_writes_nothing(client, session, world):
    before = written(session)
    bad = new_group(format="zoom", loss_types=["grief"], join={"mode": "drop_in",
                                                                 "url": "javascript:x()"})
    bad["schedules"][0].update(weekday=9, start_time="25:00")
    r = post(client, world, body=bad)
    assert r.status_code == 422
    fields = {e["field"] for e in r.get_json()["errors"]}
    assert fields == {"format", "loss_types[0]", "join.url", "schedules[0].weekday",
                      "schedules[0].start_time"}
    unknown_postcode = new_group(location={"postcode": "ZZ1 1ZZ", "country": "GB"})
    r = post(client, world, body=unknown_postcode)
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["location.postcode"]
    for raw, status in ((b"{not json", 400), (b"", 400), (b"[1, 2]", 422), (b'"x"', 422),
                        (b"x" * 300_000, 400)):
        r = client.post("/api/v1/groups", data=raw, content_type="application/json",
                        headers=world.auth("a"))
        assert r.status_code == status, (raw[:20], r.status_code)
        assert r.get_json()["errors"][0]["field"] == ""
    assert written(session) == before


def test_hostile_text_is_stored_as_typed_and_rendered_escaped(app, client, session, world):
    hostile = "<script>alert(1)</script> & <b>bold</b>"
    gid = _published(app, client, world, name=f"Circle {hostile}", description=hostile,
                     accessibility_notes=hostile)
    assert client.get(f"/api/v1/groups/{gid}").get_json()["description"] == hostile
    page = client.get(f"/groups/{gid}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_possible_duplicate_asks_and_can_be_confirmed_different(app, client, session,
                                                                  world):
    gid = _published(app, client, world)
    before = written(session)
    r = post(client, world, "b", new_group(name="Leeds Miscarriage Circle"))
    assert r.status_code == 409, r.get_json()
    body = r.get_json()
    assert body["error"]["field"] == "not_duplicate_of"
    assert [c["id"] for c in body["duplicates"]] == [gid]
    assert written(session) == before
    r = post(client, world, "b", {**new_group(name="Leeds Miscarriage Circle"),
                                  "not_duplicate_of": [gid]})
    assert r.status_code == 202


def test_an_imported_group_is_claimed_through_a_moderator(app, client, session, world,
                                                           mailbox):
    imported = make_group(session, "Imported circle", lat=53.80, lng=-1.52)
    session.add(ListingSource(group=imported, source="hospital-feed", external_id="7",
                              content_hash="x" * 64))
    session.flush()
    gid = imported.id
    assert client.patch(f"/api/v1/groups/{gid}", json={"name": "Mine"},
                        headers=world.auth("a")).status_code == 403
    r = client.post(f"/api/v1/groups/{gid}/claim", json={"note": "We run it"},
                    headers=world.auth("a"))
    assert r.status_code == 202
    claim = r.get_json()["submission"]["id"]
    again = client.post(f"/api/v1/groups/{gid}/claim", headers=world.auth("a"))
    assert again.get_json()["submission"]["id"] == claim
    rival = client.post(f"/api/v1/groups/{gid}/claim", headers=world.auth("b"))
    rival_id = rival.get_json()["submission"]["id"]
    with app.app_context():
        assert service.change_diff(session.get(Submission, claim), session) == {
            "managed_by": [None, "Organisation A"]}
        service.approve(claim, world.moderator)
    session.expire_all()
    assert session.get(Group, gid).owner_organisation_id == world.org_a
    assert session.get(Submission, rival_id).state == "rejected"
    assert mailbox.last_to("a@example.org")["Subject"] == "Approved: Imported circle"
    rival_mail = mailbox.last_to("b@example.org")
    assert rival_mail["Subject"] == "Not approved: Imported circle"
    assert "Another organisation's claim" in rival_mail.get_content()
    with app.app_context():
        prov = service.provenance(gid, session)
    assert prov.kind == "imported" and prov.by == "hospital-feed"
    assert prov.managed_by == "Organisation A"
    r = client.patch(f"/api/v1/groups/{gid}", json={"description": "Updated by A"},
                     headers=world.auth("a"))
    assert r.status_code == 202, r.get_json()


def test_a_pending_new_group_can_be_corrected_or_cancelled(app, client, session, world):
    sub = post(client, world).get_json()["submission"]["id"]
    r = client.patch(f"/api/v1/submissions/{sub}", json={"name": "Corrected name"},
                     headers=world.auth("a"))
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["submission"]["group"]["name"] == "Corrected name"
    bad = client.patch(f"/api/v1/submissions/{sub}", json={"format": "zoom"},
                       headers=world.auth("a"))
    assert bad.status_code == 422
    r = client.delete(f"/api/v1/submissions/{sub}", headers=world.auth("a"))
    assert r.status_code == 200 and r.get_json()["state"] == "cancelled"
    with app.app_context(), pytest.raises(service.WrongState):
        service.approve(sub, world.moderator)
    assert client.delete(f"/api/v1/submissions/{sub}",
                         headers=world.auth("a")).status_code == 409


def test_submissions_are_rate_limited(app, client, world):
    saved = app.config["RATELIMIT_SUBMIT"]
    app.config["RATELIMIT_SUBMIT"] = "2 per minute"
    try:
        statuses = [post(client, world, body={"name": "x"}).status_code for _ in range(3)]
    finally:
        app.config["RATELIMIT_SUBMIT"] = saved
    assert statuses == [422, 422, 429]


def test_provenance_of_a_submitted_group(app, client, session, world):
    gid = _published(app, client, world)
    with app.app_context():
        prov = service.provenance(gid, session)
    assert prov.kind == "submitted" and prov.by == "Organisation A"
    assert prov.at.date() == dt.datetime.now(dt.UTC).date()
    assert prov.sentence.startswith("Submitted by Organisation A on ")


def test_only_moderators_decide(app, client, session, world):
    sub = post(client, world).get_json()["submission"]["id"]
    member = Actor("user", user_id=world.user_a, organisation_id=world.org_a)
    with app.app_context():
        with pytest.raises(service.NotAllowed):
            service.approve(sub, member)
        with pytest.raises(service.NotAllowed):
            service.set_trusted(world.org_a, True, actor=member)
    session.expire_all()
    assert session.get(Submission, sub).state == "pending"


HOSTILE = "<img src=x onerror=alert(1)> '; DROP TABLE groups; -- \u202e\x00 \U0001d518 &amp;"
TEXT_FIELDS = ["name", "description", "join.notes", "accessibility_notes",
               "location.venue_name", "location.address_line1", "location.address_line2",
               "location.town", "location.region"]
STRUCTURED_FIELDS = {
    "format": HOSTILE, "join.mode": HOSTILE, "join.url": HOSTILE, "join.email": HOSTILE,
    "join.phone": HOSTILE, "location.postcode": HOSTILE, "location.country": HOSTILE,
    "location.latitude": HOSTILE, "timezone": HOSTILE, "loss_types": [HOSTILE],
    "audiences": [HOSTILE], "languages": [HOSTILE], "cost": HOSTILE, "facilitation": HOSTILE,
    "schedules.0.freq": HOSTILE, "schedules.0.weekday": HOSTILE,
    "schedules.0.start_time": HOSTILE, "schedules.0.timezone": HOSTILE,
    "schedules.0.valid_from": HOSTILE, "schedules.0.cancelled_dates": [HOSTILE],
    "schedules.0.set_pos": HOSTILE, "schedules.0.interval": HOSTILE,
    "schedules.0.duration_minutes": HOSTILE,
}


def _set(data: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[last] = value
    return data


def _get(data: dict, path: str):
    for key in path.split("."):
        data = data[int(key)] if key.isdigit() else data[key]
    return data


def test_hostile_input_through_every_field(app, client, session, world):
    """Free text is stored as typed (minus control and invisible characters) and shown
    escaped; every structured field refuses it with a 422 naming that field, writing
    nothing."""
    before = written(session)
    for path, value in STRUCTURED_FIELDS.items():
        r = post(client, world, body=_set(new_group(), path, value))
        assert r.status_code == 422, (path, r.status_code)
        expected = path.replace(".0.", "[0].")
        if isinstance(value, list):
            expected += "[0]"
        assert [e["field"] for e in r.get_json()["errors"]] == [expected], path
    assert written(session) == before

    with app.app_context():
        service.set_trusted(world.org_a, True, actor=world.moderator)
    data = new_group(join={"mode": "drop_in", "notes": HOSTILE})
    for path in TEXT_FIELDS:
        _set(data, path, HOSTILE)
    data["name"] = "Circle " + HOSTILE
    r = post(client, world, body={**data, "note": HOSTILE})
    assert r.status_code == 201, r.get_json()
    gid = r.get_json()["group_id"]
    shown = client.get(f"/api/v1/groups/{gid}").get_json()
    typed = " ".join(HOSTILE.replace("\u202e", "").replace("\x00", "").split())
    assert shown["description"] == typed and shown["name"] == "Circle " + typed
    assert shown["location"]["town"] == typed and shown["join"]["notes"] == typed
    page = client.get(f"/groups/{gid}").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&amp;amp;" in page  # an ampersand typed as text is shown as text


def test_a_pending_change_is_not_on_the_group_page(app, client, session, world):
    gid = _published(app, client, world)
    r = client.patch(f"/api/v1/groups/{gid}", json={"name": "Renamed, unapproved"},
                     headers=world.auth("a"))
    assert r.status_code == 202
    page = client.get(f"/groups/{gid}").get_data(as_text=True)
    assert "Renamed, unapproved" not in page and "Leeds miscarriage circle" in page
    assert "Renamed, unapproved" not in client.get(NEAR_LEEDS).get_data(as_text=True)


def test_a_trusted_organisations_change_publishes_at_once(app, client, session, world):
    gid = _published(app, client, world)
    with app.app_context():
        service.set_trusted(world.org_a, True, actor=world.moderator)
    r = client.patch(f"/api/v1/groups/{gid}", json={"description": "Now with tea."},
                     headers=world.auth("a"))
    assert r.status_code == 200 and r.get_json()["state"] == "published"
    assert client.get(f"/api/v1/groups/{gid}").get_json()["description"] == "Now with tea."
    same = client.patch(f"/api/v1/groups/{gid}", json={"description": "Now with tea."},
                        headers=world.auth("a"))
    assert same.status_code == 200 and same.get_json()["state"] == "unchanged"
