"""The batch writer: bulk inserts, unchanged skips, and one group for several sources."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select, text

from finder.listings.normalise import normalise
from finder.listings.records import ListingRecord, OrganisationRecord, ScheduleRecord
from finder.listings.store import write_listings
from finder.models import Group, ListingConflict, ListingSource, Schedule

TUESDAY_7PM = ScheduleRecord(freq="weekly", weekday=1, start_time=dt.time(19, 0))


def listing(source, external_id, name, *, lat=53.8008, lng=-1.5491, schedule=TUESDAY_7PM,
            fmt="in_person", **kw):
    record = ListingRecord(
        source=source, external_id=external_id, name=name, format=fmt, join_mode="drop_in",
        venue_name=kw.pop("venue_name", "St James's Hospital"),
        address_line1=kw.pop("address_line1", "Beckett Street"), town="Leeds",
        postcode=kw.pop("postcode", "LS9 7TF"), country="GB", latitude=lat, longitude=lng,
        timezone="Europe/London", schedules=[schedule],
        organisation=OrganisationRecord("Leeds Loss Support"), **kw)
    result = normalise(record)
    assert not hasattr(result, "reason"), result
    return result


def groups(session):
    return session.scalar(select(func.count()).select_from(Group))


def test_new_listings_are_inserted_in_bulk_with_schedules_and_upcoming(session):
    before = groups(session)
    outcomes = write_listings(session, [
        listing("hospital", "a", "Miscarriage Support Group"),
        listing("hospital", "b", "Stillbirth Parents Evening", lat=53.81, lng=-1.56,
                venue_name="Leeds General Infirmary", postcode="LS1 3EX"),
    ])
    assert outcomes == ["created", "created"]
    assert groups(session) == before + 2
    schedule = session.scalars(
        select(Schedule).join(ListingSource, ListingSource.group_id == Schedule.group_id)
        .where(ListingSource.external_id == "a")).one()
    assert schedule.time_band == "evening" and schedule.upcoming
    assert all(u > dt.datetime.now(dt.UTC) for u in schedule.upcoming)


def test_unchanged_listing_is_not_rewritten(session):
    first = listing("hospital", "a", "Miscarriage Support Group")
    write_listings(session, [first])
    group = session.scalars(select(Group).join(ListingSource)
                            .where(ListingSource.external_id == "a")).one()
    stamp = group.updated_at
    assert write_listings(session, [first]) == ["unchanged"]
    session.refresh(group)
    assert group.updated_at == stamp


def test_changed_listing_is_updated(session):
    write_listings(session, [listing("hospital", "a", "Miscarriage Support Group")])
    changed = listing("hospital", "a", "Miscarriage Support Group", description="Now with tea.")
    assert write_listings(session, [changed]) == ["updated"]
    group = session.scalars(select(Group).join(ListingSource)
                            .where(ListingSource.external_id == "a")).one()
    assert group.description == "Now with tea."


def test_same_group_from_another_source_is_merged_with_conflicts_flagged(session):
    write_listings(session, [listing("hospital", "h1", "Miscarriage Support Group")])
    before = groups(session)
    later = ScheduleRecord(freq="weekly", weekday=1, start_time=dt.time(19, 30))
    outcome = write_listings(session, [
        listing("community-centre", "row-4", "St James's Miscarriage Support",
                lat=53.8012, lng=-1.5487, schedule=later, join_url="https://example.org/join"),
    ])
    assert outcome == ["merged"]
    assert groups(session) == before
    group = session.scalars(select(Group).join(ListingSource)
                            .where(ListingSource.external_id == "h1")).one()
    assert sorted(s.source for s in group.sources) == ["community-centre", "hospital"]
    conflicts = session.scalars(select(ListingConflict)
                                .where(ListingConflict.group_id == group.id)).all()
    assert conflicts and all(c.source_a == "hospital" for c in conflicts)


def test_different_group_at_the_same_hospital_is_not_merged(session):
    write_listings(session, [listing("hospital", "h1", "Miscarriage Support Group")])
    outcome = write_listings(session, [
        listing("community-centre", "row-9", "Stillbirth and Neonatal Death Parents Group",
                loss_types=["stillbirth"]),
    ])
    assert outcome == ["created"]


def test_online_groups_merge_on_the_same_join_link_never_across_formats(session):
    online = dict(fmt="virtual", lat=None, lng=None, venue_name=None, address_line1=None,
                  postcode=None, service_countries=["GB"],
                  join_url="https://example.org/tfmr-circle")
    write_listings(session, [listing("hsds", "s1", "TFMR Circle", **online)])
    assert write_listings(session, [listing("mg", "m1", "TFMR Circle online", **online)]) == [
        "merged"]
    in_person = listing("centre", "c1", "TFMR Circle",
                        join_url="https://example.org/tfmr-circle")
    assert write_listings(session, [in_person]) == ["created"]


def test_second_source_changes_do_not_overwrite_the_first(session):
    write_listings(session, [listing("hospital", "h1", "Miscarriage Support Group")])
    second = listing("centre", "r1", "Miscarriage Support Group", lat=53.8010, lng=-1.5489)
    assert write_listings(session, [second]) == ["merged"]
    edited = dataclasses.replace(second, description="Different words",
                                 content_hash="changed")
    assert write_listings(session, [edited]) == ["updated"]
    group = session.scalars(select(Group).join(ListingSource)
                            .where(ListingSource.external_id == "h1")).one()
    assert group.description == ""


NEXT_MEETING_FROM_SCHEDULES = text(
    "SELECT g.id, g.next_meeting_at, (SELECT min(u) FROM schedules s, unnest(s.upcoming) u"
    " WHERE s.group_id = g.id AND u >= now()) FROM groups g"
    " JOIN listing_sources ls ON ls.group_id = g.id WHERE ls.source = :source")


def test_bulk_inserted_groups_carry_the_next_meeting_of_their_schedules(session):
    monthly = ScheduleRecord(freq="monthly", weekday=3, set_pos=-1, start_time=dt.time(10, 30))
    write_listings(session, [
        listing("nm", "a", "Miscarriage Support Group"),
        listing("nm", "b", "Stillbirth Parents Evening", lat=53.81, lng=-1.56,
                venue_name="Leeds General Infirmary", postcode="LS1 3EX", schedule=monthly),
    ])
    rows = session.execute(NEXT_MEETING_FROM_SCHEDULES, {"source": "nm"}).all()
    assert len(rows) == 2
    for _, stored, computed in rows:
        assert stored is not None and stored == computed


def test_schedule_writes_after_a_bulk_insert_still_move_the_next_meeting(session):
    write_listings(session, [listing("nm2", "a", "Miscarriage Support Group")])
    group_id, before, _ = session.execute(NEXT_MEETING_FROM_SCHEDULES, {"source": "nm2"}).one()
    session.execute(text("UPDATE schedules SET upcoming = ARRAY[now() + interval '1 hour']"
                         " WHERE group_id = :g"), {"g": group_id})
    _, after, computed = session.execute(NEXT_MEETING_FROM_SCHEDULES, {"source": "nm2"}).one()
    assert after == computed and after < before


def _group_of(session, external_id):
    return session.scalars(select(Group).join(ListingSource)
                           .where(ListingSource.external_id == external_id)).one()


def test_new_groups_are_written_with_what_the_schedule_trigger_and_confirmation_give(session):
    """Bulk inserts write `meets_until` themselves (the trigger is told to leave new groups
    alone) and, for a caller that confirms what it writes (a run: `confirm_listed`), the
    confirmation: the same values as the trigger and `confirm_listed` leave."""
    today = dt.date.today()
    bounded = dataclasses.replace(TUESDAY_7PM, valid_until=today + dt.timedelta(days=40))
    later = dataclasses.replace(TUESDAY_7PM, weekday=3,
                                valid_until=today + dt.timedelta(days=90))
    old, ahead = today - dt.timedelta(days=300), today + dt.timedelta(days=2)
    write_listings(session, [
        listing("hospital", "open", "Open Series", last_confirmed=old),
        listing("hospital", "ends", "Spring Series", schedule=bounded, lat=53.81, lng=-1.56,
                postcode="LS1 3EX", venue_name="Leeds General Infirmary", last_confirmed=ahead),
    ], confirmed=today)
    ends = listing("hospital", "two", "Two Series", schedule=bounded, lat=53.82, lng=-1.57,
                   postcode="LS2 9JT", venue_name="Leeds Library")
    ends = dataclasses.replace(ends, schedules=(*ends.schedules, *listing(
        "hospital", "x", "x", schedule=later).schedules))
    write_listings(session, [ends])  # no confirmation: the listing's own date
    session.flush()
    session.expire_all()
    opened, bounded_group, two = (_group_of(session, ref) for ref in ("open", "ends", "two"))
    # the last Tuesday on or before the first end, the last Thursday before the second
    first_end, second_end = today + dt.timedelta(days=40), today + dt.timedelta(days=90)
    last_tuesday = first_end - dt.timedelta(days=(first_end.weekday() - 1) % 7)
    last_thursday = second_end - dt.timedelta(days=(second_end.weekday() - 3) % 7)
    assert (opened.meets_until, opened.last_confirmed) == (None, today)
    assert (bounded_group.meets_until, bounded_group.last_confirmed) == (
        last_tuesday, ahead)  # a later date is never moved back
    assert (two.meets_until, two.last_confirmed) == (last_thursday, None)
    # what the trigger computes from the stored schedules is what was written
    session.execute(text("UPDATE schedules SET duration_minutes = duration_minutes "
                         "WHERE group_id = ANY(:ids)"),
                    {"ids": [opened.id, bounded_group.id, two.id]})
    session.expire_all()
    assert [session.get(Group, g).meets_until for g in (opened.id, bounded_group.id, two.id)] \
        == [None, last_tuesday, last_thursday]


def test_array_literals_read_back_as_the_values_written(session):
    """The batch writer sends each column as one array literal: whatever the text holds
    (quotes, backslashes, commas, braces, "NULL", empty strings), PostgreSQL reads back
    exactly the values, with None as NULL, for text-only columns and mixed ones alike."""
    from finder.listings.store import _array

    texts = ['plain', 'say "hi"', 'back\\slash', 'a,b', '{braces}', 'NULL', '', 'Pérdida 💜',
             'line\nbreak']
    for values in (texts, [*texts, None], [None], [], [7, None, 12]):
        back = session.execute(text("SELECT CAST(:lit AS text[])"),
                               {"lit": _array(values)}).scalar_one()
        assert back == [None if v is None else str(v) for v in values]
