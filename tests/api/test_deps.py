"""`SessionDep`: a route's writes are committed before its response is sent, and rolled back when it raises."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api.deps import SessionDep
from core.db import create_db_engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
    yield engine
    engine.dispose()


def _rows(engine: Engine) -> list[int]:
    """The probe rows another connection sees: only committed ones."""
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT id FROM probe ORDER BY id"))]


@pytest.fixture
def served(engine: Engine) -> Iterator[tuple[TestClient, list[list[int]]]]:
    """An app with one writing route that succeeds and one that fails; what a second connection saw when each
    response started is recorded."""
    app = FastAPI()
    app.state.runtime = SimpleNamespace(engine=engine)

    @app.post("/ok")
    def ok(session: SessionDep) -> dict[str, str]:
        session.execute(text("INSERT INTO probe (id) VALUES (1)"))
        return {"status": "ok"}

    @app.post("/fail")
    def fail(session: SessionDep) -> dict[str, str]:
        session.execute(text("INSERT INTO probe (id) VALUES (2)"))
        raise HTTPException(status_code=409, detail="refused")

    seen_at_start: list[list[int]] = []

    async def watching(scope: Any, receive: Any, send: Any) -> None:
        async def watched_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen_at_start.append(_rows(engine))
            await send(message)

        await app(scope, receive, watched_send)

    with TestClient(watching) as client:
        yield client, seen_at_start


def test_a_route_that_returns_is_committed_before_its_response_starts(
    served: tuple[TestClient, list[list[int]]], engine: Engine
) -> None:
    client, seen_at_start = served
    response = client.post("/ok")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert seen_at_start == [[1]]
    assert _rows(engine) == [1]


def test_a_route_that_raises_is_rolled_back_and_answers_its_error(
    served: tuple[TestClient, list[list[int]]], engine: Engine
) -> None:
    client, seen_at_start = served
    response = client.post("/fail")
    assert (response.status_code, response.json()) == (409, {"detail": "refused"})
    assert seen_at_start == [[]]
    assert _rows(engine) == []
