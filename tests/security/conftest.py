"""Fixtures of the security suite: the running demo server (from tests/api), a second business, API keys,
and a light server (no demo data, no worker) for checks that need only the HTTP surface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.runtime import Runtime
from core.api_keys import issue_api_key
from core.db import session_scope
from core.tenants import create_business
from tests.api.conftest import Wepos, wepos
from tests.conftest import make_settings
from tests.helpers import PHONE_NUMBER_ID, running_server

__all__ = ["Light", "Wepos", "api_key", "light", "stranger_business", "wepos"]

STRANGER_PHONE_NUMBER_ID = "200000000000002"


def api_key(runtime: Runtime, business_id: int) -> dict[str, str]:
    """Headers carrying a new API key of `business_id`."""
    with session_scope(runtime.engine) as session:
        issued = issue_api_key(session, business_id=business_id, name="security-test")
    return {"Authorization": f"Bearer {issued.secret}"}


def stranger_business(runtime: Runtime) -> int:
    """A second business, with no knowledge and no customers: whatever its key sees must be empty."""
    with session_scope(runtime.engine) as session:
        business = create_business(
            session, name="stranger-shop", phone_number_id=STRANGER_PHONE_NUMBER_ID, box=runtime.box
        )
    assert business.id is not None
    return business.id


@dataclass
class Light:
    url: str
    runtime: Runtime
    business_id: int
    headers: dict[str, str]


@pytest.fixture
def light(tmp_path: Path, database_url: str, analyzer, embeddings) -> Iterator[Light]:  # type: ignore[no-untyped-def]
    """A running API-only server (no worker, no documents) with one business and a valid key."""
    runtime = Runtime(make_settings(tmp_path / "var", database_url), analyzer=analyzer, embeddings=embeddings)
    runtime.migrate()
    with session_scope(runtime.engine) as session:
        business = create_business(
            session, name="light-shop", phone_number_id=PHONE_NUMBER_ID, box=runtime.box
        )
    assert business.id is not None
    headers = api_key(runtime, business.id)
    with running_server(runtime, run_worker=False) as url:
        yield Light(url, runtime, business.id, headers)
