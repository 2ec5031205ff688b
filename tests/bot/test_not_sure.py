"""A "not sure" offers a person and keeps the bot in the chat; the third in a row, or a business's strict
setting, hands the conversation over; an answer in between starts the count again."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.desk.conversations import configure_policy
from bot.models import OFFER_KIND, Conversation, ConversationStatus, Message
from bot.turn.assistant import NOT_SURE_OFFERS
from bot.turn.responders import Answer, AnswerRequest, not_sure
from core.db import session_scope
from core.tenants import create_business
from tests.conftest import make_settings
from tests.fakes import NoPassages

_ids = itertools.count()


class SureOnlyOfHours:
    """Knows the opening hours and nothing else."""

    def answer(self, request: AnswerRequest) -> Answer:
        if "open" in request.question:
            return Answer("We open at 9.", True)
        return not_sure(request)


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, mock_analyzer, mock_embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(
        make_settings(tmp_path / "var", database_url),
        analyzer=mock_analyzer,
        embeddings=mock_embeddings,
        retriever=NoPassages(),
        responder=SureOnlyOfHours(),
        console=print,
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box, display_name="Crumb")
    yield rt
    rt.close()


def _turn(runtime: Runtime, text: str) -> list[tuple[str, str]]:
    """One customer message handled; the (kind, masked text) of each reply it queued."""
    batch = WebhookBatch(
        messages=[InboundMessage("42", f"wamid.{next(_ids)}", "447700900123", "Maria Lopez", "text", text)]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)
    with session_scope(runtime.engine) as session:
        replies = session.exec(
            select(Message).where(Message.in_reply_to_id == message_id).order_by(col(Message.id))
        ).all()
        return [(r.kind, r.text_masked or "") for r in replies]


def _status(runtime: Runtime) -> tuple[str, str | None]:
    with session_scope(runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
        return conversation.status, conversation.handoff_reason


def test_not_sure_offers_a_person_twice_and_hands_over_the_third_time_in_a_row(runtime: Runtime) -> None:
    assert NOT_SURE_OFFERS == 2
    for question in ("Do you sell gift cards?", "Any gift vouchers then?"):
        ((kind, text),) = _turn(runtime, question)
        assert kind == OFFER_KIND and "not sure" in text and "Talk to a person" in text
        assert _status(runtime) == (ConversationStatus.BOT, None)
    ((kind, text),) = _turn(runtime, "What about a present card?")
    assert kind == "text" and "take over" in text
    assert _status(runtime) == (ConversationStatus.WAITING_FOR_AGENT, "low_confidence")


def test_an_answer_between_two_not_sures_starts_the_count_again(runtime: Runtime) -> None:
    assert _turn(runtime, "Do you sell gift cards?")[0][0] == OFFER_KIND
    assert _turn(runtime, "When do you open?") == [("interactive", "We open at 9.")]
    assert _turn(runtime, "Do you sell gift cards?")[0][0] == OFFER_KIND
    assert _turn(runtime, "And vouchers?")[0][0] == OFFER_KIND
    assert _status(runtime) == (ConversationStatus.BOT, None)


def test_the_strict_setting_hands_the_first_not_sure_over(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        configure_policy(session, business_id=1, not_sure_hands_over=True)
    ((kind, text),) = _turn(runtime, "Do you sell gift cards?")
    assert kind == "text" and "not sure" in text and "take over" in text
    assert _status(runtime) == (ConversationStatus.WAITING_FOR_AGENT, "low_confidence")
