"""The redaction log says which rule found each span, and holds no value: what a compliance officer reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from core.db import session_scope
from core.tenants import create_business
from privacy.models import RedactionEvent
from privacy.redaction import list_redactions
from tests.conftest import make_settings


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, mock_analyzer, mock_embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(
        make_settings(tmp_path / "var", database_url, send_lanes=0),
        analyzer=mock_analyzer,
        embeddings=mock_embeddings,
        console=lambda _line: None,
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box)
    yield rt
    rt.close()


def test_each_logged_span_names_its_recognizer_and_rule_and_no_value(runtime: Runtime) -> None:
    text = "Order ID: 3348917502, Username: cminh730 and my PIN is 4321"
    batch = WebhookBatch(messages=[InboundMessage("42", "wamid.1", "447700900123", "Maria", "text", text)])
    runtime.intake.accept(batch)
    runtime.worker.run_once()
    with session_scope(runtime.engine) as session:
        rows = session.exec(select(RedactionEvent)).all()
        page = list_redactions(session, business_id=1)
    logged = {(r.entity_type, r.recognizer, r.rule) for r in rows}
    assert {
        ("ID_NUMBER", "LabelledValueRecognizer", "id_label"),
        ("USERNAME", "LabelledValueRecognizer", "username"),
        ("PASSWORD", "LabelledValueRecognizer", "secret"),
    } <= logged
    assert {item.rule for item in page.items} >= {"id_label", "username", "secret"}
    written = " ".join(str(value) for row in rows for value in row.model_dump().values())
    assert not any(value in written for value in ("3348917502", "cminh730", "4321"))
