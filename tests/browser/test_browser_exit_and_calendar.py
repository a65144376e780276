"""Quick exit (button, Escape three times, without JavaScript) and the calendar download."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from icalendar import Calendar

from tests.browser.conftest import PHONE, screenshot


def exit_host(live_server) -> str:
    return urlsplit(live_server.exit_url).netloc


def test_quick_exit_button_replaces_the_page(new_context, live_server, exit_site):
    context, log = new_context(viewport=PHONE, allow_hosts=[exit_host(live_server)])
    page = context.new_page()
    page.goto("/")
    page.goto(f"/groups/{live_server.ids['monthly']}")
    # nothing is asked of the neutral site until the button is pressed
    assert exit_host(live_server) not in log.hosts()
    page.get_by_role("link", name="Exit this page").click()
    page.wait_for_url(live_server.exit_url)
    assert page.title() == "Weather"
    # the group page was replaced: going back skips it
    page.go_back()
    assert urlsplit(page.url).path == "/"


def test_escape_three_times_exits(new_context, live_server):
    context, _ = new_context(viewport=PHONE, allow_hosts=[exit_host(live_server)])
    page = context.new_page()
    page.goto("/?near=SW1A+1AA")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    assert urlsplit(page.url).path == "/"
    page.keyboard.press("Escape")
    page.wait_for_url(live_server.exit_url)


def test_quick_exit_without_javascript_is_a_plain_link(new_context, live_server):
    context, _ = new_context(viewport=PHONE, java_script_enabled=False,
                             allow_hosts=[exit_host(live_server)])
    page = context.new_page()
    page.goto("/helplines")
    page.get_by_role("link", name="Exit this page").click()
    page.wait_for_url(live_server.exit_url)


def test_quick_exit_in_the_embed_leaves_the_partners_page_too(new_context, live_server):
    context, _ = new_context(viewport=PHONE, allow_hosts=[exit_host(live_server)])
    page = context.new_page()
    page.goto("/embed?near=SW1A+1AA")
    link = page.get_by_role("link", name="Exit this page")
    assert link.get_attribute("target") == "_top"


def test_calendar_download_parses_back(new_context, live_server):
    context, _ = new_context(viewport=PHONE, accept_downloads=True)
    page = context.new_page()
    page.goto(f"/groups/{live_server.ids['monthly']}")
    with page.expect_download() as info:
        page.get_by_role("link", name="Add to calendar").click()
    download = info.value
    assert download.suggested_filename == f"group-{live_server.ids['monthly']}.ics"
    cal = Calendar.from_ical(open(download.path(), "rb").read())
    [event] = cal.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Second Thursday circle"
    assert event["RRULE"].to_ical() == b"FREQ=MONTHLY;BYDAY=2TH"
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute, start.tzinfo.key) == (19, 0, "Europe/London")
    assert [d.dt.date() for d in event["EXDATE"].dts] == [dt.date(2027, 3, 11)]
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]
    screenshot(page, "group-calendar-links")
