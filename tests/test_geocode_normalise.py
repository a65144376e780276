"""Input cleaning and classification: pure functions, no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finder.geocode import normalise
from finder.geocode.base import InvalidLocation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("  sw1a   1aa ", "SW1A 1AA"),
        ("sw1a-1aa", "SW1A 1AA"),
        ("m11ae", "M1 1AE"),
        ("B1 1AY", "B1 1AY"),
        ("ec1a1bb", "EC1A 1BB"),
        ("ls61aa", "LS6 1AA"),
        ("XX1 1AA", None),  # no such postcode area
        ("SW1A 1A", None),
        ("Leeds", None),
    ],
)
def test_uk_postcode(raw, expected):
    assert normalise.uk_postcode(raw) == expected


def test_uk_levels_finest_first():
    assert normalise.uk_levels("SW1A 1AA") == [
        ("postcode", "SW1A 1AA"), ("sector", "SW1A 1"), ("district", "SW1A"), ("area", "SW"),
    ]
    assert normalise.uk_levels("LS6", "district") == [("district", "LS6"), ("area", "LS")]
    assert normalise.uk_levels("LS", "area") == [("area", "LS")]


def test_parts_of_a_postcode():
    assert normalise.sector_of("SW1A 1AA") == "SW1A 1"
    assert normalise.district_of("SW1A 1AA") == "SW1A"
    assert normalise.area_of("SW1A 1AA") == "SW"
    assert normalise.area_of("B1 1AY") == "B"


@pytest.mark.parametrize(
    ("raw", "kind", "code"),
    [
        ("SW1A 1AA", "uk_postcode", "SW1A 1AA"),
        ("sw1a1aa", "uk_postcode", "SW1A 1AA"),
        ("SW1A 1", "uk_sector", "SW1A 1"),
        ("sw1a1", "uk_sector", "SW1A 1"),  # cannot be a district, so a sector
        ("SW11", "uk_district", "SW11"),  # a district, not sector "SW1 1"
        ("ls6", "uk_district", "LS6"),
        ("LS", "uk_area", "LS"),
        ("ls", "uk_area", "LS"),
        ("10001", "us_zip", "10001"),
        ("10001-1234", "us_zip", "10001"),
        ("100011234", "us_zip", "10001"),
    ],
)
def test_classify_codes(raw, kind, code):
    q = normalise.classify(raw)
    assert (q.kind, q.code) == (kind, code)


@pytest.mark.parametrize(
    ("raw", "name", "qualifiers"),
    [
        ("Leeds", "Leeds", ()),
        ("Austin, TX", "Austin", ("TX",)),
        ("Austin, Texas", "Austin", ("Texas",)),
        ("London, UK", "London", ("UK",)),
        ("  Austin ,  Texas , USA ", "Austin", ("Texas", "USA")),
        ("NY", "NY", ()),  # not a postcode area, so a place
        ("Paris, 75001", "Paris", ("75001",)),  # too big to be meant as a coordinate
    ],
)
def test_classify_places(raw, name, qualifiers):
    q = normalise.classify(raw)
    assert (q.kind, q.name, q.qualifiers) == ("place", name, qualifiers)


@pytest.mark.parametrize(
    ("raw", "point"),
    [
        ("51.5,-0.12", (51.5, -0.12)),
        (" 51.5 , -0.12 ", (51.5, -0.12)),
        ("51.5 -0.12", (51.5, -0.12)),
        ("-33.8688,151.2093", (-33.8688, 151.2093)),
        ("90,180", (90.0, 180.0)),
        ("0,0", (0.0, 0.0)),
    ],
)
def test_latlng(raw, point):
    assert normalise.parse_latlng(raw) == point
    q = normalise.classify(raw)
    assert (q.kind, q.lat, q.lng) == ("latlng", *point)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("91,0", "latitude must be between -90 and 90"),
        ("-90.5,0", "latitude must be between -90 and 90"),
        ("0,181", "longitude must be between -180 and 180"),
        ("abc,1", "use two numbers"),
        ("1,abc", "use two numbers"),
        ("51.5,", "use two numbers"),
    ],
)
def test_latlng_errors_name_the_value(raw, reason):
    with pytest.raises(InvalidLocation) as info:
        normalise.classify(raw)
    assert reason in str(info.value)
    assert f"“{raw}”" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("raw", ["Leeds", "Austin, TX", "10001 1234", "LS6", "-0.12"])
def test_not_coordinates(raw):
    assert normalise.parse_latlng(raw) is None


def test_clean_bounds_and_collapses():
    assert normalise.clean("  a \t b\n c ") == "a b c"
    assert normalise.clean(None) == ""
    assert normalise.clean("x\x00y") == "x y"
    assert len(normalise.clean("x" * 1000)) == normalise.MAX_QUERY
    assert normalise.classify("   ").kind == "empty"


def test_postcode_for_country():
    assert normalise.postcode_for_country("GB", "ls61aa") == ("GB", "LS6 1AA")
    assert normalise.postcode_for_country("uk", "LS6") == ("GB", "LS6")
    assert normalise.postcode_for_country("US", "78701-1234") == ("US", "78701")
    assert normalise.postcode_for_country("DE", " 10115 ") == ("DE", "10115")
    assert normalise.postcode_for_country("GB", "not a postcode") is None
    assert normalise.postcode_for_country("US", "ABCDE") is None


@given(st.text(max_size=40))
def test_classify_never_fails_unexpectedly(raw):
    try:
        q = normalise.classify(raw)
    except InvalidLocation:
        return
    assert q.kind in ("empty", "latlng", "uk_postcode", "uk_sector", "uk_district", "uk_area",
                      "us_zip", "place")


@given(st.from_regex(r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}", fullmatch=True))
def test_uk_postcode_is_idempotent(raw):
    code = normalise.uk_postcode(raw)
    if code is not None:
        assert normalise.uk_postcode(code) == code
        assert normalise.uk_postcode(code.lower().replace(" ", "")) == code
