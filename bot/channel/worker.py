"""The turn worker: answers stored messages and flushes the outbox, in a thread or as its own process.

The database is the queue. A worker claims the oldest due message of a conversation that has no other
message in flight (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several worker processes never take the same
row), marks it `processing` with the time of the claim, and answers it in one transaction with its reply.
A worker that dies mid-turn leaves the claim behind, stamped with its owner (`claim_owner`): `wepos serve`
puts a dead worker process's claims back at once (`release_claims_of`), and any claim older than the lease
is taken again as well (a worker on a machine that died), so the message is answered exactly once. Messages of one conversation are handled in order and never two at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, exists
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import col, or_, select, update
from sqlmodel.sql.expression import Select

from bot.channel.outbox import Outbox, ReadReceipt, backoff_seconds, claim_owner
from bot.channel.rate_limit import SenderRateLimit
from bot.channel.sender import SendLanes
from bot.models import Conversation, Direction, InboundStatus, Message, OutboundStatus
from bot.turn.assistant import Assistant, TurnOutcome
from core.db import session_scope, utcnow
from core.metrics import TURN_FAILURES
from core.tenants import Business

log = logging.getLogger(__name__)

MAX_TURN_ATTEMPTS = 5
# A turn waits on parts that restart (the vector store, the database, the model server): its retries are four
# times a reply's, so its five attempts span 30 to 60 s and a restart is waited out, not handed to a person.
TURN_BACKOFF_SCALE = 4.0


def release_claims_of(engine: Engine, owner: str) -> int:
    """Put the work a dead process had claimed back in the queue now, rather than after the lease."""
    count = _requeue(engine, col(Message.claimed_by) == owner)
    if count:
        log.warning("requeued work of a dead worker process", extra={"count": count})
    return count


def _requeue(engine: Engine, claimed: ColumnElement[bool]) -> int:
    """Put the claimed turns and sends that match `claimed` back in the queue; how many. A reply claimed but
    never confirmed may or may not have reached Meta: at-least-once, it is sent again."""
    with session_scope(engine) as session:
        counts = [
            session.exec(
                update(Message)
                .where(col(Message.status) == claimed_status, claimed)
                .values(status=queued, claimed_at=None)
            ).rowcount
            or 0
            for claimed_status, queued in (
                (InboundStatus.PROCESSING, InboundStatus.RECEIVED),
                (OutboundStatus.SENDING, OutboundStatus.QUEUED),
            )
        ]
    return sum(counts)


@cache
def _due_candidates(
    limit: int,
) -> Select[Message, int, str, str | None]:
    """The oldest due inbound messages whose conversations have nothing older waiting or in flight, with the
    sender's contact and what the read receipt needs (locking only the message rows). Built once per batch
    size: building it (an alias, a subquery, joins) cost about as much CPU as a claim's statements."""
    earlier = aliased(Message)
    blocked = exists().where(
        col(earlier.conversation_id) == col(Message.conversation_id),
        col(earlier.direction) == Direction.INBOUND,
        or_(
            col(earlier.status) == InboundStatus.PROCESSING,
            and_(col(earlier.status) == InboundStatus.RECEIVED, col(earlier.id) < col(Message.id)),
        ),
    )
    now: BindParameter[datetime] = bindparam("now")
    return (
        select(Message, Conversation.contact_id, Business.phone_number_id, Business.access_token_sealed)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .join(Business, col(Business.id) == col(Message.business_id))
        .where(Message.direction == Direction.INBOUND, Message.status == InboundStatus.RECEIVED)
        .where(or_(col(Message.next_attempt_at).is_(None), col(Message.next_attempt_at) <= now))
        .where(~blocked)
        .order_by(col(Message.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Message)
    )


class TurnWorker:
    def __init__(
        self,
        *,
        engine: Engine,
        assistant: Assistant,
        outbox: Outbox,
        poll_interval: float = 1.0,
        lease_s: float = 120.0,
        rate_limit: SenderRateLimit | None = None,
        claim_batch_size: int = 4,
        lanes: SendLanes | None = None,
    ) -> None:
        """With `lanes`, replies and read receipts leave from their threads (`bot.channel.sender`); without, the
        turn loop sends them itself, between turns."""
        self._engine = engine
        self._claim_batch_size = claim_batch_size
        self._assistant = assistant
        self._outbox = outbox
        self._lanes = lanes
        self._poll_interval = poll_interval
        self._lease = timedelta(seconds=lease_s)
        self.rate_limit = rate_limit or SenderRateLimit(0)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="wepos-turns", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to stop after the turn in flight (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the turn in flight and send what the lanes hold, then stop (graceful shutdown)."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._lanes is not None:
            self._lanes.stop(timeout / 2)

    def notify(self) -> None:
        self._wake.set()

    def run_forever(self) -> None:
        if self._lanes is not None:
            self._lanes.start()
        failures = 0
        while not self._stop.is_set():
            try:
                done = self.run_once()
                failures = 0
                if done == 0:
                    if self._lanes is not None and not self._lanes.wait_drained(self._poll_interval):
                        continue  # idle only once the replies handed to the lanes are out
                    self._idle.set()
                    self._wake.wait(self._poll_interval)
                    self._wake.clear()
                    self._idle.clear()
            except Exception as exc:
                # The worker must survive anything (a database restart, say); rows keep their state and are
                # retried. Back off so an outage is a few log lines, not thousands.
                failures += 1
                pause = min(30.0, self._poll_interval * 2**failures)
                log.error(
                    "worker loop error", extra={"error": type(exc).__name__, "retry_in_s": round(pause, 1)}
                )
                self._stop.wait(pause)

    def run_once(self) -> int:
        """Handle due inbound messages, then due replies. Returns the work done (0 when idle)."""
        self.reclaim_expired()
        done = 0
        while not self._stop.is_set():
            claimed = self._claim_batch()
            if not claimed:
                break
            try:
                while claimed and not self._stop.is_set():
                    self._handle(claimed[0])
                    claimed.pop(0)
                    done += 1 + (0 if self._lanes is not None else self._outbox.deliver_due())
            finally:
                # Stopping (or failing) with claims not yet started: back in the queue at once, rather
                # than waiting out the lease.
                self._release(claimed)
        return done + (self._lanes.sweep() if self._lanes is not None else self._outbox.deliver_due())

    def reclaim_expired(self) -> int:
        """Claims older than the lease belong to dead workers: put their rows back in the queue."""
        count = _requeue(self._engine, col(Message.claimed_at) < utcnow() - self._lease)
        if count:
            log.warning("requeued work of a dead worker", extra={"count": count})
        return count

    def _claim_batch(self) -> list[ReadReceipt]:
        """Claim the oldest due messages whose conversations have nothing older waiting or in flight (so at
        most one per conversation), a few at a time: one claim query per turn was a fifth of a turn's cost.
        """
        now = utcnow()
        while True:
            with session_scope(self._engine) as session:
                candidates = session.exec(_due_candidates(self._claim_batch_size), params={"now": now}).all()
                if not candidates:
                    return []
                deferred = self.rate_limit.defer_over_limit(
                    session, [(message, contact_id) for message, contact_id, _, _ in candidates], now
                )
                receipts = {
                    message.id: ReadReceipt(
                        message.id,
                        message.conversation_id,
                        message.wa_message_id,
                        phone_number_id,
                        token_sealed,
                    )
                    for message, _, phone_number_id, token_sealed in candidates
                    if message.id is not None and message.id not in deferred
                }
                # The conditional update is what makes the claim exclusive on every database; one statement
                # for the batch keeps SQLite's write lock short.
                claimed = (
                    session.exec(
                        update(Message)
                        .where(
                            col(Message.id).in_(list(receipts)), col(Message.status) == InboundStatus.RECEIVED
                        )
                        .values(status=InboundStatus.PROCESSING, claimed_at=now, claimed_by=claim_owner())
                        .returning(col(Message.id))
                    )
                    .scalars()
                    .all()
                    if receipts
                    else []
                )
            if claimed:
                return [receipts[message_id] for message_id in sorted(claimed)]  # oldest first
            # Every candidate was deferred: look again for other senders' messages.

    def _release(self, claims: list[ReadReceipt]) -> None:
        """Put claimed messages whose turn never started back in the queue."""
        if not claims:
            return
        message_ids = [claim.message_id for claim in claims]
        with session_scope(self._engine) as session:
            session.exec(
                update(Message)
                .where(col(Message.id).in_(message_ids), col(Message.status) == InboundStatus.PROCESSING)
                .values(status=InboundStatus.RECEIVED, claimed_at=None)
            )

    def _handle(self, claim: ReadReceipt) -> None:
        message_id = claim.message_id
        if self._lanes is not None:
            self._lanes.receipt(claim)
        else:
            self._outbox.acknowledge(claim)
        try:
            outcome = self._assistant.handle(message_id)
        except Exception as exc:
            outcome = self._retry_later(message_id, exc)
        if outcome is not None and self._lanes is not None:
            self._lanes.deliver(claim.conversation_id, outcome.replies)

    def _retry_later(self, message_id: int, exc: Exception) -> TurnOutcome | None:
        """Count the failed attempt and try the turn again later; after the last attempt a person takes the
        conversation (`Assistant.hand_over_failed`), whose notice to the customer is returned to be sent."""
        TURN_FAILURES.labels(type(exc).__name__).inc()
        with session_scope(self._engine) as session:
            message = session.get(Message, message_id)
            if message is None:
                return None
            message.attempts += 1
            attempts, last = message.attempts, message.attempts >= MAX_TURN_ATTEMPTS
            if last:  # still claimed: if the hand-over fails too, the lease gives it back to a worker
                message.error_title = type(exc).__name__
            else:
                message.claimed_at = None
                message.status = InboundStatus.RECEIVED
                message.next_attempt_at = utcnow() + timedelta(
                    seconds=TURN_BACKOFF_SCALE * backoff_seconds(message.attempts)
                )
            session.add(message)
        log.error(
            "turn failed", extra={"message_id": message_id, "attempts": attempts, "error": type(exc).__name__}
        )
        return self._assistant.hand_over_failed(message_id) if last else None

    def wait_idle(self, timeout: float) -> bool:
        """For tests and the CLI: block until the queue is drained once."""
        self._idle.clear()
        self._wake.set()
        return self._idle.wait(timeout)
