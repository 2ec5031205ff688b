"""The record of processing follows the live configuration: which systems receive data, and what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from bot.desk.conversations import configure_policy
from compliance.processing_record import STYLE, STYLE_HASH, ProcessingRecord, processing_record, render_html
from core import migrate
from core.crypto import SecretBox
from core.db import create_db_engine, session_scope
from core.tenants import Business, create_business
from tests.conftest import make_settings

pytestmark = pytest.mark.transparency


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    migrate.upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url)
    with session_scope(engine) as session:
        create_business(
            session,
            name="crumb",
            phone_number_id="42",
            box=SecretBox([Fernet.generate_key()]),
            display_name="Crumb <& Co>",
            access_token="EAAtoken",
        )
        configure_policy(session, business_id=1, retention_days=90, compliance_contact="dpo@crumb.example")
    yield engine
    engine.dispose()


def _record(engine: Engine, tmp_path: Path, **settings: Any) -> ProcessingRecord:
    with session_scope(engine) as session:
        business = session.get(Business, 1)
        assert business is not None
        database_url = settings.pop("database_url", f"sqlite:///{tmp_path / 'x.db'}")
        return processing_record(session, make_settings(tmp_path, database_url, **settings), business)


def test_the_record_changes_when_the_language_model_setting_changes(engine: Engine, tmp_path: Path) -> None:
    extractive = _record(engine, tmp_path)
    llm = _record(
        engine,
        tmp_path,
        llm_provider="openai",
        llm_model="llama3.1:8b",
        llm_base_url="https://user:hunter2-secret@llm.example.net:8443/v1",
        llm_api_key="sk-not-to-be-shown",
    )
    (before,) = [r for r in extractive.recipients if "nswer" in r.name]
    (after,) = [r for r in llm.recipients if "Language model" in r.name]
    assert before.model_dump() == {
        "name": "Answer composer (extractive, inside Wepos)",
        "purpose": "Picks the answer from the business's documents; no language model is called",
        "endpoint": None,
        "external": False,
        "active": True,
        "receives": ["Masked text only: the masked question and masked passages, in memory"],
    }
    assert after.name == "Language model, OpenAI-compatible API (llama3.1:8b)"
    assert after.endpoint == "https://llm.example.net:8443/v1"  # no user name, no password
    assert after.external is True and after.receives[0].startswith("Masked text only: the masked question")
    dumped = llm.model_dump_json()
    assert "hunter2" not in dumped and "sk-not-to-be-shown" not in dumped

    local = _record(
        engine, tmp_path, llm_provider="openai", llm_model="m", llm_base_url="http://127.0.0.1:11434/v1"
    )
    assert [r.external for r in local.recipients if r.name.startswith("Language model")] == [False]
    # Without a base URL the library's default endpoint is where the text goes.
    default = _record(engine, tmp_path, llm_provider="openai", llm_model="gpt-4o-mini")
    assert [r.endpoint for r in default.recipients if r.name.startswith("Language model")] == [
        "https://api.openai.com/v1"
    ]


def test_the_record_names_the_stores_channel_and_retention_of_the_configuration(
    engine: Engine, tmp_path: Path
) -> None:
    record = _record(
        engine,
        tmp_path,
        chroma_url="http://chroma.internal:8001",
        database_url="postgresql+psycopg://wepos:db-password@db.internal:5432/wepos",
        whatsapp_api_base="https://graph.facebook.com/v23.0",
    )
    assert (record.controller, record.tenant, record.compliance_contact) == (
        "Crumb <& Co>",
        "crumb",
        "dpo@crumb.example",
    )
    by_name = {r.name: r for r in record.recipients}
    whatsapp = by_name["WhatsApp Business Cloud API (Meta Platforms)"]
    assert (whatsapp.endpoint, whatsapp.external, whatsapp.active) == (
        "https://graph.facebook.com/v23.0",
        True,
        True,
    )
    chroma = by_name["Chroma vector store (server)"]
    assert chroma.endpoint == "http://chroma.internal:8001" and "No customer messages" in chroma.receives
    assert by_name["PostgreSQL database"].endpoint == "postgresql://db.internal:5432/wepos"
    assert "db-password" not in record.model_dump_json()
    retention = {s.name: s.retention_days for s in record.stores}
    assert retention["Conversations and messages"] == retention["Vault"] == retention["Redaction log"] == 90
    assert retention["Contacts and consent ledger"] is None
    assert "PERSON" in record.masked_entity_types and "EMAIL_ADDRESS" in record.masked_entity_types

    embedded = _record(engine, tmp_path)
    assert {r.name for r in embedded.recipients} >= {
        "Chroma vector store (embedded in the data directory)",
        "SQLite database (a file in the data directory)",
    }


def test_the_printable_page_is_self_contained(engine: Engine, tmp_path: Path) -> None:
    page = render_html(_record(engine, tmp_path, llm_provider="openai", llm_model="m"))
    assert page.startswith("<!doctype html>") and page.endswith("</body></html>")
    assert "Crumb &lt;&amp; Co&gt;" in page and "Crumb <& Co>" not in page  # values are escaped
    assert "Language model, OpenAI-compatible API (m)" in page and "https://api.openai.com/v1" in page
    lowered = page.lower()
    for outside in ("<script", "<link", "<img", "<iframe", "src=", "href=", "@import", "url("):
        assert outside not in lowered, outside
    assert not re.search(r"\son[a-z]+\s*=", lowered)  # no event handlers
    (style,) = re.findall(r"<style>(.*?)</style>", page)
    assert style == STYLE and STYLE_HASH.startswith("sha256-")
