from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.runtime import Runtime
from tests.conftest import GraphStandIn, make_settings
from tests.helpers import demo_runtime, running_server


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
    runtime, business_id = demo_runtime(settings, analyzer, embeddings)
    with running_server(runtime) as url:
        yield Wepos(url, runtime, graph, data_dir, business_id)
