"""Search through the API: distance, formats, online groups, schedule filters, paging."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from finder.search import query
from finder.search.params import parse
from tests.factories import bulk_in_person_groups, make_group, offset

LONDON = (51.501009, -0.141588)  # SW1A 1AA
NEAR = f"{LONDON[0]},{LONDON[1]}"


def names(body):
    return [r["name"] for r in body["results"]]


@pytest.fixture
def london(session):
    def at(name, north_km, **kw):
        lat, lng = offset(*LONDON, north_km=north_km)
        return make_group(session, name, lat=lat, lng=lng, **kw)

    return {
        "one": at("One km", 1),
        "five": at("Five km hybrid", 5, format="hybrid", service_countries=["GB"]),
        "twelve": at("Twelve km", 12, schedules=[
            {"freq": "monthly", "set_pos": 1, "weekday": 5, "start_time": dt.time(10, 0)}]),
        "thirty": at("Thirty km", 30),
        "online_gb": make_group(session, "Online GB", format="virtual", service_countries=["GB"]),
        "online_us": make_group(session, "Online US", format="virtual", country="US",
                                tz="America/New_York", service_countries=["US"]),
        "online_world": make_group(session, "Online worldwide", format="virtual",
                                   service_countries=["*"], tz="America/New_York"),
    }


def test_nearby_groups_are_ordered_by_distance_within_radius(client, london):
    body = client.get(f"/api/v1/groups?near={NEAR}").get_json()
    assert names(body) == ["One km", "Five km hybrid", "Twelve km"]
    assert [round(r["distance"]) for r in body["results"]] == [1, 5, 12]
    assert body["total"] == 3
    assert body["location"]["approximate"] is False


def test_radius_in_miles(client, london):
    body = client.get(f"/api/v1/groups?near={NEAR}&radius=20&unit=mi").get_json()
    assert names(body)[-1] == "Thirty km"  # 30 km < 20 mi
    assert body["results"][0]["distance_unit"] == "mi"
    assert body["results"][0]["distance"] == pytest.approx(0.6, abs=0.1)


def test_postcode_search_finds_the_same_groups(client, london):
    body = client.get("/api/v1/groups?near=SW1A%201AA").get_json()
    assert names(body) == ["One km", "Five km hybrid", "Twelve km"]
    assert body["location"]["country"] == "GB"


def test_near_me_offers_online_groups_serving_the_country_separately(client, london):
    body = client.get(f"/api/v1/groups?near={NEAR}").get_json()
    assert "Online GB" not in names(body)
    online = [r["name"] for r in body["online"]["results"]]
    assert sorted(online) == ["Online GB", "Online worldwide"]
    assert body["online"]["has_more"] is False


def test_virtual_means_online_only_and_respects_service_area(client, london):
    body = client.get(f"/api/v1/groups?near={NEAR}&format=virtual").get_json()
    assert sorted(names(body)) == ["Online GB", "Online worldwide"]
    assert all(r["distance"] is None for r in body["results"])
    assert "online" not in body


def test_format_filters_are_distinct(client, london):
    assert names(client.get(f"/api/v1/groups?near={NEAR}&format=hybrid").get_json()) == [
        "Five km hybrid"]
    assert names(client.get(f"/api/v1/groups?near={NEAR}&format=in_person").get_json()) == [
        "One km", "Twelve km"]


def test_next_meeting_shown_in_group_zone_and_searchers(client, london):
    body = client.get(f"/api/v1/groups?near={NEAR}&format=virtual").get_json()
    world = next(r for r in body["results"] if r["name"] == "Online worldwide")
    meeting = world["next_meeting"]
    assert meeting["timezone"] == "America/New_York"
    start = dt.datetime.fromisoformat(meeting["start"])
    assert start > dt.datetime.now(dt.UTC)
    assert start.weekday() == 1 and start.hour == 19
    assert meeting["searcher_timezone"] == "Europe/London"
    theirs = dt.datetime.fromisoformat(meeting["searcher_start"])
    assert theirs == start and theirs.utcoffset() != start.utcoffset()
    gb = next(r for r in body["results"] if r["name"] == "Online GB")
    assert gb["next_meeting"]["searcher_start"] is None  # same zone: shown once


def test_day_and_time_filters_use_the_group_local_schedule(client, london):
    saturday = client.get(f"/api/v1/groups?near={NEAR}&day=sat").get_json()
    assert names(saturday) == ["Twelve km"]
    evening = client.get(f"/api/v1/groups?near={NEAR}&day=tue&time=evening").get_json()
    assert names(evening) == ["One km", "Five km hybrid"]
    assert names(client.get(f"/api/v1/groups?near={NEAR}&day=tue&time=morning").get_json()) == []


def test_day_and_time_filters_follow_a_changed_schedule(client, session, london):
    # the filters read groups.meeting_slots, which a trigger keeps from the schedules
    session.execute(text("UPDATE schedules SET weekday = 3, start_time = '10:00', "
                         "time_band = 'morning' WHERE group_id = :g"), {"g": london["one"].id})
    tuesday = client.get(f"/api/v1/groups?near={NEAR}&day=tue&time=evening").get_json()
    assert names(tuesday) == ["Five km hybrid"]
    thursday = client.get(f"/api/v1/groups?near={NEAR}&day=thu&time=morning").get_json()
    assert names(thursday) == ["One km"]
    session.execute(text("DELETE FROM schedules WHERE group_id = :g"), {"g": london["one"].id})
    assert names(client.get(f"/api/v1/groups?near={NEAR}&day=thu").get_json()) == []


def test_within_days_uses_upcoming_meetings(client, session):
    starts_later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=40)).date()
    lat, lng = offset(*LONDON, north_km=2)
    make_group(session, "Starts in 40 days", lat=lat, lng=lng,
               schedules=[{"freq": "weekly", "weekday": 2, "start_time": dt.time(18, 30),
                           "valid_from": starts_later}])
    make_group(session, "Every week", lat=lat, lng=lng)
    assert names(client.get(f"/api/v1/groups?near={NEAR}&within_days=30").get_json()) == [
        "Every week"]
    assert len(client.get(f"/api/v1/groups?near={NEAR}&within_days=60").get_json()[
        "results"]) == 2

    # a cached next meeting that has already passed (the daily refresh has not run yet) still
    # lets the group's later meetings in the window count
    session.execute(text("UPDATE groups SET next_meeting_at = now() - interval '3 days' "
                         "WHERE name = 'Every week'"))
    session.flush()
    assert names(client.get(f"/api/v1/groups?near={NEAR}&within_days=8").get_json()) == [
        "Every week"]
    online = make_group(session, "Online weekly", format="virtual", service_countries=["GB"])
    session.execute(text("UPDATE groups SET next_meeting_at = now() - interval '3 days' "
                         "WHERE id = :id"), {"id": online.id})
    session.flush()
    body = client.get("/api/v1/groups?format=virtual&within_days=8&tz=Europe/London").get_json()
    assert names(body) == ["Online weekly"]


def test_vocabulary_filters_accept_synonyms(client, session):
    lat, lng = offset(*LONDON, north_km=3)
    make_group(session, "TFMR dads", lat=lat, lng=lng, loss_types=["tfmr"], audiences=["dads"])
    make_group(session, "Miscarriage", lat=lat, lng=lng)
    body = client.get(f"/api/v1/groups?near={NEAR}&loss=TFMR&audience=fathers").get_json()
    assert names(body) == ["TFMR dads"]


def test_sort_by_next_meeting(client, session):
    today = dt.datetime.now(ZoneInfo("Europe/London"))
    lat, lng = offset(*LONDON, north_km=1)
    far_lat, far_lng = offset(*LONDON, north_km=8)
    soon_day = (today.weekday() + 2) % 7
    later_day = (today.weekday() + 5) % 7
    make_group(session, "Near, later", lat=lat, lng=lng,
               schedules=[{"freq": "weekly", "weekday": later_day, "start_time": dt.time(12)}])
    make_group(session, "Far, sooner", lat=far_lat, lng=far_lng,
               schedules=[{"freq": "weekly", "weekday": soon_day, "start_time": dt.time(12)}])
    assert names(client.get(f"/api/v1/groups?near={NEAR}").get_json()) == [
        "Near, later", "Far, sooner"]
    assert names(client.get(f"/api/v1/groups?near={NEAR}&sort=next").get_json()) == [
        "Far, sooner", "Near, later"]


def test_paging_and_page_past_the_end(client, london):
    first = client.get(f"/api/v1/groups?near={NEAR}&per_page=2").get_json()
    second = client.get(f"/api/v1/groups?near={NEAR}&per_page=2&page=2").get_json()
    assert names(first) + names(second) == ["One km", "Five km hybrid", "Twelve km"]
    assert first["total_pages"] == 2
    past = client.get(f"/api/v1/groups?near={NEAR}&per_page=2&page=3")
    assert past.status_code == 422  # well formed, but nothing to show
    assert past.get_json()["error"]["field"] == "page"


def test_withdrawn_and_paused_groups_are_not_searchable(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    gone = make_group(session, "Withdrawn", lat=lat, lng=lng, status="withdrawn")
    make_group(session, "Paused", lat=lat, lng=lng, status="paused")
    assert names(client.get(f"/api/v1/groups?near={NEAR}").get_json()) == []
    assert client.get(f"/api/v1/groups/{gone.id}").status_code == 404


def test_distance_query_uses_the_gist_index(session):
    """With enough rows for the planner to care, the KNN query walks the groups' own GiST
    index (the venue's point copied to the group row, migration 0013)."""
    bulk_in_person_groups(session, 20_000)
    captured = []
    conn = session.connection().connection.driver_connection

    class Recording(psycopg.Cursor):
        def execute(self, statement, params=None, **kwargs):
            captured.append((statement, params))
            return super().execute(statement, params, **kwargs)

    query.nearby(Recording(conn), parse(MultiDict({"near": NEAR})), *LONDON,
                 dt.datetime.now(dt.UTC))
    statement, parameters = captured[-1]  # the page, after the count
    plan_text = "\n".join(row[0] for row in conn.execute("EXPLAIN " + statement, parameters))
    assert "ix_groups_point_active" in plan_text, plan_text


def test_totals_are_counted_up_to_a_cap(client, london, monkeypatch):
    monkeypatch.setattr(query, "COUNT_CAP", 2)
    body = client.get(f"/api/v1/groups?near={NEAR}&per_page=1").get_json()
    assert (body["total"], body["total_exact"]) == (2, False)
    exact = client.get(f"/api/v1/groups?near={NEAR}&per_page=5").get_json()
    assert (exact["total"], exact["total_exact"]) == (3, True)  # a short last page is exact
    page = client.get(f"/?near={NEAR}&per_page=1").get_data(as_text=True)
    assert "(2+)" in page and 'rel="next"' in page


def test_next_meeting_is_kept_on_the_group_when_schedules_change(session, london):
    group = london["one"]
    session.refresh(group)
    before = group.next_meeting_at
    assert before is not None and before > dt.datetime.now(dt.UTC)
    session.execute(text("UPDATE schedules SET upcoming = '{}' WHERE group_id = :g"),
                    {"g": group.id})
    session.refresh(group)
    assert group.next_meeting_at is None


def test_online_preview_shows_five_and_says_there_are_more(client, session, london):
    for i in range(5):
        make_group(session, f"Online extra {i}", format="virtual", service_countries=["GB"])
    body = client.get(f"/api/v1/groups?near={NEAR}").get_json()
    assert len(body["online"]["results"]) == 5 and body["online"]["has_more"] is True
    assert "format=virtual" in body["online"]["more"]
    assert "See more online groups" in client.get(f"/?near={NEAR}").get_data(as_text=True)


def test_online_lists_are_cached_until_listings_change(client, session, london, connection):
    def online_names(path):
        body = client.get(path).get_json()
        return [r["name"] for r in body.get("online", body)["results"]]

    preview, full = f"/api/v1/groups?near={NEAR}", f"/api/v1/groups?near={NEAR}&format=virtual"
    assert "Online GB" in online_names(preview) and "Online GB" in online_names(full)
    # a write the change counter does not see (triggers off): both lists are served cached
    connection.execute(text("SET session_replication_role = replica"))
    connection.execute(text("UPDATE groups SET name = 'Renamed quietly' WHERE id = :g"),
                       {"g": london["online_gb"].id})
    connection.execute(text("SET session_replication_role = DEFAULT"))
    assert "Online GB" in online_names(preview) and "Online GB" in online_names(full)
    # an ordinary write moves the counter: the next search reads the listings again
    connection.execute(text("UPDATE groups SET name = 'Renamed' WHERE id = :g"),
                       {"g": london["online_gb"].id})
    assert "Renamed" in online_names(preview) and "Renamed" in online_names(full)


def test_a_search_during_a_write_does_not_keep_the_old_list_once_it_commits(
        app, client, session, london):
    def online_names():
        return [r["name"] for r in client.get(
            f"/api/v1/groups?near={NEAR}&format=virtual").get_json()["results"]]

    assert "Online GB" in online_names()
    with app.extensions["db"].transaction() as writing:  # as an ingestion run writes
        writing.execute(text("UPDATE groups SET name = 'Renamed in a run' WHERE id = :g"),
                        {"g": london["online_gb"].id})
        # the counter has moved but the rename is not committed: the old list is cached
        # under the new counter
        assert "Online GB" in online_names()
    assert "Renamed in a run" in online_names()


def test_a_venue_that_moves_takes_its_groups_with_it(client, session, london):
    """The distance search reads the venue's point from the group row (migration 0013), kept
    by triggers whatever writes venues or groups: a moved venue, a group moved to another
    venue, and a new group are all found where they now are."""
    far_lat, far_lng = offset(*LONDON, north_km=60)
    session.execute(text("UPDATE locations SET point = ST_SetSRID(ST_MakePoint(:lng, :lat), "
                         "4326) WHERE id = :id"),
                    {"lng": far_lng, "lat": far_lat, "id": london["one"].location_id})
    session.flush()
    body = client.get(f"/api/v1/groups?near={NEAR}&radius=20").get_json()
    assert "One km" not in names(body)
    body = client.get(f"/api/v1/groups?near={far_lat},{far_lng}&radius=2").get_json()
    assert names(body) == ["One km"]

    session.execute(text("UPDATE groups SET location_id = :to WHERE id = :id"),
                    {"to": london["twelve"].location_id, "id": london["five"].id})
    session.flush()
    body = client.get(f"/api/v1/groups?near={NEAR}&radius=20").get_json()
    assert [(r["name"], round(r["distance"])) for r in body["results"]] == [
        ("Five km hybrid", 12), ("Twelve km", 12)]
