"""The submissions service as the pages use it: drafts, the queue, diffs, imports of
claimed groups, and all-or-nothing state changes. Runs as in production (each service call
is its own transaction on its own connection; set-up is committed first)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from finder.accounts.actor import Actor
from finder.listings import fields
from finder.models import Group, ListingSource, Submission
from finder.submissions import payload as P
from finder.submissions import service
from tests.factories import make_group
from tests.submissions_support import make_world, new_group, written


@pytest.fixture
def world(session, client):
    made = make_world(session)
    client.live.commit()
    return made


@pytest.fixture
def ctx(app):
    with app.test_request_context("/", base_url="https://finder.example"):
        yield


def member(world, org="a") -> Actor:
    if org == "a":
        return Actor("user", user_id=world.user_a, organisation_id=world.org_a)
    return Actor("user", user_id=world.user_b, organisation_id=world.org_b)


def test_a_draft_keeps_what_was_typed_until_submitted(ctx, session, world):
    typed = {"name": "Half finished", "format": "zoom", "schedules": "tuesdays"}
    draft = service.save_draft(typed, actor=member(world), organisation_id=world.org_a)
    assert draft.state == "draft"
    session.expire_all()
    assert session.get(Submission, draft.submission_id).payload == typed
    again = service.save_draft({**typed, "name": "Nearly"}, actor=member(world),
                               organisation_id=world.org_a, submission_id=draft.submission_id)
    assert again.submission_id == draft.submission_id
    with pytest.raises(P.Invalid) as bad:
        service.submit(typed, actor=member(world), organisation_id=world.org_a,
                       submission_id=draft.submission_id)
    assert {e.field for e in bad.value.errors} >= {"format", "schedules", "join"}
    session.expire_all()
    assert session.get(Submission, draft.submission_id).state == "draft"
    # another organisation cannot see or touch it
    with pytest.raises(service.NotFound):
        service.save_draft({}, actor=member(world, "b"), organisation_id=world.org_b,
                           submission_id=draft.submission_id)
    with pytest.raises(service.NotFound):
        service.cancel(draft.submission_id, actor=member(world, "b"),
                       organisation_id=world.org_b)
    assert service.organisation_listings(world.org_b, session)["submissions"] == []
    done = service.submit(new_group(), actor=member(world), organisation_id=world.org_a,
                          submission_id=draft.submission_id)
    assert (done.state, done.submission_id) == ("pending", draft.submission_id)
    assert [i.submission.id for i in service.queue(session)] == [draft.submission_id]


def test_the_queue_is_oldest_first_and_shows_each_change_per_field(ctx, session, world):
    first = service.submit(new_group(), actor=member(world), organisation_id=world.org_a)
    second = service.submit(new_group(name="Online circle", format="virtual", location=None,
                                      timezone="Europe/London", service_countries=["GB"],
                                      join={"mode": "register",
                                            "url": "https://example.org/online"}),
                            actor=member(world, "b"), organisation_id=world.org_b)
    items = service.queue(session)
    assert [(i.submission.id, i.organisation_name, i.group_name) for i in items] == [
        (first.submission_id, "Organisation A", "Leeds miscarriage circle"),
        (second.submission_id, "Organisation B", "Online circle")]
    diff = service.change_diff(items[0].submission, session)
    assert diff["name"] == [None, "Leeds miscarriage circle"]
    assert diff["postcode"] == [None, "LS9 7TF"]
    assert diff["geocode_precision"] == [None, "postcode"]
    assert set(diff) <= set(fields.FIELD_LABELS)


def test_approving_a_change_that_no_longer_validates_leaves_it_pending(ctx, session, world):
    sub = service.submit(new_group(), actor=member(world), organisation_id=world.org_a)
    session.execute(Submission.__table__.update().where(
        Submission.id == sub.submission_id).values(payload={"name": "broken"}))
    session.commit()
    before = written(session)
    with pytest.raises(P.Invalid):
        service.approve(sub.submission_id, world.moderator)
    assert written(session) == before


def test_a_failure_inside_approval_writes_nothing(ctx, session, world, monkeypatch):
    sub = service.submit(new_group(), actor=member(world), organisation_id=world.org_a)
    before = written(session)

    # the group is written, then the audit step fails: the whole approval rolls back
    from finder.listings import audit

    real_record = audit.record

    def failing_record(session_, **kwargs):
        if kwargs.get("action") == "approve":
            raise RuntimeError("disk full")
        return real_record(session_, **kwargs)

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError):
        service.approve(sub.submission_id, world.moderator)
    assert written(session) == before
    monkeypatch.setattr(audit, "record", real_record)
    assert service.approve(sub.submission_id, world.moderator).state == "approved"


def test_a_claimed_groups_import_waits_and_its_approval_updates_the_group(
        ctx, session, world, client, mailbox):
    imported = make_group(session, "Hospital circle", lat=53.80, lng=-1.52,
                          owner_organisation_id=world.org_a)
    session.add(ListingSource(group=imported, source="hospital-feed", external_id="7",
                              content_hash="x" * 64))
    session.flush()
    view = fields.group_fields(session, imported.id)
    changed = {**view, "description": "Now on Wednesdays too."}
    row = Submission(kind="import", state="pending", organisation_id=world.org_a,
                     group_id=imported.id, created_by=Actor.ingestion("hospital-feed")
                     .as_record(),
                     payload={"source": "hospital-feed", "external_id": "7",
                              "fields": changed})
    session.add(row)
    session.commit()
    assert service.change_diff(row, session) == {
        "description": ["", "Now on Wednesdays too."]}
    service.approve(row.id, world.moderator)
    session.expire_all()
    assert session.get(Group, imported.id).description == "Now on Wednesdays too."
    # nobody is a user behind an import: the organisation's members hear of it
    assert mailbox.last_to("a@example.org")["Subject"].startswith("Approved")


def test_trust_can_be_given_and_taken_away(ctx, session, world):
    service.set_trusted(world.org_a, True, actor=world.moderator)
    published = service.submit(new_group(), actor=member(world), organisation_id=world.org_a)
    assert published.state == "published"
    service.set_trusted(world.org_a, False, actor=world.moderator)
    change = service.submit({**new_group(), "description": "Changed"}, actor=member(world),
                            organisation_id=world.org_a, group_id=published.group_id)
    assert change.state == "pending"
    session.expire_all()
    assert session.get(Group, published.group_id).description != "Changed"
    same = service.submit(new_group(), actor=member(world), organisation_id=world.org_a,
                          group_id=published.group_id)
    assert same.state == "unchanged"
    session.expire_all()
    assert session.get(Submission, change.submission_id).state == "superseded"


def test_reject_needs_a_reason_and_only_pending_changes_are_decided(ctx, session, world):
    sub = service.submit(new_group(), actor=member(world), organisation_id=world.org_a)
    for reason in ("", "   ", None):
        with pytest.raises(P.Invalid):
            service.reject(sub.submission_id, world.moderator, reason)
    with pytest.raises(P.Invalid):
        service.reject(sub.submission_id, world.moderator, "x" * 2001)
    service.cancel(sub.submission_id, actor=member(world), organisation_id=world.org_a)
    with pytest.raises(service.WrongState):
        service.reject(sub.submission_id, world.moderator, "Too late")
    with pytest.raises(service.NotFound):
        service.approve(999_999, world.moderator)
    assert session.scalars(select(Group)).all() == []


def test_withdrawing_someone_elses_or_nobodys_group_is_refused(ctx, session, world):
    nobodys = make_group(session, "Unclaimed", lat=53.8, lng=-1.5)
    session.commit()
    before = written(session)
    with pytest.raises(service.NotAllowed):
        service.withdraw(nobodys.id, actor=member(world), organisation_id=world.org_a)
    with pytest.raises(service.NotAllowed):
        service.submit(new_group(), actor=member(world), organisation_id=world.org_a,
                       group_id=nobodys.id)
    with pytest.raises(service.NotFound):
        service.withdraw(2**40, actor=member(world), organisation_id=world.org_a)
    assert written(session) == before


def test_preview_shows_where_the_venue_lands_and_writes_nothing(ctx, session, world):
    before = written(session)
    exact = service.preview(new_group(), organisation_id=world.org_a, session=session)
    assert exact["place"]["approximate"] is False
    assert exact["fields"]["organisation"] == "Organisation A"
    rough = service.preview(new_group(location={"postcode": "LS9 9ZZ", "country": "GB"}),
                            organisation_id=world.org_a, session=session)
    assert rough["place"]["approximate"] is True
    assert rough["place"]["geocode_precision"] in ("sector", "district")
    online = service.preview(new_group(format="virtual", timezone="Europe/London",
                                       service_countries=["GB"]),
                             organisation_id=world.org_a, session=session)
    assert online["place"] is None and online["fields"]["postcode"] is None
    with pytest.raises(P.Invalid):
        service.preview({"name": "x"}, organisation_id=world.org_a, session=session)
    assert written(session) == before


def test_a_draft_with_characters_postgresql_cannot_store_is_kept_without_them(ctx, session,
                                                                              world):
    draft = service.save_draft({"name": "Half\x00 typed", "odd\x00key": ["a\x00"]},
                               actor=member(world), organisation_id=world.org_a,
                               note="for\x00 later")
    session.expire_all()
    row = session.get(Submission, draft.submission_id)
    assert row.payload == {"name": "Half typed", "oddkey": ["a"]}
    assert row.note == "for later"
    with pytest.raises(P.Invalid):
        service.save_draft({"description": "x" * 300_000}, actor=member(world),
                           organisation_id=world.org_a)


def test_a_mail_server_that_is_down_does_not_undo_a_decision(app, ctx, session, world,
                                                              monkeypatch, caplog):
    sub = service.submit(new_group(), actor=member(world), organisation_id=world.org_a)

    def down(message):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(app.extensions["mailer"], "send", down)
    outcome = service.reject(sub.submission_id, world.moderator, "Not a support group")
    assert outcome.state == "rejected"
    session.expire_all()
    assert session.get(Submission, sub.submission_id).state == "rejected"
    assert "could not mail the decision" in caplog.text


def test_an_online_group_with_the_same_join_link_is_a_possible_duplicate(ctx, session, world):
    online = new_group(name="Evening online circle", format="virtual", location=None,
                       timezone="Europe/London", service_countries=["GB"],
                       join={"mode": "register", "url": "https://zoom.us/j/123456789"})
    service.set_trusted(world.org_a, True, actor=world.moderator)
    first = service.submit(online, actor=member(world), organisation_id=world.org_a)
    assert first.state == "published"
    before = written(session)
    same_link = {**online, "name": "Online evening circle",
                 "join": {"mode": "register", "url": "https://zoom.us/j/123456789?utm_source=x"}}
    with pytest.raises(service.PossibleDuplicate) as asked:
        service.submit(same_link, actor=member(world, "b"), organisation_id=world.org_b)
    assert [c.group_id for c in asked.value.candidates] == [first.group_id]
    assert written(session) == before
    other = {**online, "name": "Stillbirth daytime group",
             "join": {"mode": "register", "url": "https://example.org/other"}}
    assert service.submit(other, actor=member(world, "b"),
                          organisation_id=world.org_b).state == "pending"


def test_moderators_see_what_a_pending_new_group_may_duplicate(ctx, session, world):
    first = service.submit(new_group(), actor=member(world), organisation_id=world.org_a)
    second = service.submit(new_group(name="Leeds Miscarriage Circle"),
                            actor=member(world, "b"), organisation_id=world.org_b)
    assert second.state == "pending"  # nothing listed yet to duplicate
    published = service.approve(first.submission_id, world.moderator)
    row = session.get(Submission, second.submission_id)
    assert [c.group_id for c in service.duplicates_of(row, session)] == [published.group_id]
    assert service.duplicates_of(session.get(Submission, first.submission_id), session) == []
