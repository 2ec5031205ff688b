"""Contacts, conversations and messages. Message text is stored masked; originals sit in the vault."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint, false, true
from sqlmodel import Field, Session, SQLModel, select

import core.staff  # noqa: F401  (the staff_user table that assignments and notes name)
from core.db import utcnow

DEFAULT_RETENTION_DAYS = 365


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class InboundStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet handled; text still sealed
    PROCESSING = "processing"
    ANSWERED = "answered"
    RECORDED = "recorded"  # kept for the record, not answered (reactions, system messages)
    FAILED = "failed"


class OutboundStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by one deliverer; back to queued if the process dies mid-call
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    PRINTED = "printed"  # console mode: no access token, so shown instead of sent


# Delivery status only moves forward: a late "delivered" never undoes "read".
OUTBOUND_RANK = {
    OutboundStatus.QUEUED: 0,
    OutboundStatus.SENDING: 0,
    OutboundStatus.PRINTED: 1,
    OutboundStatus.SENT: 1,
    OutboundStatus.DELIVERED: 2,
    OutboundStatus.READ: 3,
    OutboundStatus.FAILED: 4,
}


class ConversationStatus(StrEnum):
    BOT = "bot"
    WAITING_FOR_AGENT = "waiting_for_agent"


class Contact(SQLModel, table=True):
    """A WhatsApp user of one business. Number and profile name are encrypted; the hash finds them."""

    __table_args__ = (UniqueConstraint("business_id", "wa_id_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    wa_id_hash: str = Field(max_length=64)
    wa_id_sealed: str
    profile_name_sealed: str | None = None
    # STOP, START and what else the customer allowed live in the consent ledger (privacy.consent).
    # When the first-contact privacy notice was queued; an erased contact is a new one, and is told again.
    privacy_notice_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    status: str = Field(default=ConversationStatus.BOT, max_length=32)
    handoff_reason: str | None = Field(default=None, max_length=64)
    # Turns in a row the bot could not help with; two escalate.
    failed_turns: int = 0
    last_inbound_at: datetime | None = None
    # The agent who claimed it (console); cleared when it goes back to the bot.
    assigned_user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    # When an agent marked it resolved; a later message from the customer reopens it.
    resolved_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


# The kind of an outbound "not sure" that offers a person with a button while the bot stays in the chat.
OFFER_KIND = "offer"


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    direction: str = Field(max_length=8)
    # Unique: a webhook delivered twice stores one message.
    wa_message_id: str | None = Field(default=None, max_length=255, unique=True)
    kind: str = Field(max_length=32)  # inbound: WhatsApp's type; outbound: text, interactive, offer, template
    text_masked: str | None = None
    # Inbound text between receipt and masking, encrypted; cleared once masked.
    text_sealed: str | None = None
    status: str = Field(max_length=16, index=True)
    error_code: int | None = None
    error_title: str | None = Field(default=None, max_length=255)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    # When a worker claimed the row (processing / sending); an old claim is a dead worker's, and is retaken.
    claimed_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)  # host:pid of the claiming process
    in_reply_to_id: int | None = Field(default=None, foreign_key="message.id")
    reply_id: str | None = Field(default=None, max_length=256)  # id of the tapped button or list row
    sources: str | None = Field(default=None, max_length=500)  # document ids the answer came from
    # The approved answer sent (retrieval.approved); no foreign key: the id stays when the answer is deleted.
    approved_answer_id: int | None = None
    # A bot reply's passages (JSON: document id, section, score) and its confidence, shown to agents.
    evidence: str | None = Field(default=None, max_length=2000)
    confidence: float | None = None
    # An agent flagged this bot reply as wrong: its question joins the ones the bot could not answer.
    flagged_wrong_at: datetime | None = None
    # On an inbound message: why its turn went to a person (analytics count these; a handback keeps them).
    handoff_reason: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AssistantPolicy(SQLModel, table=True):
    """How the assistant behaves for one business. JSON lists are stored as text to suit both databases."""

    __tablename__ = "assistant_policy"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", unique=True)
    instructions: str = Field(default="", max_length=4000)  # tone, language, topics to avoid: for the LLM
    escalation_keywords: str = Field(default="[]", max_length=4000)  # extra phrases that mean "a person"
    refuse_topics: str = Field(default="[]", max_length=4000)  # topics handed to a person, never answered
    # {"mon": ["09:00", "17:00"], ...}; "{}" means always staffed.
    business_hours: str = Field(default="{}", max_length=1000)
    timezone: str = Field(default="UTC", max_length=64)
    # Conversations idle longer than this are purged (messages, originals, redaction log): `wepos retention`.
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, sa_column_kwargs={"server_default": "365"})
    # The privacy notice a new contact gets once, before the first answer (off until the business turns it
    # on); an empty text means the default built from the business's name (bot.turn.transparency).
    privacy_notice_enabled: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    privacy_notice: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": ""})
    # Who customers can reach about their data (the compliance officer's e-mail or phone), shown in the notice.
    compliance_contact: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    # A "not sure" hands the conversation to a person at once (the strict behaviour) instead of offering one
    # with a button while the bot goes on answering (the default).
    not_sure_hands_over: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Ask the customer once for a 1-5 rating when a conversation is resolved (bot.turn.satisfaction).
    satisfaction_survey_enabled: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    updated_at: datetime = Field(default_factory=utcnow)


def policy_for(session: Session, business_id: int) -> AssistantPolicy:
    """The business's assistant policy, or the defaults when it never set one."""
    policy = session.exec(select(AssistantPolicy).where(AssistantPolicy.business_id == business_id)).first()
    return policy or AssistantPolicy(business_id=business_id)


class ConversationNote(SQLModel, table=True):
    """An agent's private note on a conversation: never sent, masked like everything stored."""

    __tablename__ = "conversation_note"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    author_user_id: int = Field(foreign_key="staff_user.id")
    text_masked: str = Field(max_length=8000)
    created_at: datetime = Field(default_factory=utcnow)


class ResolvedBy(StrEnum):
    BOT = "bot"  # the customer tapped "That helped"
    AGENT = "agent"  # a person resolved the conversation or handed it back


class ConversationRating(SQLModel, table=True):
    """The customer's 1-5 rating of a resolved conversation. One row a conversation: written when the
    customer is asked (so they are asked at most once), given its value when they answer."""

    __tablename__ = "conversation_rating"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    conversation_id: int = Field(foreign_key="conversation.id", unique=True)
    resolved_by: str = Field(max_length=8)  # ResolvedBy
    # The agent who resolved it; None when the bot did (or a command with no user handed it back).
    agent_user_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    asked_at: datetime = Field(default_factory=utcnow)
    value: int | None = None  # 1-5 once the customer answered
    rated_at: datetime | None = None


class CannedReply(SQLModel, table=True):
    """A reply agents pick instead of typing; the business's admin keeps the list."""

    __tablename__ = "canned_reply"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    title: str = Field(max_length=100)
    body: str = Field(max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)


class MessagePublic(SQLModel):
    id: int
    conversation_id: int
    direction: Direction
    kind: str
    text_masked: str | None
    status: str
    created_at: datetime
