"""Send lanes: turns never wait on the Graph API; each customer's receipt and replies leave in order, once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from api.runtime import Runtime
from bot.channel.outbox import Attempt
from bot.channel.sender import SendLanes
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import Contact, Conversation, Direction, InboundStatus, Message, OutboundStatus
from compliance.data_rights import erase_contact_data
from core.db import session_scope
from testing.graph_api import GraphStandIn
from tests.conftest import make_settings
from tests.helpers import PHONE_NUMBER_ID, demo_runtime, wait_until


@pytest.fixture
def runtime(  # type: ignore[no-untyped-def]
    tmp_path: Path, database_url: str, graph: GraphStandIn, analyzer, embeddings
) -> Iterator[Runtime]:
    settings = make_settings(tmp_path / "var", database_url, whatsapp_api_base=graph.base_url, send_lanes=2)
    rt, _business_id = demo_runtime(settings, analyzer, embeddings)
    yield rt
    graph.gate.set()
    rt.close()


def _receive(runtime: Runtime, *messages: tuple[str, str]) -> list[int]:
    batch = WebhookBatch(
        messages=[
            InboundMessage(PHONE_NUMBER_ID, f"wamid.in-{n}", wa_id, None, "text", text)
            for n, (wa_id, text) in enumerate(messages)
        ]
    )
    return runtime.intake.accept(batch).stored


def _statuses(runtime: Runtime, direction: Direction) -> list[str]:
    with session_scope(runtime.engine) as session:
        rows = session.exec(
            select(Message.status).where(Message.direction == direction).order_by(col(Message.id))
        ).all()
    return list(rows)


def test_turns_go_on_while_the_graph_api_holds_every_send(runtime: Runtime, graph: GraphStandIn) -> None:
    customers = [f"44770090{n:04d}" for n in range(4)]
    _receive(runtime, *[(wa_id, "When are you open on Sunday?") for wa_id in customers])
    graph.gate.clear()  # Meta receives, and answers nothing until the gate opens
    worker = runtime.worker
    worker.start()

    # Every turn is done and its reply queued while not one request to Meta has been answered.
    assert wait_until(lambda: _statuses(runtime, Direction.INBOUND) == [InboundStatus.ANSWERED] * 4)
    assert OutboundStatus.SENT not in _statuses(runtime, Direction.OUTBOUND)

    graph.gate.set()
    assert worker.wait_idle(30)
    assert _statuses(runtime, Direction.OUTBOUND) == [OutboundStatus.SENT] * 4
    for wa_id in customers:
        assert graph.count_to(wa_id) == 1  # one reply each, never twice
    # Each customer's message was marked read before the reply to it was sent.
    for wa_id in customers:
        to_customer = [r for r in graph.requests if r["json"].get("to") == wa_id]
        (reply,) = to_customer
        (read,) = [r for r in graph.reads if r["json"]["message_id"] == _inbound_wamid(runtime, wa_id)]
        assert read["at"] < reply["at"]


def _inbound_wamid(runtime: Runtime, wa_id: str) -> str:
    hashed = runtime.box.lookup_hash(wa_id)
    with session_scope(runtime.engine) as session:
        wamid = session.exec(
            select(Message.wa_message_id)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .join(Contact, col(Contact.id) == col(Conversation.contact_id))
            .where(Contact.wa_id_hash == hashed, Message.direction == Direction.INBOUND)
        ).one()
    assert wamid is not None
    return wamid


def _two_replies(runtime: Runtime) -> tuple[int, int]:
    """Two queued replies to one customer, oldest first (an answer and an agent's follow-up, say)."""
    (message_id,) = _receive(runtime, ("447700900001", "When are you open on Sunday?"))
    outcome = runtime.assistant.handle(message_id)
    assert outcome is not None
    (first,) = outcome.replies
    with session_scope(runtime.engine) as session:
        answer = session.get(Message, first)
        assert answer is not None
        follow_up = Message(
            business_id=answer.business_id,
            conversation_id=answer.conversation_id,
            direction=Direction.OUTBOUND,
            kind="text",
            text_masked="And we bake on Sundays too.",
            status=OutboundStatus.QUEUED,
        )
        session.add(follow_up)
        session.flush()
        assert follow_up.id is not None
        return first, follow_up.id


def _set_status(runtime: Runtime, message_id: int, status: OutboundStatus) -> None:
    with session_scope(runtime.engine) as session:
        row = session.get(Message, message_id)
        assert row is not None
        row.status = status
        session.add(row)


def test_no_deliverer_sends_a_reply_while_an_earlier_one_to_the_customer_is_unsettled(
    runtime: Runtime, graph: GraphStandIn
) -> None:
    first, second = _two_replies(runtime)
    # Another worker process has claimed the first reply and is sending it.
    _set_status(runtime, first, OutboundStatus.SENDING)
    assert runtime.outbox.deliver(second) is Attempt.SKIPPED
    assert _statuses(runtime, Direction.OUTBOUND) == [OutboundStatus.SENDING, OutboundStatus.QUEUED]
    assert graph.sends == []
    # The first is back in the queue (its sender died; the lease ran out): still first.
    _set_status(runtime, first, OutboundStatus.QUEUED)
    assert runtime.outbox.deliver(second) is Attempt.SKIPPED
    assert runtime.outbox.deliver(first) is Attempt.SETTLED
    assert runtime.outbox.deliver(second) is Attempt.SETTLED
    assert [graph.body(r) for r in graph.sends][1] == "And we bake on Sundays too."
    assert _statuses(runtime, Direction.OUTBOUND) == [OutboundStatus.SENT, OutboundStatus.SENT]


def test_lanes_send_a_conversation_in_order_once_and_drain_on_stop(
    runtime: Runtime, graph: GraphStandIn
) -> None:
    first, second = _two_replies(runtime)
    lanes = SendLanes(runtime.outbox, 3)
    lanes.start()
    conversation_id = _conversation_of(runtime, first)
    graph.gate.clear()
    assert lanes.deliver(conversation_id, [first, second]) == 2
    assert lanes.deliver(conversation_id, [first]) == 0  # already in a lane: not handed over twice
    assert lanes.sweep() == 0  # both are in a lane: the sweep hands neither over again
    assert not lanes.wait_drained(0.2)  # Meta holds the first send
    graph.gate.set()
    lanes.stop(30)
    assert [graph.body(r) for r in graph.sends][-1] == "And we bake on Sundays too."
    assert len(graph.sends) == 2
    assert _statuses(runtime, Direction.OUTBOUND) == [OutboundStatus.SENT, OutboundStatus.SENT]


def _conversation_of(runtime: Runtime, message_id: int) -> int:
    with session_scope(runtime.engine) as session:
        row = session.get(Message, message_id)
        assert row is not None
        return row.conversation_id


def test_a_reply_whose_customer_is_erased_while_it_is_out_settles_quietly(
    runtime: Runtime, graph: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    wa_id = "447700900321"
    (message_id,) = _receive(runtime, (wa_id, "When are you open on Sunday?"))
    runtime.assistant.handle(message_id)
    with session_scope(runtime.engine) as session:
        reply_id = session.exec(select(Message.id).where(Message.direction == Direction.OUTBOUND)).one()
    assert reply_id is not None
    graph.gate.clear()  # the request reaches Meta and waits for its answer
    attempts: list[Attempt] = []
    sending = threading.Thread(target=lambda: attempts.append(runtime.outbox.deliver(reply_id)))
    sending.start()
    assert wait_until(lambda: graph.count_to(wa_id) == 1)
    erase_contact_data(runtime.engine, runtime.box, business_id=1, phone=f"+{wa_id}")
    with caplog.at_level(logging.INFO, logger="bot.channel.outbox"):
        graph.gate.set()
        sending.join(30)
    assert attempts == [Attempt.SETTLED]
    assert "reply erased while it was being sent" in [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with session_scope(runtime.engine) as session:
        assert session.exec(select(Message)).all() == []
