"""Parsing search parameters: typed values, or an error naming the field and value."""

import pytest
from werkzeug.datastructures import MultiDict

from finder.search.params import ParamError, parse


def p(**kw):
    items = []
    for k, v in kw.items():
        for item in v if isinstance(v, list) else [v]:
            items.append((k, item))
    return parse(MultiDict(items))


def test_defaults_without_location_sort_by_next_meeting():
    params = p()
    assert (params.radius, params.unit, params.format, params.sort) == (25, "km", "any", "next")
    assert (params.page, params.per_page) == (1, 20)


def test_near_defaults_to_distance_sort_and_miles_convert():
    params = p(near="SW1A 1AA", radius="10", unit="mi")
    assert params.sort == "distance"
    assert params.radius_m == pytest.approx(16093.44)


def test_repeatable_and_comma_separated_days():
    assert p(day=["mon", "wed"]).days == (0, 2)
    assert p(day="fri,sat").days == (4, 5)
    assert p(day="Thurs").days == (3,)


def test_synonyms_map_to_codes():
    params = p(loss="TFMR", audience=["fathers"], format="online")
    assert params.loss == ("tfmr",)
    assert params.audience == ("dads",)
    assert params.format == "virtual"
    assert p(loss="stillborn").loss == ("stillbirth",)
    assert p(loss="rainbow").loss == ("pregnancy_after_loss",)
    assert p(loss="NICU").loss == ("neonatal_death",)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"format": "sometimes"}, "format"),
        ({"day": "funday"}, "day"),
        ({"radius": "0"}, "radius"),
        ({"radius": "201"}, "radius"),
        ({"radius": "125", "unit": "mi"}, "radius"),
        ({"radius": "nan"}, "radius"),
        ({"radius": "ten"}, "radius"),
        ({"unit": "furlongs"}, "unit"),
        ({"time": "teatime"}, "time"),
        ({"within_days": "0"}, "within_days"),
        ({"within_days": "soon"}, "within_days"),
        ({"per_page": "101"}, "per_page"),
        ({"page": "0"}, "page"),
        ({"sort": "distance"}, "sort"),
        ({"sort": "random"}, "sort"),
        ({"near": "x" * 101}, "near"),
        ({"near": "SW1A\x00 1AA"}, "near"),
        ({"near": "\udc80"}, "near"),
        ({"near": "Leeds\u202e"}, "near"),
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"loss": "sadness"}, "loss"),
        ({"near": ["Leeds", "York"]}, "near"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(ParamError) as info:
        p(**kwargs)
    assert info.value.field == field
    assert field in info.value.message or info.value.field == field
    assert info.value.message


def test_unicode_is_normalised_and_whitespace_collapsed():
    assert p(near="  Caf\u0065\u0301   Street ").near == "Caf\u00e9 Street"


def test_to_query_round_trips():
    params = p(near="LS1", day=["tue"], loss="tfmr", radius="10", page="2")
    again = parse(MultiDict([(k, str(v)) for k, vs in params.to_query().items()
                             for v in (vs if isinstance(vs, list) else [vs])]))
    assert again == params
