"""Per-sender pacing: a customer who sends more than the limit in a window waits in the queue, never dropped.

A turn counts when a worker claims it (`Message.claimed_at`, which stays set once the turn is answered). A
message over the limit is left `received` with `next_attempt_at` at the moment a slot frees up, so it (and
every later message of the conversation, which queue behind it) is answered once the window allows. The first
deferral of a burst queues one polite notice, so the customer knows they were heard.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.models import Conversation, ConversationStatus, Direction, Message, OutboundStatus
from privacy.consent import Purpose, allows

log = logging.getLogger(__name__)

SLOW_DOWN_REPLY = (
    "You're sending us a lot of messages at once. We've got every one of them and will answer them all "
    "in order in a moment."
)


class SenderRateLimit:
    """At most `per_window` turns for one customer in any `window`; 0 turns the limit off."""

    def __init__(self, per_window: int, window: timedelta = timedelta(minutes=1)) -> None:
        self.per_window = per_window
        self.window = window

    def defer_over_limit(
        self, session: Session, candidates: Sequence[tuple[Message, int]], now: datetime
    ) -> set[int]:
        """Leave each (message, its sender's contact id) whose sender is over the limit queued until a slot
        frees up; returns the ids of those deferred. One query counts every sender's turns in the window:
        a conversation read and a count for each message were a third of a claim's statements."""
        if self.per_window <= 0 or not candidates:
            return set()
        since = now - self.window
        contacts = sorted({contact_id for _message, contact_id in candidates})
        windows = {
            contact_id: (count, oldest)
            for contact_id, count, oldest in session.exec(
                select(
                    col(Conversation.contact_id),
                    func.count(col(Message.id)),
                    func.min(col(Message.claimed_at)),
                )
                .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
                .where(
                    col(Conversation.contact_id).in_(contacts),
                    col(Message.direction) == Direction.INBOUND,
                    col(Message.claimed_at) >= since,
                )
                .group_by(col(Conversation.contact_id))
            ).all()
        }
        deferred = set()
        for message, contact_id in candidates:
            count, oldest = windows.get(contact_id, (0, None))
            if count < self.per_window or oldest is None:
                continue
            if oldest.tzinfo is None:  # an aggregate may come back without the column's time zone
                oldest = oldest.replace(tzinfo=UTC)
            self._defer(session, message, count, oldest, now)
            assert message.id is not None
            deferred.add(message.id)
        return deferred

    def _defer(self, session: Session, message: Message, count: int, oldest: datetime, now: datetime) -> None:
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None and conversation.id is not None
        message.next_attempt_at = max(oldest + self.window, now + timedelta(milliseconds=100))
        session.add(message)
        noticed = self._notice(session, message, conversation, burst_started=oldest)
        log.info(
            "turn deferred: sender over the rate limit",
            extra={
                "message_id": message.id,
                "conversation_id": conversation.id,
                "turns_in_window": count,
                "notice": noticed,
            },
        )

    def _notice(
        self, session: Session, message: Message, conversation: Conversation, *, burst_started: datetime
    ) -> bool:
        """Queue the one "slow down" notice of this burst, when the bot is the one talking."""
        assert conversation.contact_id is not None
        already = session.exec(
            select(Message.id).where(
                col(Message.conversation_id) == conversation.id,
                col(Message.direction) == Direction.OUTBOUND,
                col(Message.text_masked) == SLOW_DOWN_REPLY,
                col(Message.created_at) >= burst_started,
            )
        ).first()
        if (
            already is not None
            or conversation.status != ConversationStatus.BOT
            or not allows(session, conversation.contact_id, Purpose.SERVICE_REPLIES)
            or not allows(session, conversation.contact_id, Purpose.AI_PROCESSING)
        ):
            return False
        session.add(
            Message(
                business_id=message.business_id,
                conversation_id=conversation.id,  # type: ignore[arg-type]
                direction=Direction.OUTBOUND,
                kind="text",
                text_masked=SLOW_DOWN_REPLY,
                status=OutboundStatus.QUEUED,
                in_reply_to_id=message.id,
            )
        )
        return True
