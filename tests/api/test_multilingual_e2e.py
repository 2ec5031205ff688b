"""A question in Spanish to English documents, through the real parts: Presidio, MiniLM, multilingual-e5,
Chroma and the database. Answered from the multilingual index when it is sure, handed over when not."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import Conversation, Message
from bot.turn.language import IN_ENGLISH, NOT_COVERED
from core.db import session_scope
from tests.conftest import make_settings
from tests.helpers import PHONE_NUMBER_ID, demo_runtime

pytestmark = pytest.mark.e2e

_ids = itertools.count()


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, analyzer, embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt, business_id = demo_runtime(
        make_settings(tmp_path / "var", database_url, multilingual=True), analyzer, embeddings
    )
    assert rt.multilingual_index is not None
    assert rt.multilingual_index.sync(business_id) == rt.index.count(business_id)
    yield rt
    rt.close()


def _turn(runtime: Runtime, text: str, sender: str) -> tuple[str, str | None]:
    batch = WebhookBatch(
        messages=[InboundMessage(PHONE_NUMBER_ID, f"wamid.ml{next(_ids)}", sender, "Ana", "text", text)]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)
    with session_scope(runtime.engine) as session:
        reply = session.exec(
            select(Message).where(Message.in_reply_to_id == message_id).order_by(col(Message.id))
        ).first()
        conversation = session.exec(
            select(Conversation).where(Conversation.id == reply.conversation_id)
        ).one()  # type: ignore[union-attr]
        return (reply.text_masked or "") if reply else "", conversation.handoff_reason


def test_a_spanish_question_is_answered_from_the_english_documents(runtime: Runtime) -> None:
    text, handoff = _turn(runtime, "¿Tienen pan sin gluten en la tienda?", "447700900201")
    assert text.startswith(IN_ENGLISH["es"])
    assert "gluten-free" in text
    assert handoff is None


def test_a_spanish_question_the_documents_cannot_answer_is_still_handed_over(runtime: Runtime) -> None:
    text, handoff = _turn(runtime, "¿Venden coches usados con garantía en la tienda?", "447700900202")
    assert text == NOT_COVERED["es"]
    assert handoff == "language"


def test_the_multilingual_index_holds_the_masked_chunks_and_nothing_else(runtime: Runtime) -> None:
    index = runtime.multilingual_index
    assert index is not None
    with session_scope(runtime.engine) as session:
        from retrieval.models import KnowledgeDocument

        business_id = session.exec(select(KnowledgeDocument.business_id)).first()
    assert business_id is not None
    mirror = index.documents(business_id)
    main = runtime.index.documents(business_id)
    assert sorted(zip(mirror.ids, mirror.texts, strict=True)) == sorted(
        zip(main.ids, main.texts, strict=True)
    )
