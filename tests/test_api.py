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
    examples = {"q": "support", "near": NEAR, "radius": "10", "unit": "mi", "format": "any",
                "day": "tue",
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
        ("near=91,0", "near", 422),  # well formed, but not a point on Earth
        ("near=abc,def", "near", 422),
        ("near=Qwxzzy%20Nowhere", "near", 422),
        ("per_page=1000", "per_page", 400),
        ("near=" + "x" * 500, "near", 400),
        ("near=Leeds%E2%80%AE", "near", 422),  # a bidi override: no place has one
        ("sort=distance", "sort", 422),
        ("near=Leeds&radius=150&unit=mi", "radius", 422),
        ("near=Leeds&radius=1_0", "radius", 400),
        ("page=%D9%A3", "page", 400),  # an Arabic-Indic 3 is not a page number
        ("day=mon,,tue", "day", 400),
        ("tz=Mars/Olympus", "tz", 400),
        ("near=%ED%A0%80", "near", 422),  # undecodable bytes stay escaped: an unknown place
    ],
)
def test_bad_input_is_a_json_error_naming_the_field(client, query, field, status):
    response = client.get(f"/api/v1/groups?{query}")
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"]["field"] == field


def test_an_unknown_town_close_to_a_known_one_says_which(client):
    error = client.get("/api/v1/groups?near=Birmingam,%20UK").get_json()["error"]
    assert (error["field"], error["value"]) == ("near", "Birmingam, UK")
    assert error["did_you_mean"] == "Birmingham, UK"  # offered: nothing was searched
    error = client.get("/api/v1/groups?near=Qwxzzy%20Nowhere").get_json()["error"]
    assert "did_you_mean" not in error


def test_unknown_group_and_route_are_json_404s(client):
    assert client.get("/api/v1/groups/123456789").get_json()["error"]["message"]
    assert client.get("/api/v1/groups/99999999999999999999").status_code == 404
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json


def test_healthz_checks_the_database_and_reads_ingestion_state(client):
    # request sessions run in autocommit mode here, as in production
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok"
    assert body["ingest"]["failing_sources"] == [], body


BAD_ZONES = ["America", "Europe", "x" * 256, "時" * 90, "../../etc/passwd", "Europe/../UTC",
             "Europe/London\x00", "posixrules", "europe/london"]


@pytest.mark.parametrize("tz", BAD_ZONES)
def test_a_bad_zone_is_a_400_naming_tz_everywhere(client, session, tz):
    group = make_group(session, "Circle", lat=LONDON[0], lng=LONDON[1])
    for path in ("/api/v1/groups", f"/api/v1/groups/{group.id}", "/", f"/groups/{group.id}"):
        response = client.get(path, query_string={"tz": tz, "near": NEAR})
        assert response.status_code == 400, (path, response.status_code)
        if path.startswith("/api/"):
            error = response.get_json()["error"]
            assert error["field"] == "tz" and "tz" in error["message"], error
        else:
            assert "tz" in response.get_data(as_text=True)


def test_an_empty_value_means_absent_everywhere(client, session):
    group = make_group(session, "Circle", lat=LONDON[0], lng=LONDON[1])
    empty = {name: "" for name in ("radius", "unit", "format", "day", "time", "within_days",
                                   "loss", "audience", "language", "cost", "join", "sort",
                                   "page", "per_page", "tz")}
    body = client.get("/api/v1/groups", query_string={**empty, "near": NEAR}).get_json()
    assert [r["id"] for r in body["results"]] == [group.id]
    assert client.get(f"/api/v1/groups/{group.id}?tz=").status_code == 200
    assert client.get(f"/groups/{group.id}?tz=").status_code == 200
    assert client.get("/", query_string={**empty, "near": NEAR}).status_code == 200


def test_api_errors_are_json(client, app, monkeypatch):
    response = client.put("/api/v1/groups")  # POST submits a group (the write API)
    assert response.status_code == 405 and response.is_json
    assert "GET" in response.headers["Allow"] and response.get_json()["error"]["message"]

    import finder.search as search

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(search, "run", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.get(f"/api/v1/groups?near={NEAR}")
    assert response.status_code == 500 and response.is_json
    assert "a bug" not in response.get_data(as_text=True)


def test_a_413_under_the_api_is_json(app):
    from flask import request

    from finder import create_app

    small = create_app({**app.config, "MAX_CONTENT_LENGTH": 10})

    @small.before_request
    def _read_body():  # a body past MAX_CONTENT_LENGTH is refused when it is read
        request.get_data(parse_form_data=True)

    response = small.test_client().post("/api/v1/groups", data={"x": "y" * 100})
    small.extensions["db"].dispose()
    assert response.status_code == 413 and response.is_json, response.get_data(as_text=True)


def test_openapi_servers_never_reflect_the_host_header(client, app, monkeypatch):
    spec = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"}).get_json()
    assert spec["servers"] == [{"url": "/"}]
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://groups.example.org/")
    spec = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"}).get_json()
    assert spec["servers"] == [{"url": "https://groups.example.org"}]


def test_the_document_states_the_limits_the_code_enforces(spec):
    from finder.search import params as p

    search = {q["name"]: q for q in spec["paths"]["/api/v1/groups"]["get"]["parameters"]}
    first = {name: q["schema"].get("anyOf", [q["schema"]])[0] for name, q in search.items()}
    assert first["near"]["maxLength"] == p.MAX_TEXT
    assert first["radius"]["maximum"] == p.MAX_RADIUS_KM
    assert (first["page"]["maximum"], first["per_page"]["maximum"]) == (p.MAX_PAGE,
                                                                        p.MAX_PER_PAGE)
    assert first["within_days"]["maximum"] == p.MAX_WITHIN_DAYS
    assert "Europe/London" in spec["components"]["schemas"]["Timezone"]["enum"]
    assert "America" not in spec["components"]["schemas"]["Timezone"]["enum"]
    assert all("empty value means the parameter is absent" in q["description"]
               for q in search.values())
    assert "422" in search["sort"]["description"] and "422" in search["near"]["description"]


def test_request_connections_skip_jit_and_parallel_workers(client, app):
    # a 200 km radius has a plan costly enough for JIT, which would take longer than the query
    with app.test_request_context("/"):
        cursor = app.extensions["db"].cursor()
        settings = dict(cursor.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('jit', 'max_parallel_workers_per_gather')").fetchall())
    assert settings == {"jit": "off", "max_parallel_workers_per_gather": "0"}
