"""Consent in a turn: STOP silences the bot until START; a child is handed to a person, without AI."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import Conversation, ConversationStatus, Direction, InboundStatus, Message
from bot.turn.responders import Answer, AnswerRequest
from core.db import session_scope
from core.tenants import create_business
from privacy.consent import Purpose, current_consent
from privacy.models import ConsentRecord
from tests.conftest import make_settings
from tests.fakes import NoPassages

_ids = itertools.count()


class RecordingResponder:
    def __init__(self) -> None:
        self.requests: list[AnswerRequest] = []

    def answer(self, request: AnswerRequest) -> Answer:
        self.requests.append(request)
        return Answer("We open at 9.", True)


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, mock_analyzer, mock_embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(
        make_settings(tmp_path / "var", database_url),
        analyzer=mock_analyzer,
        embeddings=mock_embeddings,
        retriever=NoPassages(),
        responder=RecordingResponder(),
        console=print,
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box, display_name="Crumb")
    yield rt
    rt.close()


def _turn(runtime: Runtime, text: str) -> list[str]:
    """One customer message handled; the masked texts of the replies it queued."""
    batch = WebhookBatch(
        messages=[InboundMessage("42", f"wamid.{next(_ids)}", "447700900123", "Maria Lopez", "text", text)]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)
    with session_scope(runtime.engine) as session:
        replies = session.exec(
            select(Message).where(Message.in_reply_to_id == message_id).order_by(col(Message.id))
        ).all()
        return [r.text_masked or "" for r in replies]


def _ledger(runtime: Runtime) -> list[tuple[str, bool, str]]:
    with session_scope(runtime.engine) as session:
        rows = session.exec(select(ConsentRecord).order_by(col(ConsentRecord.id))).all()
        return [(r.purpose, r.granted, r.source) for r in rows]


def test_stop_is_confirmed_once_then_silence_until_start(runtime: Runtime) -> None:
    (confirmation,) = _turn(runtime, "STOP")
    assert (
        confirmation
        == "You won't get any more messages from Crumb. Send START if you want to talk to us again."
    )
    assert _ledger(runtime) == [("service_replies", False, "keyword")]

    assert _turn(runtime, "When are you open on Sunday?") == []
    assert _turn(runtime, "stop") == []  # no second confirmation, no second record
    assert runtime.retriever.queries == []  # type: ignore[attr-defined]
    assert _ledger(runtime) == [("service_replies", False, "keyword")]

    (welcome,) = _turn(runtime, "START")
    assert welcome == "Welcome back, <PERSON_1>! How can I help?"
    assert _ledger(runtime) == [("service_replies", False, "keyword"), ("service_replies", True, "keyword")]
    assert _turn(runtime, "When are you open on Sunday?") == ["We open at 9."]
    assert runtime.retriever.queries == ["When are you open on Sunday?"]  # type: ignore[attr-defined]
    with session_scope(runtime.engine) as session:
        statuses = [
            m.status
            for m in session.exec(select(Message).order_by(col(Message.id))).all()
            if m.direction == Direction.INBOUND
        ]
    assert statuses == [
        InboundStatus.ANSWERED,
        InboundStatus.RECORDED,
        InboundStatus.RECORDED,
        InboundStatus.ANSWERED,
        InboundStatus.ANSWERED,
    ]


def test_a_child_is_handed_to_a_person_and_gets_no_ai_processing(runtime: Runtime) -> None:
    (notice,) = _turn(runtime, "hi im 13, when are you open?")
    assert notice == "I've asked a member of our team to take over; they will reply here."
    assert runtime.retriever.queries == []  # type: ignore[attr-defined]
    assert runtime.responder.requests == []  # type: ignore[attr-defined]
    assert _ledger(runtime) == [("ai_processing", False, "age_statement")]
    with session_scope(runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
        assert (conversation.status, conversation.handoff_reason) == (
            ConversationStatus.WAITING_FOR_AGENT,
            "under_16",
        )
        # An agent hands it back: the bot still does not process this customer's messages.
        conversation.status = ConversationStatus.BOT
        session.add(conversation)
        assert conversation.contact_id is not None
        contact_id = conversation.contact_id
    assert _turn(runtime, "Do you sell vegan cakes?") == []
    assert runtime.retriever.queries == [] and runtime.responder.requests == []  # type: ignore[attr-defined]
    with session_scope(runtime.engine) as session:
        assert current_consent(session, contact_id)[Purpose.AI_PROCESSING] is False
        # Still a customer: STOP is honoured and confirmed (a fixed text, no AI).
    assert len(_turn(runtime, "STOP")) == 1
