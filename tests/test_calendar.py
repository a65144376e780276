"""A group's meetings as iCalendar: repeating events in the group's zone, parsed back."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Calendar

from tests.factories import make_group, offset

LONDON = (51.501009, -0.141588)


def monthly_group(session, **kw):
    lat, lng = offset(*LONDON, north_km=1)
    return make_group(
        session, "Second Thursday circle", lat=lat, lng=lng, join_mode="contact",
        join_phone="020 7946 0001",
        schedules=[{"freq": "monthly", "set_pos": 2, "weekday": 3, "start_time": dt.time(19),
                    "duration_minutes": 90, "valid_from": dt.date(2026, 1, 1),
                    "cancelled_dates": [dt.date(2026, 12, 10)]}], **kw)


def test_download_is_a_repeating_event_with_zone_and_cancellations(client, session):
    group = monthly_group(session)
    response = client.get(f"/groups/{group.id}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    cal = Calendar.from_ical(response.data)
    [tz] = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Europe/London"
    [event] = cal.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Second Thursday circle"
    start = event.decoded("DTSTART")
    assert start == dt.datetime(2026, 1, 8, 19, tzinfo=ZoneInfo("Europe/London"))
    assert event.decoded("DURATION") == dt.timedelta(minutes=90)
    rule = event["RRULE"].to_ical().decode()
    assert rule == "FREQ=MONTHLY;BYDAY=2TH"
    exdates = [d.dt for d in event["EXDATE"].dts]
    assert exdates == [dt.datetime(2026, 12, 10, 19, tzinfo=ZoneInfo("Europe/London"))]
    dates = list(rrulestr(rule, dtstart=start).between(
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 31, tzinfo=dt.UTC)))
    meetings = [d for d in dates if d not in exdates]
    assert [d.date() for d in meetings] == [dt.date(2026, 11, 12), dt.date(2027, 1, 14)]
    assert "020 7946 0001" in str(event["DESCRIPTION"])
    assert str(event["URL"]).endswith(f"/groups/{group.id}")


def test_neutral_titles_say_nothing_about_the_group(client, session):
    group = monthly_group(session)
    body = client.get(f"/groups/{group.id}/calendar.ics?neutral=1").data
    cal = Calendar.from_ical(body)
    [event] = cal.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Appointment"
    assert "DESCRIPTION" not in event and "URL" not in event
    assert b"circle" not in body.lower() and b"loss" not in body.lower()
    assert str(cal["X-WR-CALNAME"]) == "Appointment"


def test_feed_is_subscribable_and_linked_from_the_group_page(client, session):
    group = monthly_group(session)
    feed = client.get(f"/groups/{group.id}/feed.ics")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert "attachment" not in feed.headers["Content-Disposition"]
    assert Calendar.from_ical(feed.data).walk("VEVENT")
    page = feed_page = client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert f"webcal://localhost/groups/{group.id}/feed.ics" in feed_page
    assert f'href="/groups/{group.id}/calendar.ics"' in page
    assert f'href="/groups/{group.id}/calendar.ics?neutral=1"' in page


def test_unknown_or_withdrawn_group_has_no_calendar(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    gone = make_group(session, "Gone", lat=lat, lng=lng, status="withdrawn")
    assert client.get(f"/groups/{gone.id}/calendar.ics").status_code == 404
    assert client.get("/groups/999999/feed.ics").status_code == 404


def test_online_group_calendar_uses_its_zone_and_join_link(client, session):
    group = make_group(session, "Online NY", format="virtual", country="US",
                       tz="America/New_York", service_countries=["US"],
                       join_url="https://meet.example.org/room")
    cal = Calendar.from_ical(client.get(f"/groups/{group.id}/calendar.ics").data)
    [event] = cal.walk("VEVENT")
    assert event.decoded("DTSTART").tzinfo.key == "America/New_York"
    assert str(event["LOCATION"]) == "https://meet.example.org/room"
    assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["America/New_York"]
