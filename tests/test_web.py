"""The search page and group page, as a browser without JavaScript receives them."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

from tests.factories import make_group, offset

LONDON = (51.501009, -0.141588)
NEAR = f"{LONDON[0]},{LONDON[1]}"


class Page(HTMLParser):
    """Collects what the accessibility checks need: headings, controls, labels, resources."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.h1 = 0
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.resources: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag in ("script", "img", "iframe") and a.get("src"):
            self.resources.append(a["src"])
        if tag == "link" and a.get("href"):
            self.resources.append(a["href"])


def test_search_form_is_accessible_and_self_contained(client):
    response = client.get("/")
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    assert page.h1 == 1
    assert page.controls, "the form has controls"
    for control in page.controls:
        # a control is labelled by <label for=id> or by wrapping <label> (checkboxes)
        assert control.get("id") in page.label_for or control.get("type") == "checkbox", control
    assert all(not re.match(r"^(https?:)?//", r) for r in page.resources), page.resources
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp


def test_results_show_name_format_distance_next_meeting_and_how_to_join(client, session):
    lat, lng = offset(*LONDON, north_km=2)
    group = make_group(session, "Rainbow Circle", lat=lat, lng=lng, join_mode="register",
                       join_url="https://example.org/register")
    html = client.get(f"/?near={NEAR}").get_data(as_text=True)
    assert "Rainbow Circle" in html
    assert f'href="/groups/{group.id}?back=' in html
    assert "In person" in html
    assert "2.0 km away" in html
    assert "Next meeting:" in html and "7:00pm" in html.replace("7:00 pm", "7:00pm")
    assert "Register first" in html and "https://example.org/register" in html


def test_bad_input_is_a_form_error_naming_the_field(client):
    response = client.get("/?near=Leeds&radius=900")
    assert response.status_code == 400
    html = unescape(response.get_data(as_text=True))
    assert 'id="error-message"><a href="#radius">' in html
    assert "Choose a distance more than 0 and up to 200 km" in html
    assert 'id="radius" name="radius" type="text" inputmode="decimal" size="5" value="900" ' \
           'aria-invalid="true" aria-describedby="error-message"' in html


def test_malformed_lat_lng_is_a_form_error(client):
    response = client.get("/?near=91,200")
    assert response.status_code == 400
    html = unescape(response.get_data(as_text=True))
    assert '<a href="#near">We can\'t search near “91,200”.' in html
    assert 'value="91,200"' in html


def test_unknown_place_gets_a_friendly_message(client):
    response = client.get("/?near=Qwxzzy%20Nowhere")
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert "couldn't find that place" in html
    assert "format=virtual" in html


def test_a_misspelt_town_is_not_searched_but_offered(client):
    response = client.get("/?near=Manchster&format=in_person&page=2")
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert "couldn't find that place" in html and 'id="results-heading"' not in html
    # the link keeps the other choices and starts again at page 1
    assert '<a href="/?near=Manchester&format=in_person">Manchester</a>?' in html
    spanish = unescape(client.get("/?near=Manchster&lang=es").get_data(as_text=True))
    assert "¿Quisiste decir <a href=" in spanish


def test_a_search_page_finds_the_place_once(client, monkeypatch):
    from finder import geocode

    asked, resolve = [], geocode.resolve

    def counted(session, text, **kw):
        asked.append(text)
        return resolve(session, text, **kw)

    monkeypatch.setattr(geocode, "resolve", counted)
    assert client.get("/?near=Austin,%20TX").status_code == 200  # miles: a US search
    assert client.get("/?near=Manchster").status_code == 200  # not found, one suggestion
    assert asked == ["Austin, TX", "Manchster"]


def test_empty_state_suggests_widening_radius_and_online_groups(client):
    page = unescape(client.get(f"/?near={NEAR}&radius=1&loss=molar").get_data(as_text=True))
    assert "didn't find a group" in page
    assert "radius=2" in page
    assert "format=virtual" in page


def test_group_page_shows_how_to_join_schedule_and_sources(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Ectopic Support Evening", lat=lat, lng=lng,
                       join_mode="contact", join_phone="020 7946 0001",
                       loss_types=["ectopic"])
    response = client.get(f"/groups/{group.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = Page(html)
    assert page.h1 == 1
    assert "Every Tuesday" in html
    assert "020 7946 0001" in html
    assert "Ectopic pregnancy" in html


def test_unknown_group_is_a_404_page(client):
    response = client.get("/groups/999999999")
    assert response.status_code == 404
    assert client.get("/groups/99999999999999999999").status_code == 404
    assert "couldn't find that page" in unescape(response.get_data(as_text=True))
