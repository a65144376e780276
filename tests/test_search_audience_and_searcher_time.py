"""Online groups are filtered by the searcher's day and time; professionals' groups are opt-in.

A New York searcher asking for "evening" online groups wants groups that meet between 5pm
and 9pm in New York, whatever zone the group keeps its schedule in. The searcher's zone is
`tz` when given, else the searched place's zone. Groups that meet in a place keep their own
local day and time.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import make_group, offset

NEW_YORK = (40.750633, -73.997177)  # ZIP 10001
NYC = f"{NEW_YORK[0]},{NEW_YORK[1]}"
LONDON = (51.501009, -0.141588)


def names(body):
    return sorted(r["name"] for r in body["results"])


def weekly(weekday: int, hour: int, minute: int = 0) -> list[dict]:
    return [{"freq": "weekly", "weekday": weekday, "start_time": dt.time(hour, minute)}]


@pytest.fixture
def online_groups(session):
    """Online groups serving the US, scheduled in other zones than New York's.

    London 19:00 is 14:00 or 15:00 in New York (afternoon), London 23:00 is 18:00 or 19:00
    (evening), Los Angeles 15:00 is always 18:00 (evening), London Tuesday 02:00 is Monday
    21:00 or 22:00 in New York (night), whatever the daylight-saving weeks.
    """
    def online(name, tz, schedule):
        return make_group(session, name, format="virtual", tz=tz, country="US",
                          service_countries=["US"], schedules=schedule)

    return {
        "london_7pm": online("London Tue 7pm", "Europe/London", weekly(1, 19)),
        "london_11pm": online("London Tue 11pm", "Europe/London", weekly(1, 23)),
        "la_3pm": online("LA Tue 3pm", "America/Los_Angeles", weekly(1, 15)),
        "london_2am": online("London Tue 2am", "Europe/London", weekly(1, 2)),
    }


def test_online_evening_means_the_searchers_evening(client, online_groups):
    body = client.get(f"/api/v1/groups?near={NYC}&format=virtual&time=evening"
                      "&tz=America/New_York").get_json()
    assert names(body) == ["LA Tue 3pm", "London Tue 11pm"]
    afternoon = client.get(f"/api/v1/groups?near={NYC}&format=virtual&time=afternoon"
                           "&tz=America/New_York").get_json()
    assert names(afternoon) == ["London Tue 7pm"]


def test_without_tz_the_searched_places_zone_is_the_searchers(client, online_groups):
    body = client.get("/api/v1/groups?near=10001&format=virtual&time=evening").get_json()
    assert body["searcher_timezone"] == "America/New_York"
    assert names(body) == ["LA Tue 3pm", "London Tue 11pm"]


def test_online_day_means_the_searchers_day(client, online_groups):
    monday = client.get(f"/api/v1/groups?near={NYC}&format=virtual&day=mon"
                        "&tz=America/New_York").get_json()
    assert names(monday) == ["London Tue 2am"]
    monday_night = client.get(f"/api/v1/groups?near={NYC}&format=virtual&day=mon&time=night"
                              "&tz=America/New_York").get_json()
    assert names(monday_night) == ["London Tue 2am"]
    tuesday = client.get(f"/api/v1/groups?near={NYC}&format=virtual&day=tue"
                         "&tz=America/New_York").get_json()
    assert names(tuesday) == ["LA Tue 3pm", "London Tue 11pm", "London Tue 7pm"]


def test_the_same_filter_in_london_reads_london_time(client, online_groups):
    london_groups = client.get("/api/v1/groups?format=virtual&time=evening"
                               "&tz=Europe/London").get_json()
    # the US-only groups are listed (no location: no service-area limit), read in London time
    assert names(london_groups) == ["London Tue 7pm"]


def test_within_days_checks_each_meeting_in_the_searchers_zone(client, online_groups):
    evening = client.get(f"/api/v1/groups?near={NYC}&format=virtual&within_days=14"
                         "&time=evening&tz=America/New_York").get_json()
    assert names(evening) == ["LA Tue 3pm", "London Tue 11pm"]
    monday = client.get(f"/api/v1/groups?near={NYC}&format=virtual&within_days=14&day=mon"
                        "&tz=America/New_York").get_json()
    assert names(monday) == ["London Tue 2am"]


def test_online_preview_beside_a_near_search_uses_the_searchers_time(client, session,
                                                                     online_groups):
    lat, lng = offset(*NEW_YORK, north_km=2)
    make_group(session, "NY in person Tue 6pm", lat=lat, lng=lng, country="US",
               tz="America/New_York", schedules=weekly(1, 18))
    body = client.get(f"/api/v1/groups?near={NYC}&time=evening&tz=Europe/London").get_json()
    # in person: the group's own evening; online: the searcher's (London) evening
    assert names(body) == ["NY in person Tue 6pm"]
    assert sorted(r["name"] for r in body["online"]["results"]) == ["London Tue 7pm"]


def test_in_person_groups_keep_their_own_local_time(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "London in person 7pm", lat=lat, lng=lng, schedules=weekly(1, 19))
    body = client.get(f"/api/v1/groups?near={LONDON[0]},{LONDON[1]}&time=evening"
                      "&tz=America/New_York").get_json()
    assert names(body) == ["London in person 7pm"]


def test_anywhere_search_mixes_online_in_searcher_time_and_in_person_local(client, session,
                                                                           online_groups):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "London in person 7pm", lat=lat, lng=lng, schedules=weekly(1, 19))
    body = client.get("/api/v1/groups?time=evening&tz=America/New_York").get_json()
    assert names(body) == ["LA Tue 3pm", "London Tue 11pm", "London in person 7pm"]


@pytest.fixture
def audiences(session):
    lat, lng = offset(*LONDON, north_km=1)

    def at(name, audience):
        return make_group(session, name, lat=lat, lng=lng, audiences=audience)

    return {
        "staff": at("Bereavement midwives' circle", ["professionals"]),
        "mixed": at("Parents and staff", ["birthing_parents", "professionals"]),
        "dads": at("Dads group", ["dads"]),
        "anyone": at("Open to all", []),
    }


NEAR_LONDON = f"{LONDON[0]},{LONDON[1]}"


def test_groups_only_for_professionals_are_left_out_by_default(client, audiences):
    body = client.get(f"/api/v1/groups?near={NEAR_LONDON}").get_json()
    assert names(body) == ["Dads group", "Open to all", "Parents and staff"]
    assert body["total"] == 3


def test_professionals_groups_when_asked_for(client, audiences):
    body = client.get(f"/api/v1/groups?near={NEAR_LONDON}&audience=professionals").get_json()
    assert names(body) == ["Bereavement midwives' circle", "Parents and staff"]
    synonym = client.get(f"/api/v1/groups?near={NEAR_LONDON}&audience=midwives").get_json()
    assert names(synonym) == names(body)


def test_professionals_left_out_of_online_and_anywhere_lists_too(client, session):
    make_group(session, "Online staff support", format="virtual", service_countries=["GB"],
               audiences=["professionals"])
    make_group(session, "Online parents", format="virtual", service_countries=["GB"])
    near = client.get(f"/api/v1/groups?near={NEAR_LONDON}").get_json()
    assert [r["name"] for r in near["online"]["results"]] == ["Online parents"]
    assert names(client.get("/api/v1/groups?format=virtual").get_json()) == ["Online parents"]
    assert names(client.get("/api/v1/groups?format=virtual&audience=professionals")
                 .get_json()) == ["Online staff support"]
