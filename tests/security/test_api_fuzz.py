"""Schemathesis over the OpenAPI schema of the /v1 routes, with a valid API key, against a real server:
whatever the generated paths, queries and bodies, the answer is never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case

from tests.helpers import HTTP
from tests.security.conftest import Wepos, api_key

pytestmark = [pytest.mark.security, pytest.mark.e2e]


def test_no_generated_v1_request_gets_a_server_error(wepos: Wepos) -> None:
    headers = api_key(wepos.runtime, wepos.business_id)
    spec = HTTP.get(f"{wepos.url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(spec).include(path_regex="^/v1/")
    failures: list[str] = []
    seen: set[str] = set()

    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy())
    def call(case: Case) -> None:
        response = case.call(base_url=wepos.url, headers=headers, timeout=60)
        seen.add(f"{case.method} {case.path}")
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")
        assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body)

    call()
    assert not failures
    assert len(seen) >= 10, seen  # most operations were exercised
