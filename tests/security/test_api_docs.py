"""FastAPI's interactive docs and schema: served in development, gone in production unless
`WEPOS_API_DOCS=true` asks for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from api.main import create_app
from api.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers import HTTP, running_server

pytestmark = [pytest.mark.security, pytest.mark.e2e]  # each test serves the app

DOCS = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")
# Secrets production accepts (16+ characters, no placeholder words, app secret and verify token different).
PRODUCTION: dict[str, Any] = {
    "env": "production",
    "whatsapp_app_secret": "k3Jq8vNw2RtY6mZp",
    "whatsapp_verify_token": "Hq7LxC4nVb9TgWs2",
}


@contextmanager
def _serving(tmp_path: Path, sqlite_url: str, **overrides: Any) -> Iterator[str]:
    """A running server of these settings (no worker, no models loaded); yields its URL."""
    runtime = Runtime(make_settings(tmp_path / "var", sqlite_url, **overrides))
    runtime.migrate()
    with running_server(runtime, run_worker=False) as url:
        yield url


def _statuses(url: str) -> dict[str, int]:
    return {path: HTTP.get(f"{url}{path}", timeout=10).status_code for path in (*DOCS, "/healthz")}


def test_production_serves_no_docs_and_no_schema(tmp_path: Path, sqlite_url: str) -> None:
    with _serving(tmp_path, sqlite_url, **PRODUCTION) as url:
        assert _statuses(url) == {**dict.fromkeys(DOCS, 404), "/healthz": 200}


def test_production_serves_them_when_asked(tmp_path: Path, sqlite_url: str) -> None:
    with _serving(tmp_path, sqlite_url, **PRODUCTION, api_docs=True) as url:
        assert _statuses(url) == {**dict.fromkeys(DOCS, 200), "/healthz": 200}
        assert HTTP.get(f"{url}/openapi.json", timeout=10).json()["info"]["title"] == "Wepos"


def test_development_serves_them_unless_turned_off(tmp_path: Path, sqlite_url: str) -> None:
    with _serving(tmp_path, sqlite_url) as url:
        assert _statuses(url) == {**dict.fromkeys(DOCS, 200), "/healthz": 200}
    with _serving(tmp_path, sqlite_url, api_docs=False) as url:
        assert _statuses(url) == {**dict.fromkeys(DOCS, 404), "/healthz": 200}


def test_the_factory_reads_the_environment_when_given_no_runtime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name, value in {**PRODUCTION, "vault_key": Fernet.generate_key().decode()}.items():
        monkeypatch.setenv(f"WEPOS_{name.upper()}", value)
    paths = {getattr(route, "path", None) for route in create_app().routes}
    assert paths.isdisjoint(DOCS)
    monkeypatch.setenv("WEPOS_API_DOCS", "true")
    assert {"/docs", "/openapi.json"} <= {getattr(route, "path", None) for route in create_app().routes}
