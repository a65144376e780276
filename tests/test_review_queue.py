"""Issue 7: what ingestion could not decide goes to moderators, and their decisions survive
the next ingestion run (over real HTTP, pytest-httpserver on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from finder.accounts import users
from finder.models import Group, ListingConflict, ListingSource
from finder.review.models import ConflictDecision, MatchReview
from ingest.fetch import FetchSettings
from tests.accounts_support import STRONG, post_form, sign_in
from tests.factories import make_group
from tests.test_ingest_runner import T0, feed, mg_row, mg_source, run

SETTINGS = FetchSettings(connect_timeout=1, read_timeout=1, retries=0)
HOSPITAL = [mg_row("circle", n=0, name="Baby Loss Support Group", day=2, time="19:00")]
# the same name at the same place, the same day, another time: "review", not "match"
CHARITY = [mg_row("bl-group", n=0, name="Baby Loss Support Group", day=2, time="10:00")]
# the same group, the same time, another join link: a match with a conflict
CHARITY_SAME = [mg_row("bl-group", n=0, name="Baby Loss Support Group", day=2, time="19:00",
                       conference_url="https://meet.example.org/other")]


HOSPITAL_LINKED = [{**HOSPITAL[0], "conference_url": "https://meet.example.org/first"}]


def two_sources(httpserver, charity_rows, hospital_rows=HOSPITAL):
    httpserver.expect_request("/hospital.json").respond_with_data(
        feed(*hospital_rows), content_type="application/json")
    httpserver.expect_request("/charity.json").respond_with_data(
        feed(*charity_rows), content_type="application/json")
    return (mg_source(httpserver, "/hospital.json", name="hospital"),
            mg_source(httpserver, "/charity.json", name="charity"))


def ingest_both(db, sources, now):
    for source in sources:
        report = run(db, source, SETTINGS, now=now)
        assert report.outcome == "success", (report.error, report.rejections)


@pytest.mark.parametrize("decision", ["apart", "merge"])
def test_a_review_decision_survives_the_next_run(app, httpserver, connection, decision):
    from finder.accounts.actor import Actor
    from finder.review import service

    db = app.extensions["db"]
    sources = two_sources(httpserver, CHARITY)
    ingest_both(db, sources, T0)
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        [(review, new, old)] = service.open_matches(session)
        assert (review.source, review.external_id, review.decision) == (
            "charity", "bl-group", None)
        assert review.reasons and 0 < review.confidence <= 1
        service.decide_match(session, review.id, decision,
                             actor=Actor("user", user_id=1, is_moderator=True))
        session.commit()
        kept, dropped = old.id, new.id

    ingest_both(db, sources, T0 + dt.timedelta(days=1))
    with Session(bind=connection) as session:
        assert session.scalar(select(func.count()).select_from(MatchReview)) == 1
        assert service.open_matches(session) == []
        active = session.scalars(select(Group.id).where(Group.status == "active")
                                 .order_by(Group.id)).all()
        charity_group = session.scalar(select(ListingSource.group_id).where(
            ListingSource.source == "charity"))
        if decision == "merge":
            assert active == [kept] and charity_group == kept
            assert session.get(Group, dropped).status == "withdrawn"
        else:
            assert active == sorted([kept, dropped]) and charity_group == dropped


@pytest.mark.parametrize("pick", ["a", "b"])
def test_a_conflict_pick_is_remembered_when_the_source_changes(app, httpserver, connection,
                                                               pick):
    from finder.accounts.actor import Actor
    from finder.review import service

    db = app.extensions["db"]
    sources = two_sources(httpserver, CHARITY_SAME, HOSPITAL_LINKED)
    ingest_both(db, sources, T0)
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        conflicts = [c for c, _ in service.open_conflicts(session)]
        assert [c.field for c in conflicts] == ["join_url"]
        service.decide_conflict(session, conflicts[0].id, pick,
                                actor=Actor("user", user_id=1, is_moderator=True))
        session.commit()
        group_id = conflicts[0].group_id
        chosen = {"a": "https://meet.example.org/first", "b": "https://meet.example.org/other"}
        assert session.get(Group, group_id).join_url == chosen[pick]

    # the charity changes something else: its conflicts are detected again, same values
    httpserver.clear()
    changed = [{**CHARITY_SAME[0], "notes": "Tea and biscuits."}]
    sources = two_sources(httpserver, changed, HOSPITAL_LINKED)
    ingest_both(db, sources, T0 + dt.timedelta(days=1))
    with Session(bind=connection) as session:
        assert service.open_conflicts(session) == []
        # picking "a", the same disagreement is found again and stays resolved; picking
        # "b" wrote the charity's link to the group, so they no longer disagree
        assert session.scalar(select(func.count()).select_from(ListingConflict)) == (
            1 if pick == "a" else 0)
        assert session.get(Group, group_id).join_url == chosen[pick]
        assert session.scalar(select(func.count()).select_from(ConflictDecision)) == 1


def test_the_review_page_is_for_moderators(client, new_client, session):
    mod = users.create_user(session, "mod@example.org", STRONG, verified=True, moderator=True)
    member = users.create_user(session, "m@example.org", STRONG, verified=True)
    group = make_group(session, "Any group", lat=53.8, lng=-1.55)
    session.flush()
    assert client.get("/moderation/review").status_code == 302
    sign_in(client, member.email, STRONG)
    assert client.get("/moderation/review").status_code == 403
    other = new_client()
    sign_in(other, mod.email, STRONG)
    page = other.get("/moderation/review")
    assert page.status_code == 200 and "No undecided matches" in page.get_data(as_text=True)
    answer = post_form(other, "/moderation/review/matches/999", {"decision": "merge"},
                       form_page=f"/groups/{group.id}/report")  # the session's token
    assert answer.status_code == 404


MODERATOR = dict(kind="user", user_id=1, is_moderator=True)
# the same group at the same place: the charity says 19:30 (a match, with a time conflict)
CHARITY_LATER = [mg_row("bl-group", n=0, name="Baby Loss Support Group", day=2, time="19:30")]
# the same group at the same point: the charity names another room, street and postcode
CHARITY_ELSEWHERE = [mg_row("bl-group", n=0, name="Baby Loss Support Group", day=2,
                            time="19:00", location="Room 2, Civic Hall",
                            address="Calverley Street", postal_code="LS1 1UR")]


def _group_state(session: Session, group_id: int) -> tuple:
    group = session.get(Group, group_id)
    [schedule] = group.schedules
    return (schedule.start_time, group.location.postcode, group.location.address_line1,
            group.location.venue_name)


def _open(session: Session) -> list[tuple[str, str | None, str | None]]:
    from finder.review import service

    return sorted((c.field, c.value_a, c.value_b) for c, _ in service.open_conflicts(session))


@pytest.mark.parametrize(("charity", "fields", "picked"), [
    (CHARITY_LATER, ["schedule.start_time"],
     (dt.time(19, 30), "LS1 3EX", "1 Park Lane", "Venue 0")),
    (CHARITY_ELSEWHERE, ["address", "postcode"],
     (dt.time(19), "LS1 1UR", "Calverley Street", "Room 2, Civic Hall")),
], ids=["time", "place"])
def test_a_pick_of_the_second_source_sticks_through_both_sources_runs(
        app, httpserver, connection, charity, fields, picked):
    """Picking b writes b's time or place to the group; later runs of both sources that still
    carry the same two values keep it (even when the first source changes something else),
    raising no new disagreement; a new value from the first source is written as usual."""
    from finder.accounts.actor import Actor
    from finder.review import service

    db = app.extensions["db"]
    ingest_both(db, two_sources(httpserver, charity), T0)
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        assert [field for field, _, _ in _open(session)] == fields
        [(conflict, group)] = service.open_conflicts(session)[:1]
        group_id = group.id
        first = _group_state(session, group_id)
        assert first == (dt.time(19), "LS1 3EX", "1 Park Lane", "Venue 0")
        service.decide_conflict(session, conflict.id, "b", actor=Actor(**MODERATOR))
        session.commit()
        assert _group_state(session, group_id) == picked
        assert _open(session) == []  # a second disagreement about the same place went with it
        assert session.scalar(select(func.count()).select_from(ConflictDecision)) == len(fields)

    # both sources change something else, and still carry the two values: the pick stays
    httpserver.clear()
    hospital = [{**HOSPITAL[0], "notes": "Tea and cake before we start."}]
    ingest_both(db, two_sources(httpserver, [{**charity[0], "notes": "Tea and biscuits."}],
                                hospital), T0 + dt.timedelta(days=1))
    with Session(bind=connection) as session:
        assert _group_state(session, group_id) == picked
        group = session.get(Group, group_id)  # the hospital's change is written
        assert "Tea and cake before we start." in f"{group.description} {group.join_notes}"
        assert _open(session) == []
    # and once more unchanged (no rewrite at all)
    ingest_both(db, two_sources(httpserver, [{**charity[0], "notes": "Tea and biscuits."}],
                                hospital), T0 + dt.timedelta(days=2))
    with Session(bind=connection) as session:
        assert _group_state(session, group_id) == picked
        assert _open(session) == []

    # the hospital sends a new value: the normal rules apply again (its value is written)
    httpserver.clear()
    if fields == ["schedule.start_time"]:
        moved = {**hospital[0], "time": "18:00"}
    else:
        moved = {**hospital[0], "location": "Chapel", "address": "Great George Street"}
    ingest_both(db, two_sources(httpserver, [{**charity[0], "notes": "Tea, biscuits."}],
                                [moved]), T0 + dt.timedelta(days=3))
    with Session(bind=connection) as session:
        state = _group_state(session, group_id)
        if fields == ["schedule.start_time"]:
            assert state[0] == dt.time(18)
            assert _open(session) == [("schedule.start_time", "18:00 (Europe/London)",
                                       "19:30 (Europe/London)")]
        else:
            assert state[1:3] == ("LS1 3EX", "Great George Street")
            assert [field for field, _, _ in _open(session)] == fields


def test_a_pick_of_the_second_sources_format_sticks(app, httpserver, connection):
    """The charity starts streaming its meetings (hybrid): the format disagreement, picked
    for the charity, makes the group hybrid with the charity's link, and stays so when the
    hospital, still saying "in person", changes something else."""
    from finder.accounts.actor import Actor
    from finder.review import service

    db = app.extensions["db"]
    same = [{**HOSPITAL[0], "slug": "bl-group"}]
    ingest_both(db, two_sources(httpserver, same), T0)
    with Session(bind=connection) as session:
        assert _open(session) == []
    httpserver.clear()
    hybrid = [{**same[0], "conference_url": "https://meet.example.org/stream"}]
    ingest_both(db, two_sources(httpserver, hybrid), T0 + dt.timedelta(days=1))
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        assert _open(session) == [("format", "in_person", "hybrid")]
        [(conflict, group)] = service.open_conflicts(session)
        service.decide_conflict(session, conflict.id, "b", actor=Actor(**MODERATOR))
        session.commit()
        group_id = group.id
        group = session.get(Group, group_id)
        assert (group.format, group.join_url, group.location.postcode) == (
            "hybrid", "https://meet.example.org/stream", "LS1 3EX")
        assert group.service_countries == ["GB"]

    httpserver.clear()
    ingest_both(db, two_sources(httpserver, hybrid, [{**HOSPITAL[0], "notes": "Tea and cake."}]),
                T0 + dt.timedelta(days=2))
    with Session(bind=connection) as session:
        group = session.get(Group, group_id)
        assert (group.format, group.join_url) == ("hybrid", "https://meet.example.org/stream")
        assert _open(session) == []


def test_picked_schedules_keep_the_first_sources_cancellations_and_end():
    from finder.listings.store import with_pick

    own = {"schedules": [
        {"freq": "weekly", "interval": 1, "weekday": 1, "set_pos": None, "start_time": "19:00",
         "duration_minutes": 90, "timezone": "Europe/London", "valid_from": "2026-01-06",
         "valid_until": "2026-06-30", "cancelled_dates": ["2026-04-07"]}], "name": "Circle"}
    chosen = {"schedules": [
        {**own["schedules"][0], "start_time": "19:30", "valid_until": None,
         "cancelled_dates": ["2026-05-05"]},
        {**own["schedules"][0], "weekday": 3, "start_time": "10:00", "valid_until": None,
         "cancelled_dates": []}]}
    picked = with_pick(own, chosen)
    assert picked["name"] == "Circle"
    assert [(s["weekday"], s["start_time"], s["valid_until"], s["cancelled_dates"])
            for s in picked["schedules"]] == [
        (1, "19:30", "2026-06-30", ["2026-04-07", "2026-05-05"]),  # the same weekday
        (3, "10:00", None, [])]
    # a picked format brings a way to join only where the group has none
    assert with_pick({"format": "in_person", "join_url": None, "join_email": "a@example.org"},
                     {"format": "hybrid", "join_url": "https://x.example.org/",
                      "join_email": "b@example.org"}) == {
        "format": "hybrid", "join_url": "https://x.example.org/", "join_email": "a@example.org",
        "join_phone": None}


def test_a_legacy_disagreement_without_the_sources_values_says_why_b_cannot_be_written(
        session):
    from finder.accounts.actor import Actor
    from finder.review import service

    group = make_group(session, "Any group", lat=53.8, lng=-1.55)
    conflict = ListingConflict(group_id=group.id, field="schedule.start_time",
                               source_a="hospital", value_a="19:00 (Europe/London)",
                               source_b="charity", value_b="19:30 (Europe/London)")
    session.add(conflict)
    session.flush()
    with pytest.raises(service.ReviewError, match="next changes its listing"):
        service.decide_conflict(session, conflict.id, "b", actor=Actor(**MODERATOR))
    assert conflict.resolved_at is None
    service.decide_conflict(session, conflict.id, "a", actor=Actor(**MODERATOR))
    assert conflict.resolved_at is not None
