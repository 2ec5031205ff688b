from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.runtime import Runtime
from core.db import session_scope
from core.tenants import create_business
from tests.conftest import EXAMPLES, GraphStandIn, make_settings
from tests.helpers import PHONE_NUMBER_ID, running_server


@dataclass
class Wepos:
    url: str
    runtime: Runtime
    graph: GraphStandIn
    data_dir: Path
    business_id: int


@pytest.fixture
def wepos(tmp_path: Path, database_url: str, graph: GraphStandIn, analyzer, embeddings) -> Iterator[Wepos]:  # type: ignore[no-untyped-def]
    """A running server on a fresh data dir, with the demo business (Cloud API mode) and its documents."""
    data_dir = tmp_path / "var"
    settings = make_settings(data_dir, database_url, whatsapp_api_base=graph.base_url)
    runtime = Runtime(settings, analyzer=analyzer, embeddings=embeddings)
    runtime.migrate()
    with session_scope(runtime.engine) as session:
        business = create_business(
            session,
            name="demo-bakery",
            phone_number_id=PHONE_NUMBER_ID,
            box=runtime.box,
            display_name="Crumb & Co. Bakery",
            access_token="EAAtest-token",
        )
        business_id = business.id
    assert business_id is not None
    outcomes = runtime.pipeline.ingest_paths(business_id, sorted(EXAMPLES.iterdir()))
    assert all(o.status.value == "added" for o in outcomes), outcomes
    with running_server(runtime) as url:
        yield Wepos(url, runtime, graph, data_dir, business_id)
