"""Resolving what searchers type, against the bundled gazetteer in the test template."""

from __future__ import annotations

import logging

import pytest
from geopy.distance import distance
from geopy.exc import GeocoderUnavailable
from geopy.geocoders import Nominatim
from geopy.location import Location
from sqlalchemy import select

from finder import geocode
from finder.geocode import nominatim
from finder.geocode.base import Geocoder
from finder.models import GeocodeCache

BUCKINGHAM_PALACE = (51.501009, -0.141588)  # SW1A 1AA
AUSTIN_TX = (30.2672, -97.7431)


def km(a: geocode.Resolved, b: tuple[float, float]) -> float:
    return distance((a.lat, a.lng), b).km


def test_registry_names_every_geocoder():
    assert set(geocode.GEOCODERS) >= {"latlng", "postcode", "place", "nominatim"}
    assert all(isinstance(g, Geocoder) for g in geocode.GEOCODERS.values())
    assert geocode.OFFLINE_ORDER == ["latlng", "postcode", "place"]


@pytest.mark.parametrize("query", ["SW1A 1AA", "sw1a1aa", " Sw1a  1aA "])
def test_full_postcode_is_exact(session, query):
    r = geocode.resolve(session, query)
    assert r.label == "SW1A 1AA"
    assert (r.precision, r.approximate, r.note) == ("postcode", False, None)
    assert (r.country, r.timezone) == ("GB", "Europe/London")
    assert km(r, BUCKINGHAM_PALACE) < 0.05


def test_postcode_area_is_approximate_with_a_note(session):
    r = geocode.resolve(session, "LS")
    assert (r.precision, r.approximate, r.country) == ("area", True, "GB")
    assert r.label == "the LS postcode area"
    assert r.note == "Showing groups near the LS postcode area."
    assert km(r, (53.80, -1.55)) < 25  # around Leeds


def test_postcode_district(session):
    r = geocode.resolve(session, "ls6")
    assert (r.precision, r.approximate, r.label) == ("district", True, "the LS6 postcode district")
    assert "LS6 postcode district" in r.note
    assert r.timezone == "Europe/London"
    assert km(r, (53.82, -1.57)) < 3  # Headingley


def test_postcode_sector(session):
    r = geocode.resolve(session, "LS6 1")
    assert (r.precision, r.approximate, r.label) == ("sector", True, "the LS6 1 postcode sector")


def test_unknown_postcode_falls_back_and_says_so(session):
    r = geocode.resolve(session, "SW1A 9ZZ")
    assert r.approximate is True
    assert r.precision in ("sector", "district")
    assert "We don't have the postcode SW1A 9ZZ on file" in r.note
    assert km(r, BUCKINGHAM_PALACE) < 3


@pytest.mark.parametrize("query", ["10001", "10001-1234"])
def test_zip_and_zip4(session, query):
    r = geocode.resolve(session, query)
    assert (r.precision, r.approximate, r.country) == ("zip", False, "US")
    assert r.label.startswith("10001")
    assert r.timezone == "America/New_York"
    assert km(r, (40.7484, -73.9967)) < 2


def test_town(session):
    r = geocode.resolve(session, "Leeds")
    assert (r.label, r.country, r.precision) == ("Leeds, England", "GB", "place")
    assert r.approximate is True
    assert r.note == "Showing groups near the centre of Leeds, England."
    assert r.timezone == "Europe/London"


@pytest.mark.parametrize("query", ["Austin, TX", "Austin, Texas", "austin tx", "Austin, TX, USA"])
def test_place_narrowed_by_state(session, query):
    r = geocode.resolve(session, query)
    assert (r.label, r.country, r.timezone) == ("Austin, Texas", "US", "America/Chicago")
    assert km(r, AUSTIN_TX) < 10


def test_state_picks_the_smaller_place(session):
    r = geocode.resolve(session, "Austin, MN")
    assert (r.label, r.country) == ("Austin, Minnesota", "US")


def test_place_narrowed_by_country_or_nation(session):
    assert geocode.resolve(session, "London, UK").country == "GB"
    assert geocode.resolve(session, "London, England").label == "London, England"
    assert geocode.resolve(session, "Birmingham, Alabama").timezone == "America/Chicago"


def test_an_ignored_qualifier_is_mentioned(session):
    r = geocode.resolve(session, "Leeds, Nowhereshire")
    assert r.label == "Leeds, England"
    assert "We didn't recognise “Nowhereshire”" in r.note


def test_coordinates_get_country_and_timezone_from_the_nearest_town(session):
    r = geocode.resolve(session, "51.5,-0.12")
    assert (r.lat, r.lng, r.label) == (51.5, -0.12, "51.5, -0.12")
    assert (r.precision, r.approximate) == ("point", False)
    assert (r.country, r.timezone) == ("GB", "Europe/London")


def test_coordinates_far_from_any_town_have_no_country(session):
    r = geocode.resolve(session, "0,-30")  # mid-Atlantic
    assert (r.country, r.timezone) == (None, None)


@pytest.mark.parametrize("query", ["91,0", "abc,1", "0,200"])
def test_malformed_coordinates(session, query):
    with pytest.raises(geocode.InvalidLocation) as info:
        geocode.resolve(session, query)
    assert query in str(info.value)


@pytest.mark.parametrize("query", ["zzzz nowhere", "99999", "Leeds LS99 9ZZ", "\U0001F600", "!!!"])
def test_not_found_is_friendly(session, query):
    with pytest.raises(geocode.LocationNotFound) as info:
        geocode.resolve(session, query)
    assert str(info.value) == (
        f"We couldn't find “{query}”. Try a full postcode, a town name, or browse online groups."
    )


@pytest.mark.parametrize("query, suggestion", [
    ("Manchster", "Manchester"),
    ("Birmingam, UK", "Birmingham, UK"),  # what followed the comma is kept
    ("Londn", "London"),  # not Londa (India, Italy): closer, and far bigger
    ("edinbrugh", "Edinburgh"),
    ("San Jsoe, CA", "San Jose, CA"),  # not crowded out by the many names closer by trigrams
])
def test_a_misspelt_town_is_not_found_but_a_close_one_is_suggested(session, query,
                                                                   suggestion):
    with pytest.raises(geocode.LocationNotFound) as info:
        geocode.resolve(session, query)
    assert info.value.suggestion == suggestion
    assert str(info.value).startswith(f"We couldn't find “{query}”")


@pytest.mark.parametrize("query", ["zzzz nowhere", "99999", "Leeds LS99 9ZZ", "!!!", "Xq"])
def test_nothing_is_suggested_when_nothing_is_close(session, query):
    with pytest.raises(geocode.LocationNotFound) as info:
        geocode.resolve(session, query)
    assert info.value.suggestion is None


def test_the_closest_name_wins_then_the_bigger_place():
    from finder.geocode.suggest import closest_name

    assert closest_name("londn", [("Londa", "londa", 6131), ("London", "london", 8961989)]) \
        == "London"
    # names about as close: the bigger place
    assert closest_name("sheffeild", [("Sheffield", "sheffield", 556500),
                                      ("Sheffeld", "sheffeld", 90)]) == "Sheffield"
    assert closest_name("londn", [("Lund", "lund", 91940)]) is None  # not close enough
    assert closest_name("leeds", [("Leeds", "leeds", 536280)]) is None  # nothing new


def test_empty_query(session):
    with pytest.raises(geocode.LocationNotFound, match="Enter a postcode"):
        geocode.resolve(session, "   ")


def test_lookup_postcode_for_publishers(session):
    r = geocode.lookup_postcode(session, "GB", "ls61aa")
    assert (r.label, r.precision, r.approximate) == ("LS6 1AA", "postcode", False)
    r = geocode.lookup_postcode(session, "US", "78701-1234")
    assert (r.country, r.precision, r.timezone) == ("US", "zip", "America/Chicago")
    assert geocode.lookup_postcode(session, "UK", "LS6").precision == "district"
    assert geocode.lookup_postcode(session, "GB", "junk") is None
    assert geocode.lookup_postcode(session, "US", "00000") is None


def test_nearest_place(session):
    place = geocode.nearest_place(session, 53.7965, -1.5479)
    assert (place.name, place.country, place.timezone) == ("Leeds", "GB", "Europe/London")


def test_full_postcodes_and_queries_are_not_logged(session, caplog):
    caplog.set_level(logging.DEBUG, logger="finder.geocode")
    geocode.resolve(session, "SW1A 1AA")
    geocode.resolve(session, "Austin, TX")
    with pytest.raises(geocode.LocationNotFound):
        geocode.resolve(session, "zzzz nowhere")
    logged = caplog.text
    assert "1AA" not in logged and "Austin" not in logged and "zzzz" not in logged


# -- the optional online geocoder: never the network in tests ------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if geopy's Nominatim is ever asked."""
    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to reach Nominatim")

    monkeypatch.setattr(Nominatim, "geocode", refuse)
    nominatim._client.cache_clear()
    yield
    nominatim._client.cache_clear()


def _cache(session, query, **values):
    session.add(GeocodeCache(query_key=nominatim.cache_key(query), provider="nominatim", **values))
    session.flush()


def test_online_answer_comes_from_the_cache(session, no_network):
    _cache(session, "Little Snoring", found=True, lat=52.86, lng=0.90,
           label="Little Snoring, Norfolk, England", country="GB")
    r = geocode.resolve(session, "little  snoring", online=True, user_agent="groupfinder-tests")
    assert (r.label, r.country, r.precision, r.approximate) == (
        "Little Snoring, Norfolk, England", "GB", "online", True,
    )
    assert r.timezone == "Europe/London"
    assert "OpenStreetMap" in r.note


def test_a_cached_miss_is_not_asked_again(session, no_network):
    _cache(session, "Qwxzy Flats", found=False)
    with pytest.raises(geocode.LocationNotFound):
        geocode.resolve(session, "Qwxzy Flats", online=True, user_agent="groupfinder-tests")


def test_the_cache_is_not_used_when_online_is_off(session, no_network):
    _cache(session, "Little Snoring", found=True, lat=52.86, lng=0.90,
           label="Little Snoring, Norfolk, England", country="GB")
    with pytest.raises(geocode.LocationNotFound):
        geocode.resolve(session, "Little Snoring")


def test_online_answers_and_misses_are_cached(session, monkeypatch):
    calls = []

    def fake_geocode(query, **kwargs):
        calls.append(query)
        if query == "Nowhere Special":
            return None
        raw = {"address": {"country_code": "gb"}}
        return Location("Little Snoring, Norfolk, England", (52.86, 0.90, 0), raw)

    monkeypatch.setattr(nominatim, "_client", lambda user_agent: fake_geocode)
    for _ in range(2):
        r = geocode.resolve(session, "Little Snoring", online=True, user_agent="t")
        assert (r.label, r.country) == ("Little Snoring, Norfolk, England", "GB")
        with pytest.raises(geocode.LocationNotFound):
            geocode.resolve(session, "Nowhere Special", online=True, user_agent="t")
    assert calls == ["Little Snoring", "Nowhere Special"]  # the second round was cached
    rows = session.scalars(select(GeocodeCache).order_by(GeocodeCache.found)).all()
    assert [(r.found, r.country) for r in rows] == [(False, None), (True, "GB")]
    assert all("Snoring" not in r.query_key for r in rows)  # the key is a hash


def test_an_unavailable_service_is_not_cached(session, monkeypatch):
    def down(query, **kwargs):
        raise GeocoderUnavailable("down")

    monkeypatch.setattr(nominatim, "_client", lambda user_agent: down)
    with pytest.raises(geocode.LocationNotFound):
        geocode.resolve(session, "Little Snoring", online=True, user_agent="t")
    assert session.scalars(select(GeocodeCache)).all() == []


def test_the_client_is_rate_limited_and_identified():
    nominatim._client.cache_clear()
    client = nominatim._client("groupfinder-tests (ops@example.org)")
    assert client.min_delay_seconds == 1.0
    assert client.func.__self__.headers["User-Agent"] == "groupfinder-tests (ops@example.org)"
    nominatim._client.cache_clear()


def test_an_online_answer_is_cached_from_a_real_request(app, client, session, monkeypatch):
    """Requests run on autocommit connections: storing the answer must not need a SAVEPOINT."""
    def fake_geocode(query, **kwargs):
        raw = {"address": {"country_code": "gb"}}
        return Location("Little Snoring, Norfolk, England", (52.86, 0.90, 0), raw)

    monkeypatch.setattr(nominatim, "_client", lambda user_agent: fake_geocode)
    monkeypatch.setitem(app.config, "ONLINE_GEOCODER", True)
    response = client.get("/api/v1/groups", query_string={"near": "Little Snoring Hall"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["location"]["label"] == "Little Snoring, Norfolk, England"
    session.expire_all()
    assert [r.found for r in session.scalars(select(GeocodeCache)).all()] == [True]


def test_zip_zones_read_from_the_whole_table_are_the_packages_answers(monkeypatch):
    """A run geocoding many ZIPs answers from the package's table, read once: the same
    zones `zipcodes.matching` gives one ZIP at a time (None for an unknown ZIP)."""
    import zipcodes

    from finder.geocode import postcode

    codes = ("10011", "94103", "99501", "96813", "00501", "73301", "59715", "00000")
    expected = {code: (m[0].get("timezone") or None) if (m := zipcodes.matching(code))
                else None for code in codes}
    assert expected["10011"] == "America/New_York" and expected["00000"] is None
    postcode._zip_timezone.cache_clear()
    monkeypatch.setattr(postcode, "ZIP_LOOKUPS_BEFORE_TABLE", 0)
    try:
        assert {code: postcode._zip_timezone(code) for code in codes} == expected
        assert postcode._zip_zone_table.cache_info().currsize == 1
    finally:
        postcode._zip_timezone.cache_clear()
