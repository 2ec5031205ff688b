"""Satisfaction: when a conversation is resolved (the customer tapped "That helped", or an agent resolved it
or handed it back) the customer may be asked once for a 1-5 rating, as a WhatsApp list message with five
rows; the row they tap comes back as a list reply and is stored with the conversation.

Asked only inside the 24-hour service window, never after STOP, at most once a conversation (one
`ConversationRating` row each), and only while the business has the survey on (the default)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot.models import (
    AssistantPolicy,
    Conversation,
    ConversationRating,
    Direction,
    Message,
    OutboundStatus,
    ResolvedBy,
)
from bot.turn.policies import within_service_window
from core.db import savepoint, utcnow
from privacy.consent import Purpose, current_consent

log = logging.getLogger(__name__)

# The outbound message kind the outbox sends as an interactive list (`RATING_ROWS`).
RATING_REQUEST_KIND = "rating_request"
# A list row's id is `wepos:rating:<1-5>` (at most 200 characters; a row title at most 24).
RATING_PREFIX = "wepos:rating:"
RATING_ROWS = [
    (f"{RATING_PREFIX}5", "5 - Excellent"),
    (f"{RATING_PREFIX}4", "4 - Good"),
    (f"{RATING_PREFIX}3", "3 - Okay"),
    (f"{RATING_PREFIX}2", "2 - Poor"),
    (f"{RATING_PREFIX}1", "1 - Very poor"),
]
RATING_BUTTON = "Rate us"  # the button that opens the list: at most 20 characters
RATING_REQUEST = (
    "How would you rate the help you got? Tap *Rate us* and choose from 1 (very poor) to 5 (excellent)."
)
HELPED_RATING_REPLY = "Glad that helped{name}! " + RATING_REQUEST
RATING_THANKS = "Thank you for your rating{name}!"


def is_rating_reply(reply_id: str | None) -> bool:
    """Whether a tapped row or button is one of the rating list's (valid or not)."""
    return bool(reply_id) and str(reply_id).startswith(RATING_PREFIX)


def rating_value(reply_id: str | None) -> int | None:
    """1-5 from a rating row's id; None for anything else (another id, a number out of range, junk)."""
    if not is_rating_reply(reply_id):
        return None
    digits = str(reply_id)[len(RATING_PREFIX) :]
    if len(digits) != 1 or digits not in "12345":
        return None
    return int(digits)


def may_ask(session: Session, conversation: Conversation, policy: AssistantPolicy, now: datetime) -> bool:
    """The rules: the business has the survey on, the service window is open, the customer has not sent
    STOP, and they were never asked in this conversation."""
    if not policy.satisfaction_survey_enabled or conversation.id is None:
        return False
    if not within_service_window(conversation.last_inbound_at, now):
        return False
    if not current_consent(session, conversation.contact_id)[Purpose.SERVICE_REPLIES]:
        return False
    asked = session.exec(
        select(func.count())
        .select_from(ConversationRating)
        .where(ConversationRating.conversation_id == conversation.id)
    ).one()
    return not asked


def open_rating(
    session: Session,
    conversation: Conversation,
    policy: AssistantPolicy,
    *,
    agent_user_id: int | None = None,
    resolved_by: ResolvedBy,
) -> ConversationRating | None:
    """Record that the customer is being asked, if the rules allow; None when they do not (or when another
    resolution of the same conversation asked a moment ago). The caller queues the question itself."""
    now = utcnow()
    if not may_ask(session, conversation, policy, now):
        return None
    assert conversation.id is not None
    rating = ConversationRating(
        business_id=conversation.business_id,
        conversation_id=conversation.id,
        resolved_by=resolved_by,
        agent_user_id=agent_user_id if resolved_by is ResolvedBy.AGENT else None,
        asked_at=now,
    )
    try:
        with savepoint(session):
            session.add(rating)
    except IntegrityError:
        return None  # asked by a resolution racing this one: once is enough
    log.info(
        "rating asked",
        extra={
            "business_id": conversation.business_id,
            "conversation_id": conversation.id,
            "resolved_by": resolved_by.value,
        },
    )
    return rating


def ask_after_agent(
    session: Session, conversation: Conversation, policy: AssistantPolicy, *, agent_user_id: int | None
) -> Message | None:
    """An agent resolved the conversation or handed it back: queue the rating question in the outbox, if the
    rules allow (see `may_ask`)."""
    if open_rating(session, conversation, policy, agent_user_id=agent_user_id, resolved_by=ResolvedBy.AGENT):
        assert conversation.id is not None
        message = Message(
            business_id=conversation.business_id,
            conversation_id=conversation.id,
            direction=Direction.OUTBOUND,
            kind=RATING_REQUEST_KIND,
            text_masked=RATING_REQUEST,
            status=OutboundStatus.QUEUED,
        )
        session.add(message)
        session.flush()
        return message
    return None


def record_rating(
    session: Session, message: Message, conversation: Conversation
) -> ConversationRating | None:
    """Store the rating a tapped row carries; None when it is no valid rating or nobody asked for one (or it
    was given already: the first answer stands).

    The tap is no new request for help: a conversation resolved before it stays resolved."""
    value = rating_value(message.reply_id)
    rating = session.exec(
        select(ConversationRating).where(ConversationRating.conversation_id == conversation.id)
    ).first()
    _keep_resolved(session, message, conversation)
    if value is None or rating is None or rating.value is not None:
        reason = "invalid" if value is None else "not asked" if rating is None else "already rated"
        log.info(
            "rating reply ignored",
            extra={"conversation_id": conversation.id, "message_id": message.id, "reason": reason},
        )
        return None
    rating.value = value
    rating.rated_at = utcnow()
    session.add(rating)
    log.info(
        "rating recorded",
        extra={"conversation_id": conversation.id, "rating_id": rating.id},
    )
    return rating


def _keep_resolved(session: Session, message: Message, conversation: Conversation) -> None:
    """A conversation resolved before the customer tapped a rating, with nothing else from them since,
    stays out of the open queues (`bot.desk.inbox` counts a later message as reopening it)."""
    if conversation.resolved_at is None:
        return
    others = session.exec(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.INBOUND,
            col(Message.id) != message.id,
            col(Message.created_at) > conversation.resolved_at,
        )
    ).one()
    if not others:
        latest = conversation.last_inbound_at or message.created_at
        conversation.resolved_at = max(latest, message.created_at)
        session.add(conversation)
