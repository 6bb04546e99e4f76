"""Schemathesis drives every operation of the committed OpenAPI document against the live
service with a valid national admin key: no input it generates may cause a 5xx or a response
that breaks the document's schema."""

from __future__ import annotations

import asyncio
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.support.common import ROOT, Keys

OPENAPI = ROOT / "openapi" / "openapi.json"
EXAMPLES = int(os.environ.get("KUMKM_FUZZ_EXAMPLES", "60"))

schema = schemathesis.openapi.from_path(str(OPENAPI))


@pytest.fixture
def admin_key(database_url):
    return asyncio.run(Keys(database_url).make("admin", name="fuzz-admin"))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_no_input_breaks_the_service(case, live_server, admin_key):
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {admin_key}"},
        checks=[checks.not_a_server_error, checks.response_schema_conformance, checks.content_type_conformance],
    )
