"""One turn of the conversation: unseal -> mask -> retrieve -> answer -> queue the reply.

Runs without FastAPI: it takes its parts in the constructor.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.models import (
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
)
from bot.responders import AnswerRequest, Responder
from bot.whatsapp import split_text
from core.crypto import SecretBox
from core.db import session_scope, utcnow
from core.tenants import Business
from privacy.detect import KnownValue
from privacy.masker import Masker
from privacy.redaction import record_redactions
from privacy.vault import VaultScope
from retrieval.search import Retriever

log = logging.getLogger(__name__)

UNSUPPORTED_REPLY = (
    "Thanks{name}! I can only read text messages for now. "
    "Please type your question and I'll answer from {business}'s information."
)


@dataclass(frozen=True)
class TurnOutcome:
    message_id: int
    replies: list[int]
    confident: bool | None = None


class Assistant:
    """Handles one stored inbound message and queues its reply in the outbox (sent by `Outbox`)."""

    def __init__(
        self,
        *,
        engine: Engine,
        box: SecretBox,
        masker: Masker,
        retriever: Retriever,
        responder: Responder,
        min_confidence: float,
        history_turns: int = 6,
    ) -> None:
        self._engine = engine
        self._box = box
        self._masker = masker
        self._retriever = retriever
        self._responder = responder
        self._min_confidence = min_confidence
        self._history_turns = history_turns

    def handle(self, message_id: int) -> TurnOutcome | None:
        """Answer one inbound message. Returns None when there was nothing (more) to do."""
        started = time.perf_counter()
        with session_scope(self._engine) as session:
            message = session.get(Message, message_id)
            if message is None or message.status not in (InboundStatus.RECEIVED, InboundStatus.PROCESSING):
                return None
            conversation = session.get(Conversation, message.conversation_id)
            business = session.get(Business, message.business_id)
            assert conversation is not None and business is not None and conversation.id is not None
            contact = session.get(Contact, conversation.contact_id)
            assert contact is not None
            scope = VaultScope.conversation(conversation.id)
            customer, known = self._known_values(session, scope, contact)

            masked_question = ""
            if message.text_sealed is not None:
                mask = self._masker.mask(session, self._box.open(message.text_sealed), scope, known=known)
                masked_question = mask.text
                message.text_masked = mask.text
                message.text_sealed = None
                assert message.id is not None
                record_redactions(
                    session,
                    business_id=business.id or 0,
                    source_kind="message",
                    source_id=message.id,
                    spans=mask.spans,
                )

            confident: bool | None = None
            sources: list[int] = []
            if masked_question.strip():
                history = self._history(session, conversation.id, before=message_id)
                passages = self._retriever.search(business.id or 0, masked_question)
                answer = self._responder.answer(
                    AnswerRequest(
                        question=masked_question,
                        passages=passages,
                        business_name=business.display_name,
                        customer=customer,
                        history=history,
                        min_confidence=self._min_confidence,
                    )
                )
                reply_text, confident = answer.text, answer.confident
                sources = [p.document_id for p in answer.sources]
                if not confident:
                    # The handoff workflow builds on this flag; the bot keeps answering meanwhile.
                    conversation.status = ConversationStatus.WAITING_FOR_AGENT
                    conversation.handoff_reason = "low_confidence"
                    session.add(conversation)
                top_score = passages[0].score if passages else None
            else:
                reply_text = UNSUPPORTED_REPLY.format(
                    name=f", {customer}" if customer else "", business=business.display_name
                )
                top_score = None

            replies = []
            for part in split_text(reply_text):
                reply = Message(
                    business_id=message.business_id,
                    conversation_id=conversation.id,
                    direction=Direction.OUTBOUND,
                    kind="text",
                    text_masked=part,
                    status=OutboundStatus.QUEUED,
                    in_reply_to_id=message.id,
                    sources=json.dumps(sources) if sources else None,
                    confidence=round(top_score, 4) if top_score is not None else None,
                )
                session.add(reply)
                replies.append(reply)
            message.status = InboundStatus.ANSWERED
            message.updated_at = utcnow()
            session.add(message)
            session.flush()
            reply_ids = [r.id for r in replies if r.id is not None]
        log.info(
            "turn handled",
            extra={
                "message_id": message_id,
                "conversation_id": conversation.id,
                "replies": len(reply_ids),
                "confident": confident,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return TurnOutcome(message_id, reply_ids, confident)

    def _known_values(
        self, session: Session, scope: VaultScope, contact: Contact
    ) -> tuple[str | None, list[KnownValue]]:
        """The sender's number and profile name are personal data wherever they appear."""
        known = [KnownValue("PHONE_NUMBER", self._box.open(contact.wa_id_sealed))]
        customer = None
        if contact.profile_name_sealed:
            name = self._box.open(contact.profile_name_sealed).strip()
            if name:
                customer = self._masker.vault.placeholder_for(session, scope, "PERSON", name)
                known.append(KnownValue("PERSON", name))
                # "I'm Maria" from a "Maria Lopez": each name part on its own is the person too.
                known.extend(
                    KnownValue("PERSON", part) for part in name.split() if len(part) >= 3 and part.isalpha()
                )
        return customer, known

    def _history(self, session: Session, conversation_id: int, *, before: int) -> list[tuple[str, str]]:
        rows = session.exec(
            select(Message)
            .where(Message.conversation_id == conversation_id, col(Message.id) < before)
            .where(col(Message.text_masked).is_not(None))
            .order_by(col(Message.id).desc())
            .limit(self._history_turns)
        ).all()
        return [
            ("customer" if row.direction == Direction.INBOUND else "assistant", row.text_masked or "")
            for row in reversed(rows)
        ]
