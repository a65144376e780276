"""Searching as a person would, in Chromium: the form with and without JavaScript at phone
and desktop widths, keyboard only, time zones, "Use my location", the map, page weight."""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import brotli
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE, screenshot

DECODE = {None: lambda b: b, "gzip": gzip.decompress, "br": brotli.decompress}
WIDTHS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def sideways_scroll(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def search_from_the_form(page, near: str) -> None:
    page.goto("/")
    page.get_by_label("Postcode, ZIP or town").fill(near)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_selector("#results-heading")


@WIDTHS
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_search_from_the_form(new_context, viewport, javascript):
    context, _ = new_context(viewport=viewport, java_script_enabled=javascript,
                             timezone_id="Europe/London")
    page = context.new_page()
    search_from_the_form(page, "SW1A 1AA")
    first = page.locator("ol.groups > li.group").first
    assert first.is_visible()
    top = first.bounding_box()["y"]
    # the first result starts within the first screen and a half
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "first-result-top.txt", "a") as f:
        f.write(f"{viewport['width']}x{viewport['height']} js={javascript}: {top:.0f}px\n")
    assert top < 1.5 * viewport["height"], top
    assert sideways_scroll(page) <= 0
    assert page.locator("details#filters").get_attribute("open") is None
    query = parse_qs(urlsplit(page.url).query, keep_blank_values=True)
    if javascript:
        # a clean link: no empty boxes, the visitor's zone added
        assert all(v != [""] for v in query.values()), query
        assert query["tz"] == ["Europe/London"] and "format" not in query
    else:
        assert query["near"] == ["SW1A 1AA"]
    # opening the filters must not make the page scroll sideways either
    page.locator("details#filters > summary").click()
    assert page.locator("details#filters").get_attribute("open") is not None
    assert sideways_scroll(page) <= 0
    screenshot(page, f"search-form-{'js' if javascript else 'no-js'}-filters-open")


def test_keyboard_only(new_context):
    context, _ = new_context(viewport=PHONE)
    page = context.new_page()
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "near"
    page.keyboard.type("SW1A 1AA")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results-heading")
    # from the top, the order is: skip link, quick exit, home, language, then the form
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate(
            "document.activeElement.id || document.activeElement.className "
            "|| document.activeElement.textContent"))
    assert order[:4] == ["skip", "quick-exit js-quick-exit", "brand", "Español"], order
    assert order.index("near") < order.index("radius") < order.index("unit") \
        < order.index("format"), order
    # the first result is reached in a few presses more, and a visible focus shows
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('li.group')"):
            break
    else:
        pytest.fail("the first result was not reached by keyboard")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")


def test_browser_in_london_searching_new_york(new_context):
    context, _ = new_context(viewport=PHONE, timezone_id="Europe/London")
    page = context.new_page()
    search_from_the_form(page, "10001")
    assert "tz=Europe%2FLondon" in page.url or "tz=Europe/London" in page.url
    card = page.locator("li.group", has_text="Online circle (New York)")
    text = card.locator("p.next").inner_text()
    # 7pm in New York is midnight in London (GMT) or 11pm/midnight (BST weeks)
    assert re.search(r"7:00pm E[SD]T \(.+ (GMT|BST) your time\)", text), text
    tzinfo = page.locator("p.tzinfo").inner_text()
    assert "yours (Europe/London)" in tzinfo
    screenshot(page, "timezone-london-searching-new-york")


def test_utc_browser_is_not_shown_the_same_time_twice(new_context):
    context, _ = new_context(viewport=PHONE, timezone_id="UTC")
    page = context.new_page()
    search_from_the_form(page, "SW1A 1AA")
    card = page.locator("li.group", has_text="Online evening circle (UK)")
    text = card.locator("p.next").inner_text()
    main = re.search(r"(\d+:\d\d[ap]m) (GMT|BST)", text)
    assert main, text
    if main.group(2) == "GMT":
        assert "your time" not in text, text
    else:
        assert "UTC your time" in text, text


def test_a_shared_link_without_a_zone_does_not_claim_the_visitors(new_context, live_server):
    context, _ = new_context(viewport=PHONE, timezone_id="Europe/London")
    page = context.new_page()
    page.goto("/?near=10001&format=virtual")
    text = page.locator("li.group", has_text="Online evening circle (UK)").inner_text()
    assert "your time" not in text and "where you searched" in text


def test_use_my_location(new_context):
    context, _ = new_context(viewport=PHONE, geolocation={"latitude": 51.5014,
                                                          "longitude": -0.1419},
                             permissions=["geolocation"])
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="Use my location").click()
    page.wait_for_selector("#results-heading")
    query = parse_qs(urlsplit(page.url).query)
    assert query["near"] == ["51.501,-0.142"]  # rounded to about 100 m
    assert page.locator("ol.groups > li.group").count() > 0


def test_no_location_button_without_javascript(new_context):
    context, _ = new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    assert page.get_by_role("button", name="Use my location").count() == 0


def test_map_loads_only_when_asked_and_only_from_this_site(new_context, live_server):
    app = live_server.app
    app.config["MAP_TILE_URL"] = live_server.url + "/static/no-tiles/{z}/{x}/{y}.png"
    try:
        context, log = new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto("/?near=SW1A+1AA")
        assert not any("leaflet" in u for u in log.urls)
        page.get_by_role("button", name="Show on a map").click()
        page.wait_for_selector(".leaflet-marker-icon")
        markers = page.locator(".leaflet-marker-icon").count()
        assert markers == page.locator("section.results li.group").count()
        assert any(u.endswith("/static/vendor/leaflet/leaflet.js") for u in log.urls)
        screenshot(page, "results-map")
    finally:
        app.config["MAP_TILE_URL"] = ""


def test_page_weight_budgets(new_context, live_server):
    """Search page HTML for 20 results <= 30 KB before compression; the whole page, as
    transferred compressed, <= 100 KB without the map. Results go to test-artifacts/."""
    context, log = new_context(viewport=PHONE, timezone_id="Europe/London")
    page = context.new_page()
    page.goto("/?near=SW1A+1AA&tz=Europe/London")
    page.wait_for_load_state("load")
    assert page.locator("section.results li.group").count() == 20
    assert page.locator("section.online li.group").count() == 5
    sizes = {}
    for url in dict.fromkeys(log.urls):
        # as Chromium asks for it
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        with urllib.request.urlopen(request) as response:
            body = response.read()
            raw = DECODE[response.headers.get("Content-Encoding")](body)
        sizes[urlsplit(url).path] = {"transferred": len(body), "uncompressed": len(raw)}
    html = sizes["/"]
    total = sum(s["transferred"] for s in sizes.values())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-weight.json").write_text(json.dumps(
        {"resources": sizes, "total_transferred": total}, indent=2))
    assert html["uncompressed"] <= 30 * 1024, html
    assert total <= 100 * 1024, sizes


def test_a_form_error_takes_focus_and_leads_to_the_box(new_context):
    context, _ = new_context(viewport=PHONE)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Within", exact=True).fill("abc")
    page.get_by_label("Postcode, ZIP or town").fill("Leeds")
    page.get_by_role("button", name="Search", exact=True).click()
    # the page's script moves focus once the page has loaded: wait for that, not the element
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.get_by_label("Within", exact=True).input_value() == "abc"
    page.get_by_role("link", name="“abc” isn't a distance. Enter a number, like 10.").click()
    expect(page).to_have_url(re.compile("#radius$"))
    assert page.locator(".error-summary").count() == 1
