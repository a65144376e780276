"""Claimed listings: a source's change to a group an organisation manages does not
overwrite it; it waits in moderation as one pending "import" submission (issue 6).
Through both write paths of the store, and end to end over real HTTP ingestion."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from finder.accounts.actor import Actor
from finder.listings import audit
from finder.listings.fields import group_fields, listing_fields
from finder.listings.store import set_owner, upsert, withdraw, write_listings
from finder.models import Group, ListingSource, Organisation, Submission
from ingest.fetch import FetchSettings
from tests.test_ingest_runner import THREE, feed, mg_source, run, serve
from tests.test_listing_store import NOW, ready, record

MODERATOR = Actor("user", user_id=1, is_moderator=True, label="user 1")


def claimed(session, write) -> tuple[int, int]:
    """A group imported from "hospital", then claimed by an organisation: (group, owner)."""
    assert write(ready(session, record())) == "created"
    group_id = session.scalar(select(ListingSource.group_id))
    owner = Organisation(name="Leeds Loss Support Charity")
    session.add(owner)
    session.flush()
    set_owner(session, group_id, owner.id, actor=MODERATOR)
    return group_id, owner.id


def pending_imports(session, group_id: int) -> list[Submission]:
    return list(session.scalars(select(Submission).where(
        Submission.group_id == group_id, Submission.kind == "import").order_by(Submission.id)))


WRITERS = {
    "upsert": lambda session: lambda n: upsert(session, n, now=NOW),
    "write_listings": lambda session: lambda n: write_listings(session, [n], now=NOW)[0],
}


@pytest.mark.parametrize("path", sorted(WRITERS))
def test_a_changed_import_of_a_claimed_group_waits_for_a_moderator(session, path):
    write = WRITERS[path](session)
    group_id, owner = claimed(session, write)
    before = group_fields(session, group_id)

    changed = ready(session, record(name="Renamed by the hospital"))
    assert write(changed) == "updated"
    assert group_fields(session, group_id) == before  # not overwritten
    [sub] = pending_imports(session, group_id)
    assert (sub.state, sub.organisation_id) == ("pending", owner)
    assert sub.payload == {"source": "hospital", "external_id": "a",
                           "fields": listing_fields(changed)}
    assert sub.created_by == {"kind": "ingestion", "source": "hospital",
                              "label": "ingestion of hospital"}
    ref = session.scalars(select(ListingSource)).one()
    assert ref.content_hash == changed.content_hash  # provenance follows the source
    row = audit.history(session, group_id)[0]
    assert (row.action, row.changes) == (
        "import", {"name": ["Miscarriage Support Group", "Renamed by the hospital"]})

    assert write(changed) == "unchanged"  # the same again: nothing new to moderate
    assert [s.state for s in pending_imports(session, group_id)] == ["pending"]

    again = ready(session, record(name="Renamed twice"))
    assert write(again) == "updated"
    assert [s.state for s in pending_imports(session, group_id)] == ["superseded", "pending"]
    assert pending_imports(session, group_id)[-1].payload["fields"]["name"] == "Renamed twice"

    # back to what the group already says: the pending import is superseded, none added
    assert write(ready(session, record())) == "updated"
    assert [s.state for s in pending_imports(session, group_id)] == ["superseded"] * 2
    assert group_fields(session, group_id) == before


def test_a_source_dropping_a_claimed_group_does_not_withdraw_it(session):
    group_id, _ = claimed(session, WRITERS["write_listings"](session))
    assert withdraw(session, "hospital", [], allow_empty=True, now=NOW) == 1
    assert session.get(Group, group_id).status == "active"
    assert audit.history(session, group_id)[0].action == "source"
    # nor does listing it again bring back a group its organisation withdrew
    session.execute(update(Group).where(Group.id == group_id).values(status="withdrawn"))
    assert write_listings(session, [ready(session, record())], now=NOW) == ["updated"]
    assert session.get(Group, group_id).status == "withdrawn"


def test_over_http_a_claimed_group_keeps_its_organisations_fields(app, httpserver,
                                                                  connection):
    db = app.extensions["db"]  # bound to the test's connection (see conftest)
    settings = FetchSettings(connect_timeout=1, read_timeout=1, retries=0)
    source = mg_source(httpserver)
    serve(httpserver, feed(*THREE))
    first = run(db, source, settings)
    assert first.created == 3
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        group_id = session.scalar(select(ListingSource.group_id).where(
            ListingSource.external_id == "tuesday-circle"))
        owner = Organisation(name="Tuesday Circle Charity")
        session.add(owner)
        session.flush()
        owner_id = owner.id
        set_owner(session, group_id, owner_id, actor=MODERATOR)
        session.commit()
        before = group_fields(session, group_id)

    changed = [{**THREE[0], "time": "10:00", "name": "Tuesday Morning Circle"}, *THREE[1:]]
    serve(httpserver, feed(*changed))
    second = run(db, source, settings, now=first.started_at + dt.timedelta(hours=2))
    assert (second.outcome, second.updated, second.unchanged) == ("success", 1, 2)

    with Session(bind=connection) as session:
        assert group_fields(session, group_id) == before
        [sub] = pending_imports(session, group_id)
        assert (sub.state, sub.organisation_id) == ("pending", owner_id)
        proposed = sub.payload["fields"]
        assert proposed["name"] == "Tuesday Morning Circle"
        assert proposed["schedules"][0]["start_time"] == "10:00:00"
        assert sub.created_by["ingest_run_id"] == second.run_id
        row = audit.history(session, group_id)[0]
        assert row.action == "import" and row.actor["ingest_run_id"] == second.run_id
        assert set(row.changes) == {"name", "schedules"}
