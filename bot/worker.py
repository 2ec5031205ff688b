"""The turn worker: a background thread that answers stored messages in order and flushes the outbox.

The database is the queue: a message stays `received` until its turn is handled, so a crash or restart
loses nothing. One worker thread keeps the messages of a conversation in order.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, or_, select, update

from bot.assistant import Assistant
from bot.models import Direction, InboundStatus, Message, OutboundStatus
from bot.outbox import Outbox, backoff_seconds
from core.db import session_scope, utcnow

log = logging.getLogger(__name__)

MAX_TURN_ATTEMPTS = 5


class TurnWorker:
    def __init__(
        self, *, engine: Engine, assistant: Assistant, outbox: Outbox, poll_interval: float = 1.0
    ) -> None:
        self._engine = engine
        self._assistant = assistant
        self._outbox = outbox
        self._poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._run, name="wepos-turns", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the turn in flight, then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def notify(self) -> None:
        self._wake.set()

    def recover(self) -> int:
        """Turns that were in flight when the process died go back to the queue."""
        with session_scope(self._engine) as session:
            result = session.exec(
                update(Message)
                .where(col(Message.status) == InboundStatus.PROCESSING)
                .values(status=InboundStatus.RECEIVED)
            )
            count = result.rowcount or 0
            # A reply claimed but never confirmed may or may not have reached Meta: at-least-once, send again.
            resent = session.exec(
                update(Message)
                .where(col(Message.status) == OutboundStatus.SENDING)
                .values(status=OutboundStatus.QUEUED)
            )
            count += resent.rowcount or 0
        if count:
            log.info("requeued interrupted turns", extra={"count": count})
        return count

    def run_once(self) -> int:
        """Handle every due inbound message, then every due reply. Returns the work done (for tests)."""
        done = 0
        for message_id in self._due_inbound():
            if self._stop.is_set():
                break
            self._handle(message_id)
            done += 1
            done += self._outbox.deliver_due()
        done += self._outbox.deliver_due()
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once() == 0:
                    self._idle.set()
                    self._wake.wait(self._poll_interval)
                    self._wake.clear()
                    self._idle.clear()
            except Exception:
                # The worker must survive anything; the failing row keeps its state and is retried.
                log.exception("worker loop error")
                self._stop.wait(self._poll_interval)

    def _due_inbound(self) -> list[int]:
        with session_scope(self._engine) as session:
            rows = session.exec(
                select(Message.id)
                .where(Message.direction == Direction.INBOUND, Message.status == InboundStatus.RECEIVED)
                .where(or_(col(Message.next_attempt_at).is_(None), col(Message.next_attempt_at) <= utcnow()))
                .order_by(col(Message.id))
                .limit(50)
            ).all()
        return [row for row in rows if row is not None]

    def _handle(self, message_id: int) -> None:
        with session_scope(self._engine) as session:
            session.exec(
                update(Message).where(col(Message.id) == message_id).values(status=InboundStatus.PROCESSING)
            )
        self._outbox.acknowledge(message_id)
        try:
            self._assistant.handle(message_id)
        except Exception as exc:
            self._retry_later(message_id, exc)

    def _retry_later(self, message_id: int, exc: Exception) -> None:
        with session_scope(self._engine) as session:
            message = session.get(Message, message_id)
            if message is None:
                return
            message.attempts += 1
            if message.attempts >= MAX_TURN_ATTEMPTS:
                message.status = InboundStatus.FAILED
                message.error_title = type(exc).__name__
            else:
                message.status = InboundStatus.RECEIVED
                message.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(message.attempts))
            session.add(message)
        log.error(
            "turn failed",
            extra={"message_id": message_id, "attempts": message.attempts, "error": type(exc).__name__},
        )

    def wait_idle(self, timeout: float) -> bool:
        """For tests and the CLI: block until the queue is drained once."""
        self._wake.set()
        return self._idle.wait(timeout)
