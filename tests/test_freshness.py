"""Issue 7, freshness: the 90/180/365-day rules with an injected `now`, reminders sent once,
the signed "still running" / "we've stopped" links (expired, tampered), a paused listing
back when confirmed, and ingestion runs confirming what they still list."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select, update

from finder.accounts import organisations, users
from finder.freshness import links, rules
from finder.freshness.run import run as freshness_run
from finder.freshness.run import send_reminders
from finder.groups import find_group
from finder.listings import audit
from finder.models import Group
from tests.accounts_support import STRONG, csrf_token
from tests.factories import make_group
from tests.test_ingest_runner import THREE, feed, mg_source, run, serve

TODAY = dt.date.today()
NOW = dt.datetime.now(dt.UTC)
LEEDS = (53.8, -1.55)


def owned_group(session, name="Tuesday Circle", email="lead@example.org"):
    """A group its organisation manages, confirmed today, and that organisation's member."""
    user = users.create_user(session, email, STRONG, verified=True)
    org = organisations.create_organisation(session, f"{name} Charity", user)
    group = make_group(session, name, lat=LEEDS[0], lng=LEEDS[1],
                       owner_organisation_id=org.id, last_confirmed=TODAY)
    session.flush()
    return group, org, user


def days(n: int) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


def apply_rules(app, session, now: dt.datetime):
    with app.test_request_context("/", base_url="http://finder.test"):
        summary = freshness_run(session, now)
        session.flush()
        send_reminders(summary)
    return summary


# ------------------------------------------------------------------------------ pure rules


@pytest.mark.parametrize("age, step", [(0, "fresh"), (89, "fresh"), (90, "remind"),
                                       (179, "remind"), (180, "stale"), (364, "stale"),
                                       (365, "pause"), (900, "pause")])
def test_the_step_a_listing_has_reached(age, step):
    assert rules.step(TODAY - dt.timedelta(days=age), TODAY, TODAY) == step


def test_a_reminder_is_due_once_per_confirmation_and_only_with_an_owner():
    confirmed = TODAY - dt.timedelta(days=100)
    assert rules.needs_reminder(confirmed, confirmed, TODAY, None, True)
    assert not rules.needs_reminder(confirmed, confirmed, TODAY, None, False)
    reminded = dt.datetime.combine(TODAY - dt.timedelta(days=5), dt.time(), dt.UTC)
    assert not rules.needs_reminder(confirmed, confirmed, TODAY, reminded, True)
    # confirmed again since the reminder, then unconfirmed for 90 days more: a new reminder
    later = TODAY + dt.timedelta(days=200)
    assert rules.needs_reminder(TODAY + dt.timedelta(days=1), confirmed, later, reminded, True)


def test_a_listing_never_confirmed_counts_from_the_day_it_was_listed():
    listed = TODAY - dt.timedelta(days=200)
    assert rules.step(None, listed, TODAY) == "stale"
    assert rules.is_stale(None, listed, TODAY)
    assert rules.is_stale(TODAY, TODAY, TODAY, reported_stale=True)


# --------------------------------------------------------------------- the daily run in time


def test_time_travel_through_90_180_and_365_days(app, session, mailbox):
    group, org, user = owned_group(session)
    other = make_group(session, "Unowned import", lat=LEEDS[0], lng=LEEDS[1],
                       last_confirmed=TODAY)

    assert apply_rules(app, session, days(89)).reminded == []
    assert mailbox.messages() == []

    summary = apply_rules(app, session, days(91))
    assert summary.reminded == [group.id] and summary.mails == 1  # nobody owns `other`
    mail = mailbox.last_to(user.email)
    assert "Tuesday Circle" in mail["Subject"]
    body = mail.get_content()
    assert "/listings/confirm/" in body and "/listings/stopped/" in body

    # the same day again, and the next months: no second reminder for this confirmation
    assert apply_rules(app, session, days(91)).reminded == []
    assert apply_rules(app, session, days(150)).reminded == []
    assert len(mailbox.messages()) == 1

    # 180 days: "may be out of date" in what search and the page read
    cursor = session.connection().connection.driver_connection.cursor()
    assert not find_group(cursor, group.id, now=days(179)).stale
    assert find_group(cursor, group.id, now=days(181)).stale
    assert apply_rules(app, session, days(181)).paused == []

    # 365 days: paused, audited; and the unowned import too (its source stopped confirming)
    summary = apply_rules(app, session, days(366))
    assert sorted(summary.paused) == sorted([group.id, other.id])
    session.refresh(group)
    assert (group.status, group.pause_reason) == ("paused", rules.PAUSED_UNCONFIRMED)
    assert audit.history(session, group.id)[0].action == "pause"
    assert apply_rules(app, session, days(367)).paused == []  # once


def test_a_paused_listing_comes_back_when_confirmed(app, session):
    from finder.accounts.actor import Actor
    from finder.listings.store import confirm_group

    group, org, _ = owned_group(session)
    apply_rules(app, session, days(400))
    session.refresh(group)
    assert group.status == "paused"
    confirm_group(session, group.id, actor=Actor("user", organisation_id=org.id),
                  today=days(400).date())
    session.refresh(group)
    assert (group.status, group.last_confirmed) == ("active", days(400).date())
    assert rules.step(group.last_confirmed, TODAY, days(400).date()) == "fresh"
    assert audit.history(session, group.id)[0].changes["status"] == ["paused", "active"]


def test_the_command_says_what_it_did(app, session):
    owned_group(session)
    session.commit()
    try:
        result = app.test_cli_runner().invoke(
            args=["freshness", "run", "--now", days(100).isoformat()])
        assert result.exit_code == 0, result.output
        assert "Reminded the owners of 1 listings (1 mails)" in result.output
        again = app.test_cli_runner().invoke(
            args=["freshness", "run", "--now", days(100).isoformat()])
        assert "Reminded the owners of 0 listings" in again.output
        bad = app.test_cli_runner().invoke(args=["freshness", "run", "--now", "soon"])
        assert bad.exit_code == 2 and "'soon'" in bad.output
    finally:
        session.execute(update(Group).values(status="withdrawn"))  # rolled back with the test


# ------------------------------------------------------------------------------ the links


def reminder_links(app, client, session, mailbox, when=None):
    group, org, user = owned_group(session)
    session.commit()
    with app.app_context():
        with app.extensions["db"].transaction() as s:
            apply_rules(app, s, when or days(95))
    body = mailbox.last_to(user.email).get_content()
    confirm = re.search(r"http://\S+/listings/confirm/\S+", body).group(0)
    stopped = re.search(r"http://\S+/listings/stopped/\S+", body).group(0)
    return group, confirm.split("finder.test", 1)[-1], stopped.split("finder.test", 1)[-1]


def test_still_running_link_confirms_without_signing_in(app, client, session, mailbox):
    group, confirm, _ = reminder_links(app, client, session, mailbox)
    # a mail scanner following the link changes nothing: the page asks for a press
    page = client.get(confirm)
    assert page.status_code == 200 and "still running" in page.get_data(as_text=True)
    session.expire_all()
    before = session.get(Group, group.id).last_confirmed
    done = client.post(confirm, data={"csrf_token": csrf_token(client, confirm)})
    assert done.status_code == 200 and "confirmed" in done.get_data(as_text=True)
    session.expire_all()
    assert session.get(Group, group.id).last_confirmed == dt.datetime.now(dt.UTC).date()
    assert before == TODAY
    assert audit.history(session, group.id)[0].action == "confirm"


def test_we_have_stopped_link_withdraws_the_listing(app, client, session, mailbox):
    group, confirm, stopped = reminder_links(app, client, session, mailbox)
    token = csrf_token(client, stopped)
    client.post(stopped, data={"csrf_token": token})
    session.expire_all()
    assert session.get(Group, group.id).status == "withdrawn"
    assert client.get(f"/groups/{group.id}").status_code == 404
    # the links of that reminder are spent
    again = client.post(confirm, data={"csrf_token": token})
    assert again.status_code == 400 and "taken down" in again.get_data(as_text=True)


def test_a_tampered_link_is_refused_and_changes_nothing(app, client, session, mailbox):
    group, confirm, stopped = reminder_links(app, client, session, mailbox)
    token = confirm.rsplit("/", 1)[1]
    # another group's id under the same signature; the signature cut short; one action's
    # token used for the other
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for path in (f"/listings/confirm/{forged}", f"/listings/confirm/{token[:20]}",
                 f"/listings/stopped/{token}"):
        answer = client.get(path)
        assert answer.status_code == 400 and "not valid" in answer.get_data(as_text=True)
        assert client.post(path, data={"csrf_token": "x"}).status_code in (400,)
    session.expire_all()
    assert session.get(Group, group.id).status == "active"


def test_an_expired_link_is_refused(app, client, session, mailbox):
    group, confirm, _ = reminder_links(app, client, session, mailbox)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=31)):
        answer = client.get(confirm)
    assert answer.status_code == 400 and "expired" in answer.get_data(as_text=True)
    with app.app_context():
        token = confirm.rsplit("/", 1)[1]
        with pytest.raises(links.LinkExpired):
            with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=31)):
                links.read_token("confirm", token)


def test_a_link_dies_when_the_group_changes_owner(app, client, session, mailbox):
    group, confirm, _ = reminder_links(app, client, session, mailbox)
    session.execute(update(Group).where(Group.id == group.id)
                    .values(owner_organisation_id=None))
    answer = client.get(confirm)
    assert answer.status_code == 400 and "no longer manages" in answer.get_data(as_text=True)


# -------------------------------------------------------------------------- sources confirm


def test_a_successful_run_confirms_what_the_source_still_lists(httpserver, app, connection):
    from ingest.fetch import FetchSettings
    from tests.test_ingest_runner import T0

    db = app.extensions["db"]
    settings = FetchSettings(connect_timeout=1, read_timeout=1, retries=0)
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    confirmed = dict(connection.execute(select(Group.name, Group.last_confirmed)).all())
    assert set(confirmed.values()) == {T0.date()}

    # a year on, the feed still lists two: they are confirmed, the third is not (withdrawn)
    later = T0 + dt.timedelta(days=370)
    serve(httpserver, feed(*THREE[:2]))
    assert run(db, source, settings, now=later).outcome == "success"
    rows = connection.execute(select(Group.name, Group.status, Group.last_confirmed)
                              .order_by(Group.id)).all()
    assert [(r.status, r.last_confirmed) for r in rows] == [
        ("active", later.date()), ("active", later.date()), ("withdrawn", T0.date())]


def test_a_run_brings_back_a_listing_paused_for_want_of_confirmation(httpserver, app,
                                                                       connection):
    from ingest.fetch import FetchSettings
    from tests.test_ingest_runner import T0

    db = app.extensions["db"]
    settings = FetchSettings(connect_timeout=1, read_timeout=1, retries=0)
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    run(db, source, settings)
    connection.execute(update(Group).values(status="paused",
                                            pause_reason=rules.PAUSED_UNCONFIRMED))
    run(db, source, settings, now=T0 + dt.timedelta(days=1))
    assert {s for (s,) in connection.execute(select(Group.status))} == {"active"}


# ------------------------------------------------------------- editing and moderators confirm


def _confirmed_200_days_ago(session, group_id: int) -> None:
    session.execute(update(Group).where(Group.id == group_id)
                    .values(last_confirmed=TODAY - dt.timedelta(days=200)))


def test_an_approved_edit_confirms_the_listing_at_once(app, client, new_client, session):
    """Through the API and the moderation page as they run: an organisation's change of a
    listing last confirmed 200 days ago, once a moderator approves it, shows today's date
    and no "may be out of date" in the API and on the page, with no daily run in between;
    a trusted organisation's change, and a change that sends the listing as it is, confirm
    it at once."""
    from finder.submissions import service
    from tests.listings_support import post_page, signed_in
    from tests.submissions_support import make_world, new_group

    world = make_world(session)
    client.live.commit()
    created = client.post("/api/v1/groups", json=new_group(), headers=world.auth("a"))
    with app.test_request_context("/moderation", base_url="http://finder.test"):
        gid = service.approve(created.get_json()["submission"]["id"], world.moderator).group_id
    _confirmed_200_days_ago(session, gid)
    api = client.get(f"/api/v1/groups/{gid}").get_json()
    old = (TODAY - dt.timedelta(days=200)).isoformat()
    assert (api["last_confirmed"], api["stale"]) == (old, True)

    change = client.patch(f"/api/v1/groups/{gid}", json={"description": "Now with tea."},
                          headers=world.auth("a"))
    assert change.status_code == 202, change.get_json()
    assert client.get(f"/api/v1/groups/{gid}").get_json()["stale"] is True  # not yet public
    moderator = signed_in(new_client(), "mod@example.org")
    page = f"/moderation/changes/{change.get_json()['submission']['id']}"
    assert post_page(moderator, f"{page}/approve", {}, form_page=page).status_code == 302
    api = client.get(f"/api/v1/groups/{gid}").get_json()
    assert (api["description"], api["last_confirmed"], api["stale"]) == (
        "Now with tea.", TODAY.isoformat(), False)
    assert "May be out of date" not in client.get(f"/groups/{gid}").get_data(as_text=True)
    assert audit.history(session, gid)[0].action in ("confirm", "approve")

    # sending the listing as it is (nothing to moderate) confirms it too
    _confirmed_200_days_ago(session, gid)
    same = client.patch(f"/api/v1/groups/{gid}", json={"description": "Now with tea."},
                        headers=world.auth("a"))
    assert same.get_json()["state"] == "unchanged"
    assert client.get(f"/api/v1/groups/{gid}").get_json()["last_confirmed"] == TODAY.isoformat()

    # a trusted organisation's change publishes, and confirms, at once
    _confirmed_200_days_ago(session, gid)
    with app.app_context():
        service.set_trusted(world.org_a, True, actor=world.moderator)
    trusted = client.patch(f"/api/v1/groups/{gid}", json={"description": "Tea and cake."},
                           headers=world.auth("a"))
    assert trusted.status_code == 200, trusted.get_json()
    api = client.get(f"/api/v1/groups/{gid}").get_json()
    assert (api["last_confirmed"], api["stale"]) == (TODAY.isoformat(), False)


def test_approving_a_change_does_not_undo_a_moderators_pause(app, session):
    """An edit confirms; it does not bring back a listing a moderator paused (a listing
    paused for want of confirmation does come back)."""
    from finder.accounts.actor import Actor
    from finder.listings import store

    moderator = Actor("user", user_id=1, is_moderator=True)
    paused = {}
    for reason in (rules.PAUSED_BY_MODERATOR, rules.PAUSED_UNCONFIRMED):
        group, _, _ = owned_group(session, f"Circle {reason}", email=f"{reason}@example.org")
        group.status, group.pause_reason = "paused", reason
        group.last_confirmed = TODAY - dt.timedelta(days=400)
        session.flush()
        assert store.confirm_group(session, group.id, actor=moderator, edit=True)
        paused[reason] = group
    session.expire_all()
    assert [(g.status, g.last_confirmed) for g in paused.values()] == [
        ("paused", dt.date.today()), ("active", dt.date.today())]


def test_a_moderator_sees_stale_listings_and_confirms_one(app, client, session):
    from tests.accounts_support import sign_in

    mod = users.create_user(session, "mod@example.org", STRONG, verified=True, moderator=True)
    old = make_group(session, "Forgotten Circle", lat=LEEDS[0], lng=LEEDS[1],
                     last_confirmed=TODAY - dt.timedelta(days=400), status="paused",
                     pause_reason=rules.PAUSED_UNCONFIRMED)
    make_group(session, "Fresh Circle", lat=LEEDS[0], lng=LEEDS[1], last_confirmed=TODAY)
    session.flush()
    assert client.get("/moderation/stale").status_code == 302
    sign_in(client, mod.email, STRONG)
    page = client.get("/moderation/stale").get_data(as_text=True)
    assert "Forgotten Circle" in page and "Fresh Circle" not in page
    answer = client.post(f"/moderation/listings/{old.id}/confirm",
                         data={"csrf_token": csrf_token(client, "/moderation/stale")})
    assert answer.status_code == 303
    session.expire_all()
    group = session.get(Group, old.id)
    assert (group.status, group.last_confirmed) == ("active", dt.datetime.now(dt.UTC).date())
    assert "Forgotten Circle" not in client.get("/moderation/stale").get_data(as_text=True)
