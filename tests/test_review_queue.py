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
        assert run(db, source, SETTINGS, now=now).outcome == "success"


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
