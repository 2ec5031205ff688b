"""Claimed work goes back to the queue when its process is known dead (at once) or its lease ran out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from api.runtime import Runtime
from bot.channel.outbox import claim_owner
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.channel.worker import release_claims_of
from bot.models import Direction, InboundStatus, Message, OutboundStatus
from core.db import session_scope, utcnow
from core.tenants import create_business
from tests.conftest import make_settings

DEAD, ALIVE = claim_owner(pid=999_999), claim_owner()


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, mock_analyzer, mock_embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path / "var", database_url, worker_lease_s=60)
    rt = Runtime(settings, analyzer=mock_analyzer, embeddings=mock_embeddings)
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box)
    yield rt
    rt.close()


def _claimed_rows(runtime: Runtime) -> dict[str, int]:
    """Four customers' messages, each claimed: turns and replies of a dead process and of a live one, claimed
    two minutes ago (past the lease) or now. Their ids by name."""
    messages = [InboundMessage("42", f"wamid.{n}", f"4477009001{n:02}", "", "text", "hi") for n in range(4)]
    stored = runtime.intake.accept(WebhookBatch(messages=messages)).stored
    ids: dict[str, int] = {}
    with session_scope(runtime.engine) as session:
        for message_id, (owner, age) in zip(
            stored, [(DEAD, 0), (ALIVE, 0), (ALIVE, 120), (DEAD, 120)], strict=True
        ):
            inbound = session.get(Message, message_id)
            assert inbound is not None
            inbound.status, inbound.claimed_by = InboundStatus.PROCESSING, owner
            inbound.claimed_at = utcnow() - timedelta(seconds=age)
            reply = Message(
                business_id=inbound.business_id,
                conversation_id=inbound.conversation_id,
                direction=Direction.OUTBOUND,
                kind="text",
                text_masked="hello",
                status=OutboundStatus.SENDING,
                claimed_by=owner,
                claimed_at=inbound.claimed_at,
                in_reply_to_id=message_id,
            )
            session.add(reply)
            name = f"{'dead' if owner == DEAD else 'alive'}-{'old' if age else 'new'}"
            session.flush()
            ids[name], ids[f"{name}-reply"] = message_id, reply.id or 0
    return ids


def _statuses(session: Session) -> dict[int, str]:
    return {m.id or 0: m.status for m in session.exec(select(Message).order_by(col(Message.id)))}


def test_a_dead_process_s_claims_and_expired_claims_go_back_to_the_queue_and_no_other(
    runtime: Runtime,
) -> None:
    ids = _claimed_rows(runtime)
    assert release_claims_of(runtime.engine, DEAD) == 4  # its two turns and two replies, whatever their age
    with session_scope(runtime.engine) as session:
        statuses = _statuses(session)
    assert statuses[ids["dead-new"]] == statuses[ids["dead-old"]] == InboundStatus.RECEIVED
    assert statuses[ids["dead-new-reply"]] == statuses[ids["dead-old-reply"]] == OutboundStatus.QUEUED
    assert statuses[ids["alive-new"]] == statuses[ids["alive-old"]] == InboundStatus.PROCESSING

    assert runtime.worker.reclaim_expired() == 2  # the live process's claim past the lease: turn and reply
    with session_scope(runtime.engine) as session:
        statuses = _statuses(session)
    assert statuses[ids["alive-old"]] == InboundStatus.RECEIVED
    assert statuses[ids["alive-old-reply"]] == OutboundStatus.QUEUED
    assert statuses[ids["alive-new"]] == InboundStatus.PROCESSING
    assert statuses[ids["alive-new-reply"]] == OutboundStatus.SENDING
