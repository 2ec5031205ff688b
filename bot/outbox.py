"""The outbox: queued replies are unmasked only at the moment of sending, retried with backoff when the
Graph API fails, and printed (masked) in console mode when the business has no access token."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, or_, select

from bot.models import Contact, Conversation, Direction, Message, OutboundStatus
from bot.whatsapp import CloudAPIClient
from core.crypto import SecretBox
from core.db import session_scope, utcnow
from core.errors import ChannelError
from core.tenants import Business
from privacy.masker import Masker
from privacy.vault import VaultScope

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter: 1 s, 2 s, 4 s ... capped at 5 minutes."""
    return random.uniform(0.5, 1.0) * min(300.0, 2.0 ** (attempt - 1))


class Outbox:
    def __init__(
        self,
        *,
        engine: Engine,
        box: SecretBox,
        masker: Masker,
        client: CloudAPIClient,
        console: Callable[[str], None] = print,
    ) -> None:
        self._engine = engine
        self._box = box
        self._masker = masker
        self._client = client
        self._console = console

    def deliver_due(self, limit: int = 100) -> int:
        """Send every queued reply whose time has come, oldest first. Returns how many were handled."""
        with session_scope(self._engine) as session:
            due = session.exec(
                select(Message.id)
                .where(Message.direction == Direction.OUTBOUND, Message.status == OutboundStatus.QUEUED)
                .where(or_(col(Message.next_attempt_at).is_(None), col(Message.next_attempt_at) <= utcnow()))
                .order_by(col(Message.id))
                .limit(limit)
            ).all()
        for message_id in due:
            if message_id is not None:
                self.deliver(message_id)
        return len(due)

    def deliver(self, message_id: int) -> None:
        with session_scope(self._engine) as session:
            message = session.get(Message, message_id)
            if message is None or message.status != OutboundStatus.QUEUED:
                return
            conversation = session.get(Conversation, message.conversation_id)
            business = session.get(Business, message.business_id)
            assert conversation is not None and business is not None and conversation.id is not None
            contact = session.get(Contact, conversation.contact_id)
            assert contact is not None and business.id is not None
            message.attempts += 1
            message.updated_at = utcnow()
            if business.access_token_sealed is None:
                self._console(f"[console] reply for conversation {conversation.id}: {message.text_masked}")
                message.status = OutboundStatus.PRINTED
                session.add(message)
                return
            token = self._box.open(business.access_token_sealed)
            body = self._masker.unmask(
                session,
                message.text_masked or "",
                [VaultScope.conversation(conversation.id), VaultScope.knowledge(business.id)],
            )
            to = self._box.open(contact.wa_id_sealed)
            try:
                wa_id = self._client.send_text(
                    phone_number_id=business.phone_number_id, token=token, to=to, body=body
                )
            except ChannelError as exc:
                self._record_failure(message, exc)
            else:
                message.wa_message_id = wa_id
                message.status = OutboundStatus.SENT
                message.sent_at = utcnow()
                message.error_code = None
                message.error_title = None
            session.add(message)
            inbound = session.get(Message, message.in_reply_to_id) if message.in_reply_to_id else None
        log.info(
            "outbound delivery",
            extra={"message_id": message_id, "status": message.status, "attempts": message.attempts},
        )
        if inbound is not None and inbound.wa_message_id and message.status == OutboundStatus.SENT:
            self._mark_read(business, token, inbound.wa_message_id)

    def _record_failure(self, message: Message, exc: ChannelError) -> None:
        message.error_code = exc.graph_code
        message.error_title = exc.message[:255]
        if exc.retryable and message.attempts < MAX_ATTEMPTS:
            message.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(message.attempts))
        else:
            message.status = OutboundStatus.FAILED
        log.warning(
            "send failed",
            extra={
                "message_id": message.id,
                "retryable": exc.retryable,
                "graph_code": exc.graph_code,
                "attempts": message.attempts,
            },
        )

    def _mark_read(self, business: Business, token: str, wa_message_id: str) -> None:
        """Best effort: a failed read receipt is logged, never retried and never blocks a reply."""
        try:
            self._client.mark_read(
                phone_number_id=business.phone_number_id, token=token, message_id=wa_message_id
            )
        except ChannelError as exc:
            log.info("mark-read failed", extra={"business_id": business.id, "retryable": exc.retryable})
