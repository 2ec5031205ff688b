"""Secrets stay secret: API keys and business access tokens never appear in an answer, a log line, a database
column or any file of the data dir in plain text; production refuses empty or placeholder secrets."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import select as sm_select

from core.api_keys import ApiKey
from core.db import session_scope
from core.errors import ConfigError
from core.settings import load_settings
from core.tenants import Business
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.helpers import post, text_cells, text_payload
from tests.security.conftest import Wepos, api_key
from tests.security.routes import ROUTES, VICTIM_PHONE, Access

pytestmark = pytest.mark.security

ACCESS_TOKEN = "EAAtest-token"  # the demo business's Cloud API token (tests.helpers.demo_runtime)


@pytest.mark.e2e
def test_keys_and_tokens_never_leave_in_answers_logs_columns_or_files(
    wepos: Wepos, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = api_key(wepos.runtime, wepos.business_id)
    key = headers["Authorization"].removeprefix("Bearer ")
    answers: list[httpx.Response] = []

    post(wepos.url, text_payload("Hi, I'm Maria. When are you open on Sunday?", sender=VICTIM_PHONE))
    wepos.graph.wait_for_sends(1)
    # The token really was used: it went to the Graph API (and nowhere else, below).
    assert wepos.graph.sends[0]["auth"] == f"Bearer {ACCESS_TOKEN}"

    # One client for every request: a client a request built its TLS context each time (the system's CA
    # file read anew), which made this loop outlast its timeout on a slow host. No cookie carries over.
    with httpx.Client(timeout=60) as client:
        for (method, path), route in ROUTES.items():
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            files: Any = [("files", ("note.md", b"# Note\n\nHello.\n"))] if route.files else None
            for auth in (headers, {"X-API-Key": key}, {}):
                client.cookies.clear()
                answers.append(
                    client.request(
                        method,
                        f"{wepos.url}{concrete}",
                        headers=auth,
                        json=route.json if route.access is Access.API_KEY else None,
                        params=route.params,
                        files=files,
                    )
                )
    assert any(a.status_code == 200 and a.request.url.path.startswith("/v1/") for a in answers)

    secrets = [key, key.split("_", 2)[2], ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN]
    for answer in answers:
        shown = answer.text + str(answer.headers)
        assert not [s for s in secrets if s in shown], answer.request.url

    logged = caplog.text + "".join(str(vars(record)) for record in caplog.records)
    assert caplog.records and not [s for s in secrets if s in logged]
    log_files = list((wepos.data_dir / "logs").glob("wepos.log*"))
    assert log_files and not [s for f in log_files for s in secrets if s in f.read_text()]

    cells = text_cells(wepos.runtime.engine)
    assert cells and not [s for s in secrets for cell in cells if s in cell]
    with session_scope(wepos.runtime.engine) as session:
        stored_key = session.exec(sm_select(ApiKey).where(ApiKey.secret_hash != "")).all()
        assert hashlib.sha256(key.encode()).hexdigest() in {k.secret_hash for k in stored_key}
        business = session.get(Business, wepos.business_id)
        assert business is not None and business.access_token_sealed is not None
        assert wepos.runtime.box.open(business.access_token_sealed) == ACCESS_TOKEN

    # Every byte of the data dir: the SQLite file and its WAL, Chroma, logs, staged uploads.
    for path in Path(wepos.data_dir).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], path.relative_to(wepos.data_dir)


GOOD = {
    "whatsapp_app_secret": "9f2c71d04be84a1c8e55a0b3c6d7e8f1",
    "whatsapp_verify_token": "k3L9vQ2mX7pR4tW8yZ1bN6cF0hJ5dS2a",
    "vault_key": Fernet.generate_key().decode(),
}


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env="production", **GOOD)
    assert settings.whatsapp_app_secret is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("whatsapp_app_secret", None),
        ("whatsapp_app_secret", ""),
        ("whatsapp_app_secret", " " * 32),
        ("whatsapp_app_secret", "short-secret"),
        ("whatsapp_app_secret", "change-me-change-me-change-me"),
        ("whatsapp_app_secret", "your-app-secret-goes-here"),
        ("whatsapp_verify_token", ""),
        ("whatsapp_verify_token", "replace-with-a-random-token"),
        ("whatsapp_verify_token", "a" * 40),
        ("whatsapp_verify_token", GOOD["whatsapp_app_secret"]),  # the same value reused
        ("vault_key", None),
        ("vault_key", ""),
        ("vault_key", "example-vault-key-0000000000000"),
    ],
)
def test_production_refuses_empty_short_or_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(env="production", **{**GOOD, name: value})
    assert "production" in caught.value.message
    if value:
        assert value.strip() == "" or value not in caught.value.message  # the message never echoes a secret
