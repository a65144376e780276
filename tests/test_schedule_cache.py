"""The upcoming-meeting cache against PostgreSQL: written values, batching, the CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from finder.models import Group, Location, Schedule
from finder.schedule_cache import refresh_upcoming
from tests.factories import make_group

UTC = dt.UTC
NOW = dt.datetime(2025, 3, 20, 12, tzinfo=UTC)  # a Thursday, ten days before BST starts


@pytest.fixture
def group(session):
    location = Location(
        venue_name="Test Centre", town="London", country="GB", timezone="Europe/London",
        point="SRID=4326;POINT(-0.14 51.50)", address_key="test-schedule-cache-centre",
    )
    group = Group(name="Schedule cache test group", format="in_person", join_mode="drop_in",
                  timezone="Europe/London", location=location)
    session.add(group)
    session.flush()
    return group


def add_schedule(session, group, **fields) -> Schedule:
    values = {
        "freq": "weekly", "interval": 1, "weekday": 1, "start_time": dt.time(19),
        "duration_minutes": 90, "timezone": "Europe/London", "valid_from": dt.date(2025, 1, 1),
        "cancelled_dates": [], "time_band": "morning", "upcoming": [],  # deliberately stale
    }
    values.update(fields)
    schedule = Schedule(group=group, **values)
    session.add(schedule)
    session.flush()
    return schedule


def stored(session, schedule: Schedule) -> tuple[str, list[dt.datetime]]:
    session.refresh(schedule)
    return schedule.time_band, schedule.upcoming


def test_refresh_given_schedules_writes_band_and_utc_dates(session, group):
    weekly = add_schedule(session, group)
    monthly = add_schedule(session, group, freq="monthly", set_pos=1, weekday=1,
                           start_time=dt.time(10, 30), timezone="America/New_York")
    assert refresh_upcoming(session, [weekly, monthly], now=NOW) == 2
    session.flush()

    band, upcoming = stored(session, weekly)
    assert band == "evening"
    # Tuesdays at 19:00 London: GMT on 25 March, BST from 1 April
    assert upcoming[:3] == [dt.datetime(2025, 3, 25, 19, tzinfo=UTC),
                            dt.datetime(2025, 4, 1, 18, tzinfo=UTC),
                            dt.datetime(2025, 4, 8, 18, tzinfo=UTC)]
    assert len(upcoming) == 17  # every Tuesday in the 120 days from 20 March
    assert upcoming[-1] == dt.datetime(2025, 7, 15, 18, tzinfo=UTC)

    band, upcoming = stored(session, monthly)
    assert band == "morning"
    # first Tuesdays at 10:30 New York (EDT, UTC-4) in the next 120 days
    assert upcoming == [dt.datetime(2025, m, d, 14, 30, tzinfo=UTC)
                        for m, d in ((4, 1), (5, 6), (6, 3), (7, 1))]


def test_refresh_all_in_batches_reaches_every_schedule(session, group):
    mine = [
        add_schedule(session, group),
        add_schedule(session, group, weekday=3, start_time=dt.time(13),
                     cancelled_dates=[dt.date(2025, 3, 27)]),
        add_schedule(session, group, weekday=6, start_time=dt.time(22), interval=2,
                     valid_from=dt.date(2025, 3, 23), valid_until=dt.date(2025, 4, 20)),
    ]
    total = session.scalar(select(func.count()).select_from(Schedule))

    assert refresh_upcoming(session, now=NOW, batch_size=2) == total

    assert stored(session, mine[0])[1][0] == dt.datetime(2025, 3, 25, 19, tzinfo=UTC)
    band, upcoming = stored(session, mine[1])
    assert band == "afternoon"
    # today's 13:00 is still ahead; 27 March is cancelled; then BST
    assert upcoming[:2] == [dt.datetime(2025, 3, 20, 13, tzinfo=UTC),
                            dt.datetime(2025, 4, 3, 12, tzinfo=UTC)]
    band, upcoming = stored(session, mine[2])
    assert band == "night"
    assert upcoming == [dt.datetime(2025, 3, 23, 22, tzinfo=UTC),
                        dt.datetime(2025, 4, 6, 21, tzinfo=UTC),
                        dt.datetime(2025, 4, 20, 21, tzinfo=UTC)]


def test_cache_answers_meets_within_n_days_in_sql(session, group):
    soon = add_schedule(session, group)  # next Tuesday
    later = add_schedule(session, group, freq="monthly", set_pos=-1, weekday=4)  # 28 March
    refresh_upcoming(session, [soon, later], now=NOW)
    session.flush()
    ids = session.scalars(
        text("SELECT id FROM schedules WHERE id = ANY(:ids) AND EXISTS "
             "(SELECT 1 FROM unnest(upcoming) u WHERE u < :now + interval '6 days')"),
        {"ids": [soon.id, later.id], "now": NOW},
    ).all()
    assert ids == [soon.id]


def test_an_invalid_row_does_not_stop_the_daily_run(session, group):
    broken = add_schedule(session, group, timezone="Europe/Londres", upcoming=[NOW])
    fine = add_schedule(session, group)
    refresh_upcoming(session, now=NOW)
    assert stored(session, broken) == ("evening", [])
    assert stored(session, fine)[1][0] == dt.datetime(2025, 3, 25, 19, tzinfo=UTC)


def test_an_invalid_schedule_from_a_write_path_raises(session, group):
    broken = add_schedule(session, group, timezone="Europe/Londres")
    with pytest.raises(ValueError, match="Europe/Londres"):
        refresh_upcoming(session, [broken], now=NOW)


def test_cli_refresh_reports_the_count(app, session, group):
    schedule = add_schedule(session, group)
    total = session.scalar(select(func.count()).select_from(Schedule))
    before = dt.datetime.now(UTC)

    result = app.test_cli_runner().invoke(args=["schedules", "refresh"])

    assert result.exit_code == 0, result.output
    assert f"Refreshed upcoming meetings for {total} schedules." in result.output
    band, upcoming = stored(session, schedule)
    assert band == "evening"
    assert before <= upcoming[0] < before + dt.timedelta(days=7)


def test_refresh_passed_only_touches_groups_whose_next_meeting_has_happened(session):
    """After a meeting passes, `--passed` moves the group's next meeting on; others untouched."""
    done = make_group(session, "Met an hour ago", lat=51.5, lng=-0.1)
    waiting = make_group(session, "Meets later", lat=51.5, lng=-0.1)
    session.execute(text("UPDATE schedules SET upcoming = ARRAY[now() - interval '1 hour'] "
                        "WHERE group_id = :g"), {"g": done.id})
    session.execute(text("UPDATE schedules SET upcoming = ARRAY[now() + interval '1 hour'] "
                        "WHERE group_id = :g"), {"g": waiting.id})
    session.execute(text("UPDATE groups SET next_meeting_at = now() - interval '1 hour' "
                        "WHERE id = :g"), {"g": done.id})
    refreshed = refresh_upcoming(session, passed_only=True)
    session.refresh(done)
    session.refresh(waiting)
    assert refreshed >= 1
    assert done.next_meeting_at > dt.datetime.now(dt.UTC)
    assert len(waiting.schedules[0].upcoming) == 1  # not recomputed
