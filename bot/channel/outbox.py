"""The outbox: queued replies are unmasked only at the moment of sending, kept in order per conversation,
retried with backoff when the Graph API throttles or fails, and printed (masked) in console mode when the
business has no access token."""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import Update, bindparam, exists
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select, update
from sqlmodel.sql.expression import Select

from bot.channel.templates import TEMPLATE_KIND, TemplateSend
from bot.channel.whatsapp import OUTSIDE_WINDOW_CODE, CloudAPIClient
from bot.models import (
    OFFER_KIND,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    OutboundStatus,
)
from bot.turn.policies import BUTTON_HANDOFF, BUTTON_HELPED, within_service_window
from bot.turn.satisfaction import RATING_BUTTON, RATING_REQUEST_KIND, RATING_ROWS
from core.crypto import SecretBox
from core.db import autocommit, session_scope, utcnow
from core.errors import ChannelError
from core.metrics import HANDOFFS, REPLY_SECONDS, SEND_FAILURES, SENDS
from core.tenants import Business
from privacy.masker import Masker
from privacy.vault import VaultScope

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
ANSWER_BUTTONS = [(BUTTON_HELPED, "That helped"), (BUTTON_HANDOFF, "Talk to a person")]
OFFER_BUTTONS = [(BUTTON_HANDOFF, "Talk to a person")]  # under a "not sure" (`OFFER_KIND`)


class Attempt(StrEnum):
    """What one delivery attempt came to."""

    SETTLED = "settled"  # sent, printed, or failed for good
    RETRY = "retry"  # failed for now: queued again, with a backoff
    SKIPPED = "skipped"  # not this deliverer's to send now


@dataclass(frozen=True)
class ReadReceipt:
    """What marking an inbound message read needs, read with its claim (`TurnWorker`): the business's
    token as it was a moment before the turn, which is all a best-effort receipt needs."""

    message_id: int
    conversation_id: int
    wa_message_id: str | None
    phone_number_id: str
    token_sealed: str | None


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: about 1 s, 2 s, 4 s ... capped at 5 minutes."""
    return random.uniform(0.5, 1.0) * min(300.0, 2.0 ** (attempt - 1))


@cache
def _delivery_read() -> Select[Message, Conversation, Business, Contact, datetime | None]:
    """A reply with its conversation, business and contact, and when the message it answers came in.
    Built once: building it (four entities, joins, an alias) cost more CPU than the database's answer."""
    inbound = aliased(Message)
    return (
        # sqlmodel types select() for up to four columns.
        select(Message, Conversation, Business, Contact, col(inbound.created_at))  # type: ignore[call-overload,no-any-return]
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .join(Business, col(Business.id) == col(Message.business_id))
        .join(Contact, col(Contact.id) == col(Conversation.contact_id))
        .outerjoin(inbound, col(inbound.id) == col(Message.in_reply_to_id))
        .where(col(Message.id) == bindparam("message_id"))
    )


def claim_owner(pid: int | None = None) -> str:
    """Who holds a claim: this machine and a process (this one by default), as `Message.claimed_by` says."""
    return f"{_hostname()}:{os.getpid() if pid is None else pid}"


@cache
def _hostname() -> str:
    return socket.gethostname()[:40]


@cache
def _claim_statement() -> Update:
    earlier = aliased(Message)
    unsettled = exists().where(
        col(earlier.conversation_id) == col(Message.conversation_id),
        col(earlier.direction) == Direction.OUTBOUND,
        col(earlier.status).in_([OutboundStatus.QUEUED, OutboundStatus.SENDING]),
        col(earlier.id) < col(Message.id),
    )
    return (
        update(Message)
        .where(col(Message.id) == bindparam("message_id"), col(Message.status) == OutboundStatus.QUEUED)
        .where(~unsettled)
        .values(status=OutboundStatus.SENDING, claimed_at=bindparam("now"), claimed_by=bindparam("owner"))
    )


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
        # A send's outcome is one UPDATE of its row: on PostgreSQL it needs no BEGIN and COMMIT around it.
        self._outcome_engine = autocommit(engine)
        self._box = box
        self._masker = masker
        self._client = client
        self._console = console

    def due(self, limit: int = 200) -> list[tuple[int, int]]:
        """Queued replies that may be tried now, oldest first, as (message id, conversation id). A
        conversation whose earlier reply waits for a retry is left out from there on, so a customer never
        gets answers out of order."""
        now = utcnow()
        with session_scope(self._engine) as session:
            queued = session.exec(
                select(Message.id, Message.conversation_id, Message.next_attempt_at)
                .where(Message.direction == Direction.OUTBOUND, Message.status == OutboundStatus.QUEUED)
                .order_by(col(Message.id))
                .limit(limit)
            ).all()
        held: set[int] = set()
        due = []
        for message_id, conversation_id, next_attempt_at in queued:
            if conversation_id in held or message_id is None:
                continue
            if next_attempt_at is not None and next_attempt_at > now:
                held.add(conversation_id)
                continue
            due.append((message_id, conversation_id))
        return due

    def deliver_due(self, limit: int = 200) -> int:
        """Send the due replies here, in order (`due`); a conversation whose reply fails now waits for its
        retry. Returns how many were tried."""
        held: set[int] = set()
        tried = 0
        for message_id, conversation_id in self.due(limit):
            if conversation_id in held:
                continue
            attempt = self.deliver(message_id)
            if attempt is not Attempt.SETTLED:
                held.add(conversation_id)
            if attempt is not Attempt.SKIPPED:
                tried += 1
        return tried

    def deliver(self, message_id: int) -> Attempt:
        """Try to send one reply: settled (sent, printed or failed for good), queued again for a retry, or
        skipped (sent or being sent by another deliverer, or waiting for an earlier reply to its customer)."""
        # Claim, read what the send needs, commit, then send with no transaction open: a write lock held
        # across the HTTP call would stall every webhook on SQLite. The claim keeps the row ours meanwhile.
        # Claim first: every worker lists every queued reply and all but one lose the claim, which must cost
        # them one statement, not the read (and decryption) of everything a send needs. Claim and read share
        # one transaction and the read is one joined statement, where they were two transactions and six
        # statements; SQLite's write lock is held for the read too, about a millisecond.
        with session_scope(self._engine) as session:
            if not self._claim(session, message_id):
                return Attempt.SKIPPED
            row = session.exec(_delivery_read(), params={"message_id": message_id}).first()
            if row is None:
                return Attempt.SKIPPED
            message, conversation, business, contact, inbound_at = row
            assert conversation.id is not None and business.id is not None
            if business.access_token_sealed is None:
                shown = (
                    f"[template] {TemplateSend.from_json(message.text_masked).display()}"
                    if message.kind == TEMPLATE_KIND
                    else message.text_masked
                )
                self._console(f"[console] reply for conversation {conversation.id}: {shown}")
                message.attempts += 1
                self._settle(session, message, OutboundStatus.PRINTED)
                SENDS.labels("printed").inc()
                return Attempt.SETTLED
            if message.kind != TEMPLATE_KIND and not within_service_window(
                conversation.last_inbound_at, utcnow()
            ):
                # Free-form messages are refused outside 24 h of the customer's last message.
                message.error_code = OUTSIDE_WINDOW_CODE
                message.error_title = "outside the 24-hour window: only an approved template can be sent"
                message.attempts += 1
                self._settle(session, message, OutboundStatus.FAILED)
                _hand_over_undelivered(session, message, "outside_window")
                SENDS.labels("outside_window").inc()
                log.warning("reply outside the service window", extra={"message_id": message_id})
                return Attempt.SETTLED
            scopes = [VaultScope.conversation(conversation.id), VaultScope.knowledge(business.id)]
            template: TemplateSend | None = None
            if message.kind == TEMPLATE_KIND:
                # Each value restored on its own: an original may hold what the stored JSON would escape.
                template = TemplateSend.from_json(message.text_masked)
                body = ""
                values = [self._masker.unmask(session, value, scopes) for value in template.values]
            else:
                body = self._masker.unmask(session, message.text_masked or "", scopes)
            token = self._box.open(business.access_token_sealed)
            to = self._box.open(contact.wa_id_sealed)
        message.attempts += 1  # on the detached row: written with the outcome below
        attempts = message.attempts
        try:
            if template is not None:
                wa_id = self._client.send_template(
                    phone_number_id=business.phone_number_id,
                    token=token,
                    to=to,
                    name=template.name,
                    language=template.language,
                    components=template.components(values),
                )
            elif message.kind == RATING_REQUEST_KIND:
                wa_id = self._client.send_list(
                    phone_number_id=business.phone_number_id,
                    token=token,
                    to=to,
                    body=body,
                    button=RATING_BUTTON,
                    rows=RATING_ROWS,
                )
            elif message.kind in ("interactive", OFFER_KIND):
                wa_id = self._client.send_buttons(
                    phone_number_id=business.phone_number_id,
                    token=token,
                    to=to,
                    body=body,
                    buttons=ANSWER_BUTTONS if message.kind == "interactive" else OFFER_BUTTONS,
                )
            else:
                wa_id = self._client.send_text(
                    phone_number_id=business.phone_number_id, token=token, to=to, body=body
                )
        except ChannelError as exc:
            settled = self._record_failure(message, exc)
            with self._outcome(message_id) as session:
                self._settle(session, message, message.status if settled else OutboundStatus.QUEUED)
                if settled:
                    _hand_over_undelivered(session, message, str(exc.graph_code or "no_answer"))
            return Attempt.SETTLED if settled else Attempt.RETRY
        with self._outcome(message_id) as session:
            message.wa_message_id = wa_id
            message.sent_at = utcnow()
            message.next_attempt_at = None
            message.error_code = None
            message.error_title = None
            self._settle(session, message, OutboundStatus.SENT)
        if inbound_at is not None:
            REPLY_SECONDS.observe((utcnow() - inbound_at).total_seconds())
        SENDS.labels("sent").inc()
        log.info("reply sent", extra={"message_id": message_id, "attempts": attempts})
        return Attempt.SETTLED

    @contextmanager
    def _outcome(self, message_id: int) -> Iterator[Session]:
        """A session to record a send's outcome on its row. The customer may have been erased while the
        request was out (the row is gone): there is nothing left to record, and nothing went wrong."""
        try:
            with session_scope(self._outcome_engine) as session:
                yield session
        except StaleDataError:
            log.info("reply erased while it was being sent", extra={"message_id": message_id})

    @staticmethod
    def _settle(session: Session, message: Message, status: str) -> None:
        """Record the outcome of a delivery attempt on the claimed row."""
        message.status = status
        message.updated_at = utcnow()
        session.add(message)

    @staticmethod
    def _claim(session: Session, message_id: int) -> bool:
        """Take the reply for this deliverer alone (a conditional update), so it is never sent twice, and
        only once every earlier reply to its customer is settled, so that deliverers in several processes
        never send a conversation's replies out of order."""
        result = session.exec(
            _claim_statement(), params={"message_id": message_id, "now": utcnow(), "owner": claim_owner()}
        )
        return bool(result.rowcount)

    def acknowledge(self, receipt: ReadReceipt) -> None:
        """Mark the customer's message read and show the typing indicator while the turn runs.
        Best effort: a failure is logged, never retried, and never delays the reply."""
        if not receipt.wa_message_id or not receipt.token_sealed:
            return
        try:
            self._client.mark_read(
                phone_number_id=receipt.phone_number_id,
                token=self._box.open(receipt.token_sealed),
                message_id=receipt.wa_message_id,
                typing=True,
            )
        except ChannelError as exc:
            log.info("mark-read failed", extra={"message_id": receipt.message_id, "retryable": exc.retryable})

    def _record_failure(self, message: Message, exc: ChannelError) -> bool:
        message.error_code = exc.graph_code
        message.error_title = exc.message[:255]
        settled = not (exc.retryable and message.attempts < MAX_ATTEMPTS)
        SENDS.labels("failed" if settled else "retry").inc()
        if settled:
            # Permanent errors (131026 undeliverable, 131047 window closed, 131051 ...) are recorded, not retried.
            message.status = OutboundStatus.FAILED
        else:
            message.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(message.attempts))
        log.warning(
            "send failed",
            extra={
                "message_id": message.id,
                "retryable": exc.retryable,
                "graph_code": exc.graph_code,
                "attempts": message.attempts,
            },
        )
        return settled


def _hand_over_undelivered(session: Session, message: Message, cause: str) -> None:
    """A reply that will never reach the customer (a revoked token, a number not on WhatsApp, the 24-hour
    window closed): counted by cause, and its conversation goes to a person, who sees it in the inbox with
    reason `send_failed` and the Graph API's error on the message. Nothing is sent to tell the customer: it
    would fail the same way. A rating question that never arrived needs nobody: it is only counted."""
    SEND_FAILURES.labels(cause).inc()
    if message.kind == RATING_REQUEST_KIND:
        return
    conversation = session.get(Conversation, message.conversation_id)
    if conversation is None or conversation.status == ConversationStatus.WAITING_FOR_AGENT:
        return
    conversation.status = ConversationStatus.WAITING_FOR_AGENT
    conversation.handoff_reason = "send_failed"
    session.add(conversation)
    HANDOFFS.labels("send_failed").inc()
