"""The JSON API answers as its OpenAPI document says, and errors name the field."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.factories import make_group, offset

LONDON = (51.501009, -0.141588)
NEAR = f"{LONDON[0]},{LONDON[1]}"


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


def validator(spec, name):
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:spec", resource)
    schema = {"$ref": f"urn:spec#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=registry)


def test_openapi_document_is_valid_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_search_response_matches_the_document(client, session, spec):
    lat, lng = offset(*LONDON, north_km=1)
    make_group(session, "Hybrid circle", format="hybrid", lat=lat, lng=lng,
               service_countries=["GB"])
    make_group(session, "Online", format="virtual", service_countries=["*"])
    body = client.get(f"/api/v1/groups?near={NEAR}").get_json()
    validator(spec, "SearchResults").validate(body)
    assert body["results"] and body["online"]["results"]
    detail = client.get(body["results"][0]["links"]["self"]).get_json()
    validator(spec, "Group").validate(detail)
    assert detail["sources"] == []


def test_every_documented_parameter_is_accepted(client, spec):
    documented = {p["name"] for p in spec["paths"]["/api/v1/groups"]["get"]["parameters"]}
    examples = {"near": NEAR, "radius": "10", "unit": "mi", "format": "any", "day": "tue",
                "time": "evening", "within_days": "30", "loss": "miscarriage",
                "audience": "couples", "language": "en", "cost": "free", "join": "drop_in",
                "sort": "next", "page": "1", "per_page": "5", "tz": "Europe/Paris"}
    assert documented == set(examples)
    response = client.get("/api/v1/groups", query_string=examples)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    "query, field, status",
    [
        ("format=sometimes", "format", 400),
        ("near=Leeds&radius=-1", "radius", 400),
        ("day=someday", "day", 400),
        ("near=91,0", "near", 400),
        ("near=abc,def", "near", 422),
        ("near=Qwxzzy%20Nowhere", "near", 422),
        ("per_page=1000", "per_page", 400),
        ("near=" + "x" * 500, "near", 400),
        ("near=Leeds%E2%80%AE", "near", 400),
        ("near=%ED%A0%80", "near", 422),  # undecodable bytes stay escaped: an unknown place
    ],
)
def test_bad_input_is_a_json_error_naming_the_field(client, query, field, status):
    response = client.get(f"/api/v1/groups?{query}")
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"]["field"] == field


def test_unknown_group_and_route_are_json_404s(client):
    assert client.get("/api/v1/groups/123456789").get_json()["error"]["message"]
    assert client.get("/api/v1/groups/99999999999999999999").status_code == 404
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json


def test_healthz_checks_the_database(client):
    assert client.get("/healthz").get_json()["database"] == "ok"
