"""A template send by an agent: its values masked at rest like an agent's reply, restored only in the send
to Meta with the template's components; shown in the transcript by name and body; refused when wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select, update

from api.runtime import Runtime
from bot.channel.outbox import Attempt
from bot.channel.templates import TemplateSend, parse_template
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.desk.conversations import queue_agent_reply, queue_template_reply
from bot.desk.inbox import conversation_view
from bot.models import Conversation, Message, OutboundStatus
from core.db import session_scope, utcnow
from core.errors import InvalidInput
from core.tenants import create_business
from testing.graph_api import GraphStandIn
from tests.conftest import make_settings
from tests.helpers import ORDER_READY, PHONE_NUMBER_ID, WABA_ID

CUSTOMER = "447700900123"


@pytest.fixture
def runtime(  # type: ignore[no-untyped-def]
    tmp_path: Path, database_url: str, graph: GraphStandIn, analyzer, mock_embeddings
) -> Iterator[Runtime]:
    settings = make_settings(tmp_path / "var", database_url, whatsapp_api_base=graph.base_url)
    rt = Runtime(settings, analyzer=analyzer, embeddings=mock_embeddings)
    with session_scope(rt.engine) as session:
        create_business(
            session,
            name="crumb",
            phone_number_id=PHONE_NUMBER_ID,
            box=rt.box,
            access_token="EAAtest-token",
            waba_id=WABA_ID,
        )
    yield rt
    rt.close()


def _closed_conversation(runtime: Runtime) -> tuple[int, int]:
    """A conversation whose customer last wrote 25 hours ago: (business id, conversation id)."""
    batch = WebhookBatch(
        messages=[InboundMessage(PHONE_NUMBER_ID, "wamid.in-1", CUSTOMER, None, "text", "hi")]
    )
    runtime.intake.accept(batch)
    with session_scope(runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
        session.exec(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(last_inbound_at=utcnow() - timedelta(hours=25))
        )
        assert conversation.id is not None
        return conversation.business_id, conversation.id


def test_values_are_masked_at_rest_and_restored_only_in_the_send(
    runtime: Runtime, graph: GraphStandIn
) -> None:
    business_id, conversation_id = _closed_conversation(runtime)
    template = parse_template(ORDER_READY)
    assert template is not None
    with session_scope(runtime.engine) as session:
        with pytest.raises(InvalidInput, match="24-hour window"):
            queue_agent_reply(
                session,
                business_id=business_id,
                conversation_id=conversation_id,
                text="Hello Maria Lopez",
                masker=runtime.masker,
            )
        message = queue_template_reply(
            session,
            business_id=business_id,
            conversation_id=conversation_id,
            template=template,
            values=["Maria Lopez", "A-17"],
            masker=runtime.masker,
        )
        message_id = message.id
    with session_scope(runtime.engine) as session:
        stored = session.get(Message, message_id)
        assert stored is not None and stored.kind == "template" and stored.status == OutboundStatus.QUEUED
        assert "Maria" not in (stored.text_masked or "")
        assert TemplateSend.from_json(stored.text_masked) == TemplateSend(
            name="order_ready",
            language="en_US",
            variables=("1", "2"),
            values=("<PERSON_1>", "A-17"),
            named=False,
            body="Hello <PERSON_1>, your order A-17 is ready for collection.",
        )
        view = conversation_view(session, business_id=business_id, conversation_id=conversation_id)
        assert (
            view.lines[-1].text
            == "order_ready (en_US): Hello <PERSON_1>, your order A-17 is ready for collection."
        )

    assert runtime.outbox.deliver(message_id or 0) is Attempt.SETTLED
    (sent,) = graph.template_sends
    assert sent["json"]["to"] == CUSTOMER
    assert sent["json"]["template"] == {
        "name": "order_ready",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Maria Lopez"}, {"type": "text", "text": "A-17"}],
            }
        ],
    }
    with session_scope(runtime.engine) as session:
        stored = session.get(Message, message_id)
        assert stored is not None and stored.status == OutboundStatus.SENT and stored.wa_message_id


def test_a_wrong_number_of_values_queues_nothing(runtime: Runtime) -> None:
    business_id, conversation_id = _closed_conversation(runtime)
    template = parse_template(ORDER_READY)
    assert template is not None
    with session_scope(runtime.engine) as session:
        with pytest.raises(InvalidInput, match="2 variable"):
            queue_template_reply(
                session,
                business_id=business_id,
                conversation_id=conversation_id,
                template=template,
                values=["Maria Lopez"],
                masker=runtime.masker,
            )
        assert session.exec(select(Message).where(Message.direction == "out")).first() is None
