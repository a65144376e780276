"""The listing store's group-level writes (create, update, withdraw, restore, merge,
owner), the field view and the audit log they all write, on the real PostGIS."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from finder.accounts.actor import Actor
from finder.listings import audit, fields
from finder.listings.fields import group_fields, listing_fields, listing_from_fields
from finder.listings.normalise import NormalisedListing, normalise
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from finder.listings.store import (
    create_group,
    geocode,
    merge_groups,
    restore_group,
    set_owner,
    update_group,
    upsert,
    withdraw,
    withdraw_group,
    write_listings,
)
from finder.models import Group, ListingAudit, ListingSource, Location, Organisation

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
MODERATOR = Actor("user", user_id=7, is_moderator=True, label="user 7")
MEMBER = Actor("user", user_id=8, organisation_id=None, label="user 8")


def record(external_id: str = "a", name: str = "Miscarriage Support Group", *,
           source: str = "hospital", **kw) -> ListingRecord:
    values = dict(
        source=source, external_id=external_id, name=name, format="in_person",
        join_mode="drop_in", venue_name="St James's Hospital", address_line1="Beckett Street",
        town="Leeds", postcode="LS9 7TF", country="GB", latitude=53.8069, longitude=-1.5204,
        timezone="Europe/London", loss_types=["miscarriage"],
        schedules=[ScheduleRecord(freq="weekly", weekday=1, start_time=dt.time(19, 0),
                                  valid_from=dt.date(2026, 1, 6))],
        organisation=OrganisationRecord("Leeds Loss Support"))
    values.update(kw)
    return ListingRecord(**values)


def ready(session, rec: ListingRecord) -> NormalisedListing:
    n = normalise(rec, today=NOW.date())
    assert isinstance(n, NormalisedListing), n
    n = geocode(session, n)
    assert isinstance(n, NormalisedListing), n
    return n


def audit_rows(session, group_id: int) -> list[tuple[str, str, dict]]:
    """(action, actor label, changes), oldest first."""
    return [(r.action, r.actor.get("label"), r.changes)
            for r in reversed(audit.history(session, group_id))]


def org(session, name: str) -> int:
    row = Organisation(name=name)
    session.add(row)
    session.flush()
    return row.id


# ----------------------------------------------------------------------------- fields


def test_the_field_view_of_a_listing_round_trips_and_matches_the_stored_group(session):
    n = ready(session, record(join_mode="register", join_email="hello@example.org",
                              audiences=["partners"], cost="donation"))
    view = listing_fields(n)
    assert list(view) == list(fields.FIELD_LABELS)
    assert view["schedules"] == [{
        "freq": "weekly", "interval": 1, "weekday": 1, "set_pos": None,
        "start_time": "19:00:00", "duration_minutes": 90, "timezone": "Europe/London",
        "valid_from": "2026-01-06", "valid_until": None, "cancelled_dates": []}]
    assert listing_fields(listing_from_fields(view)) == view
    group_id = create_group(session, n, actor=MODERATOR)
    assert group_fields(session, group_id) == view


def test_a_virtual_listing_has_no_venue_fields(session):
    n = ready(session, record(format="online", join_mode="register",
                              join_url="https://example.org/join", service_countries=["GB"]))
    view = listing_fields(n)
    assert all(view[k] is None for k in fields.VENUE_FIELDS)
    group_id = create_group(session, n, actor=MODERATOR)
    assert group_fields(session, group_id) == view


def test_diff_names_only_what_changed():
    assert fields.diff({"name": "A", "cost": "free"}, {"name": "B", "cost": "free"}) == {
        "name": ["A", "B"]}
    assert fields.diff({"town": "Leeds"}, {}) == {"town": ["Leeds", None]}
    assert fields.diff({"loss_types": ["a"]}, {"loss_types": ["a"]}) == {}


def test_group_fields_of_a_missing_group_is_a_lookup_error(session):
    with pytest.raises(LookupError, match="no group with id -1"):
        group_fields(session, -1)


# ----------------------------------------------------------------------------- writes


def test_create_group_by_a_person_has_no_provenance_and_is_audited(session):
    owner = org(session, "Leeds Loss Support Charity")
    group_id = create_group(session, ready(session, record()), actor=MEMBER,
                            owner_organisation_id=owner, now=NOW)
    group = session.get(Group, group_id)
    assert group.status == "active" and group.owner_organisation_id == owner
    assert group.sources == []
    [(action, label, changes)] = audit_rows(session, group_id)
    assert (action, label) == ("create", "user 8")
    assert changes["name"] == [None, "Miscarriage Support Group"]
    assert changes["postcode"] == [None, "LS9 7TF"]
    assert changes["owner_organisation_id"] == [None, owner]
    assert "join_url" not in changes  # nothing to record for an empty field
    row = session.scalars(select(ListingAudit).where(ListingAudit.group_id == group_id)).one()
    assert row.actor_kind == "user" and row.actor == {"kind": "user", "user_id": 8,
                                                      "label": "user 8"}


def test_create_group_by_ingestion_records_where_it_came_from(session):
    actor = Actor.ingestion("hospital", 42)
    group_id = create_group(session, ready(session, record()), actor=actor, now=NOW)
    [ref] = session.get(Group, group_id).sources
    assert (ref.source, ref.external_id, ref.first_seen_at) == ("hospital", "a", NOW)
    row = audit.history(session, group_id)[0]
    assert row.actor == {"kind": "ingestion", "source": "hospital", "ingest_run_id": 42,
                         "label": "ingestion of hospital"}


def test_update_group_returns_and_audits_the_changes_and_skips_a_no_op(session):
    group_id = create_group(session, ready(session, record()), actor=MEMBER)
    edited = ready(session, record(name="Miscarriage Support Evening", town="LEEDS",
                                   schedules=[ScheduleRecord(
                                       freq="monthly", set_pos=-1, weekday=3,
                                       start_time=dt.time(18, 30),
                                       valid_from=dt.date(2026, 1, 1))]))
    changes = update_group(session, group_id, edited, actor=MODERATOR, now=NOW)
    assert changes["name"] == ["Miscarriage Support Group", "Miscarriage Support Evening"]
    assert changes["schedules"][1][0]["set_pos"] == -1
    assert group_fields(session, group_id) == listing_fields(edited)
    assert audit_rows(session, group_id)[-1] == ("update", "user 7", changes)
    assert update_group(session, group_id, edited, actor=MODERATOR) == {}
    assert len(audit.history(session, group_id)) == 2


def test_update_group_of_a_missing_group(session):
    with pytest.raises(LookupError):
        update_group(session, 10**9, ready(session, record()), actor=MODERATOR)


def test_withdraw_and_restore_are_audited_and_idempotent(session):
    group_id = create_group(session, ready(session, record()), actor=MEMBER)
    assert withdraw_group(session, group_id, actor=MEMBER, reason="the group has closed")
    assert not withdraw_group(session, group_id, actor=MEMBER)
    assert session.get(Group, group_id).status == "withdrawn"
    assert restore_group(session, group_id, actor=MODERATOR)
    assert not restore_group(session, group_id, actor=MODERATOR)
    assert session.get(Group, group_id).status == "active"
    assert audit_rows(session, group_id)[1:] == [
        ("withdraw", "user 8", {"status": ["active", "withdrawn"]}),
        ("restore", "user 7", {"status": ["withdrawn", "active"]})]
    assert audit.history(session, group_id)[1].note == "the group has closed"


def test_a_group_a_person_withdrew_stays_withdrawn_while_its_source_lists_it(session):
    n = ready(session, record())
    assert write_listings(session, [n], now=NOW) == ["created"]
    group_id = session.scalar(select(ListingSource.group_id))
    withdraw_group(session, group_id, actor=MODERATOR)
    changed = ready(session, record(name="Renamed"))
    assert write_listings(session, [changed], now=NOW) == ["updated"]
    assert session.get(Group, group_id).status == "withdrawn"
    assert session.get(Group, group_id).name == "Renamed"


def test_set_owner_is_audited_and_checks_the_organisation(session):
    group_id = create_group(session, ready(session, record()), actor=MEMBER)
    owner = org(session, "Owner")
    set_owner(session, group_id, owner, actor=MODERATOR)
    set_owner(session, group_id, owner, actor=MODERATOR)  # no change: nothing recorded
    set_owner(session, group_id, None, actor=MODERATOR)
    assert [r[:3] for r in audit_rows(session, group_id)[1:]] == [
        ("owner", "user 7", {"owner_organisation_id": [None, owner]}),
        ("owner", "user 7", {"owner_organisation_id": [owner, None]})]
    with pytest.raises(LookupError, match="no organisation"):
        set_owner(session, group_id, 10**9, actor=MODERATOR)


def test_merge_moves_sources_keeps_fields_and_withdraws_the_dropped_group(session):
    # the dropped group's source is older than the kept group's
    write_listings(session, [ready(session, record("d", "Dropped name", source="zeta"))],
                   now=NOW)
    write_listings(session, [ready(session, record(
        "k", "Kept name", source="alpha", venue_name="Leeds General Infirmary",
        postcode="LS1 3EX", latitude=53.8015, longitude=-1.5516))], now=NOW)
    by_source = dict(session.execute(select(ListingSource.source, ListingSource.group_id)).all())
    keep, drop = by_source["alpha"], by_source["zeta"]
    owner = org(session, "Owner")
    set_owner(session, drop, owner, actor=MODERATOR)
    merge_groups(session, keep, drop, actor=MODERATOR)
    session.expire_all()
    kept, dropped = session.get(Group, keep), session.get(Group, drop)
    assert [s.source for s in kept.sources] == ["alpha", "zeta"]
    assert dropped.sources == [] and dropped.status == "withdrawn"
    assert kept.owner_organisation_id == owner and kept.name == "Kept name"
    assert audit_rows(session, keep)[-1] == (
        "merge", "user 7", {"sources": [["alpha:k"], ["alpha:k", "zeta:d"]],
                            "owner_organisation_id": [None, owner]})
    assert audit_rows(session, drop)[-1] == (
        "merge", "user 7", {"status": ["active", "withdrawn"]})
    # the kept group's first source still owns its fields: the moved one's edit is
    # provenance only
    set_owner(session, keep, None, actor=MODERATOR)
    assert write_listings(session, [ready(session, record("d", "Another name", source="zeta"))],
                          now=NOW) == ["updated"]
    assert session.get(Group, keep).name == "Kept name"


def test_merge_refuses_itself_and_two_owners(session):
    a = create_group(session, ready(session, record()), actor=MEMBER)
    b = create_group(session, ready(session, record("b", "Other")), actor=MEMBER)
    with pytest.raises(ValueError, match="into itself"):
        merge_groups(session, a, a, actor=MODERATOR)
    set_owner(session, a, org(session, "One"), actor=MODERATOR)
    set_owner(session, b, org(session, "Two"), actor=MODERATOR)
    with pytest.raises(ValueError, match="different organisations"):
        merge_groups(session, a, b, actor=MODERATOR)
    assert session.get(Group, b).status == "active"


def test_history_is_newest_first(session):
    group_id = create_group(session, ready(session, record()), actor=MEMBER)
    withdraw_group(session, group_id, actor=MEMBER)
    restore_group(session, group_id, actor=MEMBER)
    assert [r.action for r in audit.history(session, group_id)] == [
        "restore", "withdraw", "create"]


# ----------------------------------------------------------------------------- the venue rule


def location_of(session, source: str, external_id: str) -> Location:
    return session.scalars(
        select(Location).join(Group, Group.location_id == Location.id)
        .join(ListingSource, ListingSource.group_id == Group.id)
        .where(ListingSource.source == source, ListingSource.external_id == external_id)
    ).one()


@pytest.mark.parametrize("path", ["upsert", "write_listings"])
def test_one_venue_rule_on_both_paths(session, path):
    """A venue first placed from its postcode; a listing with the publisher's own point at
    the same address updates it, whichever path writes it; a coarser fix never does."""
    coarse = ready(session, record("first", latitude=None, longitude=None))
    assert coarse.geocode_precision == "postcode"
    write_listings(session, [coarse], now=NOW)
    shared = location_of(session, "hospital", "first")
    assert shared.geocode_precision == "postcode"

    write = (lambda n: upsert(session, n, now=NOW)) if path == "upsert" else (
        lambda n: write_listings(session, [n], now=NOW)[0])
    better = ready(session, record("second", "Stillbirth Evening", region="West Yorkshire",
                                   latitude=53.80701, longitude=-1.52101))
    assert write(better) == "created"
    session.expire_all()
    assert location_of(session, "hospital", "second").id == shared.id
    shared = session.get(Location, shared.id)
    assert (shared.geocode_precision, shared.region) == ("given", "West Yorkshire")
    assert group_fields(session, location_of(session, "hospital", "first").groups[0].id)[
        "latitude"] == 53.80701

    worse = ready(session, record("third", "Dads Group", region="Elsewhere",
                                  latitude=None, longitude=None))
    assert write(worse) == "created"
    session.expire_all()
    shared = session.get(Location, shared.id)
    assert (shared.geocode_precision, shared.region) == ("given", "West Yorkshire")


# ----------------------------------------------------------------------------- batch audit


def test_the_batch_writer_audits_creates_merges_and_withdrawals(session):
    run = Actor.ingestion("hospital", 5)
    outcomes = write_listings(session, [ready(session, record("a")),
                                        ready(session, record("b", "Stillbirth Evening"))],
                              now=NOW, actor=run)
    assert outcomes == ["created", "created"]
    group_a = session.scalar(select(ListingSource.group_id)
                             .where(ListingSource.external_id == "a"))
    [row] = audit.history(session, group_a)
    assert (row.action, row.actor_kind, row.actor["ingest_run_id"]) == ("create", "ingestion", 5)
    assert row.changes == {"name": [None, "Miscarriage Support Group"],
                           "format": [None, "in_person"]}
    assert row.note is None  # the actor names the source; listing_sources the id

    other = Actor.ingestion("charity", 6)
    same = ready(session, record("c1", source="charity"))
    assert write_listings(session, [same], now=NOW, actor=other) == ["merged"]
    assert audit_rows(session, group_a)[-1] == ("merge", "ingestion of charity", {})

    assert withdraw(session, "hospital", ["b"], now=NOW, actor=run) == 1
    # the charity still lists it: only provenance changed
    assert audit_rows(session, group_a)[-1][:2] == ("source", "ingestion of hospital")
    assert withdraw(session, "charity", [], allow_empty=True, now=NOW, actor=other) == 1
    assert audit_rows(session, group_a)[-1] == (
        "withdraw", "ingestion of charity", {"status": ["active", "withdrawn"]})
    assert session.get(Group, group_a).status == "withdrawn"
    assert write_listings(session, [same], now=NOW, actor=other) == ["updated"]
    assert audit_rows(session, group_a)[-1] == (
        "restore", "ingestion of charity", {"status": ["withdrawn", "active"]})


def test_a_changed_listing_is_audited_by_the_run(session):
    run = Actor.ingestion("hospital", 9)
    write_listings(session, [ready(session, record())], now=NOW, actor=run)
    changed = ready(session, record(description="Now with tea."))
    assert write_listings(session, [changed], now=NOW, actor=run) == ["updated"]
    group_id = session.scalar(select(ListingSource.group_id))
    assert audit_rows(session, group_id)[-1] == (
        "update", "ingestion of hospital", {"description": ["", "Now with tea."]})
    assert write_listings(session, [changed], now=NOW, actor=run) == ["unchanged"]
    assert len(audit.history(session, group_id)) == 2
    assert session.scalar(select(func.count()).select_from(ListingAudit)) == 2


def test_a_created_listing_that_repeats_a_field_view_is_the_same_shape(session):
    """`listing_from_fields` gives the store what it needs to create a group."""
    n = ready(session, record())
    view = listing_fields(n)
    again = dataclasses.replace(listing_from_fields(view), name="From a payload")
    group_id = create_group(session, again, actor=MEMBER)
    assert group_fields(session, group_id) == {**view, "name": "From a payload"}


def test_an_organisations_new_details_are_kept_when_nothing_else_changed(session):
    write_listings(session, [ready(session, record())], now=NOW)
    changed = ready(session, record(organisation=OrganisationRecord(
        "Leeds Loss Support", website="https://leedsloss.example.org/")))
    assert write_listings(session, [changed], now=NOW) == ["updated"]
    organisation = session.scalars(select(Organisation)).one()
    assert organisation.website == "https://leedsloss.example.org/"
    group_id = session.scalar(select(ListingSource.group_id))
    assert len(audit.history(session, group_id)) == 1  # no field of the group changed


def test_bulk_create_audit_rows_are_the_key_fields_of_every_kind_of_listing(session):
    """PostgreSQL builds the batch writer's "create" rows; they say what the Python field
    view says of the key fields, for every demo listing (online ones have no venue), and
    name the demo loader as the actor."""
    from finder.demo import load_demo

    counts = load_demo(session)
    assert counts["created"] >= 150
    rows = session.scalars(select(ListingAudit).where(ListingAudit.action == "create")).all()
    assert len(rows) == counts["created"]
    for row in rows:
        view = fields.created_changes(group_fields(session, row.group_id))
        assert row.changes == {k: v for k, v in view.items() if k in audit.CREATED_KEYS}
        assert set(row.changes) == {"name", "format"}
        assert row.actor == {"kind": "system", "label": "demo"}


def test_a_new_source_does_not_bring_back_a_group_a_person_withdrew(session):
    write_listings(session, [ready(session, record())], now=NOW)
    group_id = session.scalar(select(ListingSource.group_id))
    withdraw_group(session, group_id, actor=MODERATOR, reason="closed for good")
    assert write_listings(session, [ready(session, record("c1", source="charity"))],
                          now=NOW) == ["merged"]
    assert session.get(Group, group_id).status == "withdrawn"
    assert audit_rows(session, group_id)[-1] == ("merge", "ingestion of charity", {})
    # its sources withdrawing and listing it again does not either ...
    withdraw(session, "hospital", [], allow_empty=True, now=NOW)
    assert write_listings(session, [ready(session, record(name="Renamed"))],
                          now=NOW) == ["updated"]
    assert session.get(Group, group_id).status == "withdrawn"
    # ... but a group its sources withdrew comes back when one lists it again
    restore_group(session, group_id, actor=MODERATOR)
    withdraw(session, "hospital", [], allow_empty=True, now=NOW)
    withdraw(session, "charity", [], allow_empty=True, now=NOW)
    assert session.get(Group, group_id).status == "withdrawn"
    assert write_listings(session, [ready(session, record(name="Renamed"))],
                          now=NOW) == ["updated"]
    assert session.get(Group, group_id).status == "active"
