"""Generated requests against the API, from its own OpenAPI document (schemathesis).

Every check is on (server errors, status codes, content types, response schemas and headers,
positive data accepted, negative data refused, methods), with positive and negative data;
settings in schemathesis.toml. Requests run through the WSGI app as in production
(autocommit request connections) against a few committed groups near London, removed after
the test. The write endpoints get a valid token of an organisation that manages those groups
(and a rate limit high enough not to get in the way). The seed is fixed and the examples
bounded; `make fuzz` runs the same test with thousands of requests (FUZZ_MAX_EXAMPLES per
operation).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis.config import SchemathesisConfig

from finder import ROOT, create_app
from tests.conftest import database_url_for_tests
from tests.factories import make_group

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
REQUESTS = {"count": 0, "statuses": {}}

# its own app on the test database (the document itself needs no database)
APP = create_app({"DATABASE_URL": database_url_for_tests(), "TESTING": True,
                  "ONLINE_GEOCODER": False, "RATELIMIT_SUBMIT": "100000 per minute"})
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", APP, config=SchemathesisConfig.from_path(ROOT / "schemathesis.toml"))


@pytest.fixture
def listings(client, session):
    """A few groups for searches near London to find, managed by an organisation whose
    token the write endpoints get (committed; removed after the test)."""
    from finder.accounts import api_tokens, organisations, users

    user = users.create_user(session, "fuzz@example.org", "quiet harbour lantern 42",
                             verified=True)
    org = organisations.create_organisation(session, "Fuzz organisation", user)
    _, token = api_tokens.issue(session, org.id, "fuzz", user.id)
    owned = {"owner_organisation_id": org.id}
    make_group(session, "Westminster circle", lat=51.501, lng=-0.1416, **owned)
    make_group(session, "Hybrid circle", format="hybrid", lat=51.51, lng=-0.12,
               service_countries=["GB"], **owned)
    make_group(session, "Online circle", format="virtual", service_countries=["*"], **owned)
    client.live.commit()
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@seed(20261207)
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers(case, listings):
    REQUESTS["count"] += 1
    # the WSGI transport asks for compressed answers (as requests does) but does not decode
    # them; compression has its own tests
    response = case.call_and_validate(headers={"Accept-Encoding": "identity", **listings})
    REQUESTS["statuses"][response.status_code] = REQUESTS["statuses"].get(
        response.status_code, 0) + 1


def teardown_module(module):
    APP.extensions["db"].dispose()
    print(f"\nschemathesis: {REQUESTS['count']} generated requests, statuses "
          f"{dict(sorted(REQUESTS['statuses'].items()))}")
