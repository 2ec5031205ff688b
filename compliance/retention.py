"""Retention: conversations idle longer than their business allows are purged (messages, originals in the
vault, redaction log). Contacts and their consent stay, so a STOP still holds after the purge."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bot.models import Conversation, Message, policy_for
from compliance.data_rights import PurgeCounts, purge_conversations
from core.db import scrub_deleted_rows, session_scope, utcnow
from core.tenants import Business

log = logging.getLogger(__name__)

DAY = timedelta(days=1)


@dataclass
class RetentionReport:
    """What one run purged, per business id."""

    purged: dict[int, PurgeCounts] = field(default_factory=dict)

    @property
    def conversations(self) -> int:
        return sum(counts.conversations for counts in self.purged.values())

    @property
    def messages(self) -> int:
        return sum(counts.messages for counts in self.purged.values())


def expired_conversations(session: Session, *, business_id: int, cutoff: datetime) -> list[int]:
    """Conversations of a business whose last activity (newest message, else creation) is before `cutoff`."""
    last = (
        select(Message.conversation_id, func.max(Message.updated_at).label("last_activity"))
        .group_by(col(Message.conversation_id))
        .subquery()
    )
    rows = session.exec(
        select(Conversation.id)
        .outerjoin(last, last.c.conversation_id == Conversation.id)
        .where(
            Conversation.business_id == business_id,
            func.coalesce(last.c.last_activity, Conversation.created_at) < cutoff,
        )
        .order_by(col(Conversation.id))
    ).all()
    return [row for row in rows if row is not None]


def run_retention(engine: Engine, *, now: datetime | None = None) -> RetentionReport:
    """Purge every business's expired conversations, one transaction per business."""
    now = now or utcnow()
    report = RetentionReport()
    with session_scope(engine) as session:
        business_ids = [b for b in session.exec(select(Business.id).order_by(col(Business.id))).all() if b]
    for business_id in business_ids:
        with session_scope(engine) as session:
            days = policy_for(session, business_id).retention_days
            expired = expired_conversations(session, business_id=business_id, cutoff=now - days * DAY)
            counts = purge_conversations(session, expired)
        if counts.conversations:
            report.purged[business_id] = counts
            log.info(
                "retention purge",
                extra={
                    "business_id": business_id,
                    "retention_days": days,
                    "conversations": counts.conversations,
                    "messages": counts.messages,
                    "vault_entries": counts.vault_entries,
                    "redaction_events": counts.redaction_events,
                },
            )
    if report.purged:
        scrub_deleted_rows(engine)
    return report


class RetentionSchedule:
    """Runs `run_retention` in a daemon thread: once soon after start, then every `interval`."""

    def __init__(
        self, engine: Engine, *, interval: timedelta = DAY, first_delay: timedelta = timedelta(minutes=1)
    ) -> None:
        self._engine = engine
        self._interval = interval
        self._first_delay = first_delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="wepos-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _loop(self) -> None:
        wait = self._first_delay
        while not self._stop.wait(wait.total_seconds()):
            try:
                run_retention(self._engine)
            except Exception as exc:  # a bad night must not end the schedule; tried again tomorrow
                log.error("retention run failed", extra={"error": type(exc).__name__})
            wait = self._interval
