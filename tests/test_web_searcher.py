"""What a searcher sees, as the server sends it (no JavaScript): the defects of issue 11.

Filters panel closed after a plain search, times labelled honestly, links that keep the
search, professionals' groups, tel: and directions links, friendly errors shown once,
miles for US searches, human labels, the schedule pattern on cards, favicon, no-store and
compression.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from tests.factories import make_group, offset

LONDON = (51.501009, -0.141588)
NEAR = f"{LONDON[0]},{LONDON[1]}"
NEW_YORK = (40.750633, -73.997177)


def html_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def form_submission(**values) -> str:
    """The query a browser without JavaScript sends for the search form (every box)."""
    fields = {"near": "", "radius": "25", "unit": "km", "format": "any", "within_days": "",
              "language": "", "sort": ""}
    fields.update(values)
    return "&".join(f"{k}={v}" for k, v in fields.items())


def test_plain_search_from_the_form_keeps_the_filters_panel_closed(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Near group", lat=lat, lng=lng)
    html = html_of(client.get("/?" + form_submission(near="SW1A 1AA")))
    assert "Near group" in html
    assert '<details class="more" id="filters">' in html  # not open
    opened = html_of(client.get("/?" + form_submission(near="SW1A 1AA") + "&day=tue"))
    assert '<details class="more" id="filters" open>' in opened


def test_long_checkbox_labels_can_wrap():
    css = open("finder/static/style.css").read()
    rule = re.search(r"\.check \{([^}]*)\}", css).group(1)
    assert "nowrap" not in rule


def test_times_are_labelled_with_the_searched_place_when_the_zone_is_a_guess(client, session):
    make_group(session, "London online", format="virtual", service_countries=["US"],
               schedules=[{"freq": "weekly", "weekday": 1, "start_time": dt.time(19)}])
    guessed = html_of(client.get("/?near=10001&format=virtual"))
    assert "your time" not in guessed
    assert re.search(r"\(\w+ \d+ \w+, \d+:\d\d[ap]m E[SD]T where you searched\)",
                     guessed), guessed
    assert "in the time zone where you searched (America/New_York)" in guessed
    theirs = html_of(client.get("/?near=10001&format=virtual&tz=America/Chicago"))
    assert re.search(r"\(\w+ \d+ \w+, \d+:\d\d[ap]m C[SD]T your time\)", theirs), theirs


def test_a_utc_visitor_is_not_shown_the_same_time_twice(client, session):
    make_group(session, "London online", format="virtual", service_countries=["GB"],
               schedules=[{"freq": "weekly", "weekday": 1, "start_time": dt.time(19)}])
    body = client.get("/api/v1/groups?format=virtual&tz=UTC").get_json()
    meeting = body["results"][0]["next_meeting"]
    start = dt.datetime.fromisoformat(meeting["start"])
    if start.utcoffset() == dt.timedelta(0):  # GMT: the same clock time as UTC
        assert meeting["searcher_label"] is None
    else:  # BST: one hour apart, both shown
        assert meeting["searcher_label"] is not None


def test_result_links_keep_the_visitors_zone_and_the_search(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Near group", lat=lat, lng=lng)
    html = html_of(client.get("/?near=SW1A+1AA&day=tue&tz=America/New_York"))
    link = re.search(rf'href="(/groups/{group.id}\?[^"]+)"', html).group(1)
    query = parse_qs(urlsplit(link).query)
    assert query["tz"] == ["America/New_York"]
    assert parse_qs(query["back"][0]) == {"near": ["SW1A 1AA"], "day": ["tue"]}
    page = html_of(client.get(link))
    back = re.search(r'<p class="back no-print"><a href="([^"]+)"', page).group(1)
    assert parse_qs(urlsplit(back).query) == {"near": ["SW1A 1AA"], "day": ["tue"],
                                               "tz": ["America/New_York"]}


def test_back_to_search_never_leads_elsewhere(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Near group", lat=lat, lng=lng)
    page = html_of(client.get(f"/groups/{group.id}?back=https://evil.example/&tz=Asia/Tokyo"))
    back = re.search(r'<p class="back no-print"><a href="([^"]+)"', page).group(1)
    assert back.startswith("/?") or back == "/"
    assert "evil" not in back


def test_cards_say_who_a_group_is_for_and_the_pattern(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Dads monthly", lat=lat, lng=lng, audiences=["dads", "partners"],
               schedules=[{"freq": "monthly", "set_pos": 2, "weekday": 3,
                           "start_time": dt.time(19, 30)}])
    make_group(session, "Staff only", lat=lat, lng=lng, audiences=["professionals"])
    html = html_of(client.get(f"/?near={NEAR}"))
    assert "For:</strong> Dads, Partners · Miscarriage" in html
    assert "Second Thursday of the month, 7:30pm to 9:00pm" in html
    assert "Staff only" not in html
    assert "Staff only" in html_of(client.get(f"/?near={NEAR}&audience=professionals"))


def test_phone_numbers_are_tel_links_and_addresses_have_directions(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Call us", lat=lat, lng=lng, join_mode="contact",
                       join_phone="+44 20 7946 0001")
    card = html_of(client.get(f"/?near={NEAR}"))
    assert '<a href="tel:+442079460001">+44 20 7946 0001</a>' in card
    page = html_of(client.get(f"/groups/{group.id}"))
    assert '<a href="tel:+442079460001">' in page
    directions = re.search(r'<a href="(https://www\.openstreetmap\.org/directions[^"]+)" '
                           r'rel="noopener noreferrer">', page)
    assert directions and f"{round(lat, 6)}" in directions.group(1)


def test_directions_link_follows_configuration(app, client, session):
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Somewhere", lat=lat, lng=lng)
    app.config["DIRECTIONS_URL"] = "geo:{lat},{lng}"
    try:
        page = html_of(client.get(f"/groups/{group.id}"))
    finally:
        app.config["DIRECTIONS_URL"] = "https://www.openstreetmap.org/directions?route=%3B{lat}%2C{lng}"
    assert f'href="geo:{round(lat, 6)},{round(lng, 6)}"' in page


def test_bad_radius_reads_as_words_keeps_the_value_and_is_said_once(client):
    response = client.get("/?" + form_submission(near="Leeds", radius="abc"))
    assert response.status_code == 400
    html = html_of(response)
    message = "“abc” isn't a distance. Enter a number, like 10."
    assert html.count(message) == 1
    assert "must be a number" not in html
    assert 'value="abc"' in html and 'value="Leeds"' in html


def test_us_searches_are_in_miles_unless_the_searcher_chooses(client, session):
    lat, lng = offset(*NEW_YORK, north_km=3)
    make_group(session, "NY group", lat=lat, lng=lng, country="US", tz="America/New_York")
    html = html_of(client.get("/?near=10001"))
    assert "miles away" in html and "km away" not in html
    assert "Groups within 15 miles of" in html
    assert '<option value="mi" selected>' in html
    chosen = html_of(client.get("/?near=10001&unit=km"))
    assert "km away" in chosen


def test_country_codes_and_source_keys_read_as_names(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Near group", lat=lat, lng=lng)
    make_group(session, "Online GB IE", format="virtual", service_countries=["GB", "IE"])
    html = html_of(client.get(f"/?near={NEAR}"))
    assert "Online groups you can join from United Kingdom" in html
    assert "For people in United Kingdom, Ireland" in html
    assert "from GB" not in html and "in GB, IE" not in html


def test_demo_source_reads_as_words(client, session):
    from finder.models import ListingSource
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Listed", lat=lat, lng=lng)
    session.add(ListingSource(group_id=group.id, source="demo", external_id="x",
                              content_hash="h"))
    session.flush()
    html = html_of(client.get(f"/groups/{group.id}"))
    assert "Listed by the demo listings (fictional)" in html


def test_favicon_no_store_and_compression(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"<!doctype html>" in gzip.decompress(page.data)
    css = client.get("/static/style.css")
    assert "no-store" not in css.headers.get("Cache-Control", "")


def test_helplines_in_the_footer_and_on_empty_results(client):
    empty = html_of(client.get(f"/?near={NEAR}&loss=molar&radius=1"))
    assert empty.count("The Miscarriage Association") == 2  # empty results and footer
    assert 'href="https://www.sands.org.uk/"' in empty
    home = html_of(client.get("/"))
    assert 'href="/helplines"' in home
    page = html_of(client.get("/helplines"))
    for name in ("Tommy's", "Star Legacy Foundation", "Miscarriage Association of Ireland"):
        assert name in page


def test_share_link_is_clean(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Near group", lat=lat, lng=lng)
    html = html_of(client.get("/?" + form_submission(near="SW1A 1AA") + "&tz=Europe/London"))
    share = re.search(r'Link to this search: <a href="([^"]+)"', html).group(1)
    assert parse_qs(urlsplit(share).query, keep_blank_values=True) == {"near": ["SW1A 1AA"]}
