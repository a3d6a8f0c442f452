"""schemathesis against ``/api/v1/openapi.json`` (issue 11 §1): no 5xx, and every answer as documented.

Every operation of the served OpenAPI document is exercised in-process (the real Django app, the
real database) with a bearer token, with valid and invalid inputs schemathesis derives from the
document. A 5xx, a status the document does not declare, or a body or content type that does not
conform to it fails the test. Two runs per operation: a fixed seed (reproducible in CI) and a
random one (new inputs each run; hypothesis prints the seed of a failure). Bounded: a few dozen
examples per operation and run, about a minute in all.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck

from bihuan.api.urls import api

from .loop_helpers import at, make_categories, new_matter

EXAMPLES = 15
FIXED_SEED = 20261101

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
schema.app = get_wsgi_application()

# Every built-in check except "schema-valid data is accepted": the document cannot say that a
# cursor must be one the server issued, or a category code one that exists, so such requests are
# rightly refused with 400 although their shape is valid.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
    suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


@pytest.fixture
def _keep_connection():
    """Requests go through the WSGI handler, which closes the connection when a request ends
    (CONN_MAX_AGE=0) and with it the test's transaction on PostgreSQL; Django's test client
    suspends that for its requests, and so does this."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth(_keep_connection, tree, users, token_for):
    road, _ = make_categories()
    new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"))
    return {"Authorization": token_for(users.liying_staff)["HTTP_AUTHORIZATION"]}


# The random run leaves out "schema-violating data is rejected": its inputs are new each run, and
# some mutations cannot reach the server as generated (a mutated Authorization header is replaced by
# the real token; an invalid array or object in a query string is sent as an empty value), so the
# check would fail on what the harness did, not on the API. The fixed-seed run keeps the check.
RANDOM_EXCLUDED = [*EXCLUDED, schemathesis.checks.negative_data_rejection]


def _call(case, auth, excluded=EXCLUDED):
    case.call_and_validate(headers=auth, excluded_checks=excluded)


@pytest.mark.django_db
@schema.parametrize()
@SETTINGS
@hypothesis.seed(FIXED_SEED)
def test_api_conforms_fixed_seed(case, auth):
    _call(case, auth)


@pytest.mark.django_db
@schema.parametrize()
@SETTINGS
def test_api_conforms_random_seed(case, auth):
    _call(case, auth, RANDOM_EXCLUDED)
