"""The embeddable list, the quick exit link and the optional map, as the server sends them."""

from __future__ import annotations

from html import unescape

from tests.factories import make_group, offset

LONDON = (51.501009, -0.141588)
NEAR = f"{LONDON[0]},{LONDON[1]}"


def test_embed_is_a_fixed_list_framable_by_configured_sites_only(app, client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Near group", lat=lat, lng=lng)
    app.config["EMBED_FRAME_ANCESTORS"] = "https://hospital.example.org"
    try:
        response = client.get(f"/embed?near={NEAR}&format=in_person&page=7&within_days=1")
    finally:
        app.config["EMBED_FRAME_ANCESTORS"] = ""
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Near group" in html
    assert "<form" not in html
    assert 'target="_blank" rel="noopener"' in html
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://hospital.example.org" in csp
    assert "Set-Cookie" not in response.headers
    # only the parameters a partner may fix count: page and within_days are ignored
    assert "Near group" in html
    page_csp = client.get("/").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self';" in page_csp


def test_embed_bad_place_is_a_message(client):
    response = client.get("/embed?near=91,200")
    assert response.status_code == 400
    assert "We can't search near" in unescape(response.get_data(as_text=True))


def test_quick_exit_is_a_plain_link_on_every_page(app, client, session):
    lat, lng = offset(*LONDON, north_km=1)
    group = make_group(session, "Near group", lat=lat, lng=lng)
    for path in ("/", f"/?near={NEAR}", f"/groups/{group.id}", "/helplines", "/nowhere",
                 f"/embed?near={NEAR}"):
        html = client.get(path).get_data(as_text=True)
        assert ('<a class="quick-exit js-quick-exit" href="https://www.bbc.co.uk/weather" '
                'rel="noreferrer"') in html, path
    app.config["QUICK_EXIT_URL"] = "https://weather.example.org/"
    try:
        html = client.get("/").get_data(as_text=True)
    finally:
        app.config["QUICK_EXIT_URL"] = "https://www.bbc.co.uk/weather"
    assert 'href="https://weather.example.org/"' in html


def test_no_map_by_default(client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Near group", lat=lat, lng=lng)
    response = client.get(f"/?near={NEAR}")
    html = response.get_data(as_text=True)
    assert "map-data" not in html and "leaflet" not in html.lower()
    assert "img-src 'self' data:;" in response.headers["Content-Security-Policy"]


def test_map_when_configured_serves_leaflet_itself(app, client, session):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Near group", lat=lat, lng=lng)
    app.config["MAP_TILE_URL"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    try:
        response = client.get(f"/?near={NEAR}")
    finally:
        app.config["MAP_TILE_URL"] = ""
    html = response.get_data(as_text=True)
    assert 'id="map-data" data-leaflet="/static/vendor/leaflet/"' in html
    assert '<script src="/static/map.js" defer></script>' in html
    assert "Near group" in html.split('id="map-data"')[1].split("</script>")[0]
    assert "img-src 'self' data: https://tiles.example.org;" in \
        response.headers["Content-Security-Policy"]
    leaflet = client.get("/static/vendor/leaflet/leaflet.js")
    assert leaflet.status_code == 200 and b"Leaflet" in leaflet.data[:2000]
    assert client.get("/static/vendor/leaflet/LICENSE").status_code == 200
