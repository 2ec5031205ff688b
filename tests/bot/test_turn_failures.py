"""A turn that keeps failing is never silent: after its last attempt a person takes the conversation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select, update

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.channel.worker import MAX_TURN_ATTEMPTS
from bot.models import Conversation, ConversationStatus, Direction, InboundStatus, Message
from bot.turn.assistant import HANDOFF_REPLY
from bot.turn.responders import Answer, AnswerRequest
from core.db import session_scope, utcnow
from core.metrics import HANDOFFS, TURN_FAILURES
from core.tenants import create_business
from tests.conftest import make_settings


class BrokenResponder:
    """Where a language model would sit: this one always fails."""

    def answer(self, request: AnswerRequest) -> Answer:
        raise TimeoutError("the model did not answer")


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, mock_analyzer, mock_embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    printed: list[str] = []
    # No send lanes: the worker's run_once sends the replies itself.
    rt = Runtime(
        make_settings(tmp_path / "var", database_url, send_lanes=0),
        analyzer=mock_analyzer,
        embeddings=mock_embeddings,
        responder=BrokenResponder(),
        console=printed.append,
    )
    rt.printed = printed  # type: ignore[attr-defined]
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box)
    yield rt
    rt.close()


def _receive(runtime: Runtime, wamid: str, text: str) -> int:
    batch = WebhookBatch(messages=[InboundMessage("42", wamid, "447700900123", "Maria Lopez", "text", text)])
    (message_id,) = runtime.intake.accept(batch).stored
    return message_id


def _run_attempt(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:  # the backoff's wait, skipped
        session.exec(update(Message).values(next_attempt_at=None))  # type: ignore[call-overload]
    runtime.worker.run_once()


def test_a_turn_failing_every_attempt_hands_the_conversation_to_a_person_and_tells_the_customer_once(
    runtime: Runtime,
) -> None:
    failures = TURN_FAILURES.labels("TimeoutError")._value.get()
    handoffs = HANDOFFS.labels("bot_error")._value.get()
    message_id = _receive(runtime, "wamid.1", "Do you deliver on Sundays?")
    for attempt in range(1, MAX_TURN_ATTEMPTS):
        _run_attempt(runtime)
        with session_scope(runtime.engine) as session:
            message = session.get(Message, message_id)
            assert message is not None
            assert (message.status, message.attempts) == (InboundStatus.RECEIVED, attempt)
            # Waits that a dependency's restart outlasts: 2-4 s, 4-8 s, 8-16 s, 16-32 s (30-60 s in all).
            assert message.next_attempt_at is not None
            wait = (message.next_attempt_at - utcnow()).total_seconds()
            assert 2**attempt - 0.5 < wait <= 2 ** (attempt + 1)
    assert runtime.printed == []  # type: ignore[attr-defined]

    _run_attempt(runtime)
    with session_scope(runtime.engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        assert (message.status, message.handoff_reason, message.error_title) == (
            InboundStatus.FAILED,
            "bot_error",
            "TimeoutError",
        )
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        assert (conversation.status, conversation.handoff_reason) == (
            ConversationStatus.WAITING_FOR_AGENT,
            "bot_error",
        )
    assert runtime.printed == [f"[console] reply for conversation 1: {HANDOFF_REPLY}"]  # type: ignore[attr-defined]
    assert TURN_FAILURES.labels("TimeoutError")._value.get() == failures + MAX_TURN_ATTEMPTS
    assert HANDOFFS.labels("bot_error")._value.get() == handoffs + 1

    # The customer writes again: a person has the conversation now, so nothing fails and nothing more is sent.
    later = _receive(runtime, "wamid.2", "Hello?")
    _run_attempt(runtime)
    with session_scope(runtime.engine) as session:
        message = session.get(Message, later)
        assert message is not None and message.status == InboundStatus.RECORDED
        outbound = session.exec(select(Message).where(Message.direction == Direction.OUTBOUND)).all()
    assert [m.text_masked for m in outbound] == [HANDOFF_REPLY]
    assert len(runtime.printed) == 1  # type: ignore[attr-defined]
