"""Webhook intake: store every inbound message (sealed) and every preference change before the webhook is
acknowledged."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache

from sqlalchemy import bindparam, func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update
from sqlmodel.sql.expression import Select, SelectOfScalar

from bot.models import (
    OUTBOUND_RANK,
    Contact,
    Conversation,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
)
from bot.whatsapp import InboundMessage, PreferenceUpdate, StatusUpdate, WebhookBatch
from core.crypto import SecretBox
from core.db import session_scope, utcnow
from core.tenants import Business, find_business_by_phone_number_id
from privacy.consent import ConsentSource, Purpose, record_consent_once

log = logging.getLogger(__name__)

# How long the intake trusts what it read of a phone number's business (which is all but never changed).
BUSINESS_TTL_S = 10.0
# The categories of WhatsApp's `user_preferences` webhook, and the ledger purpose each one is about.
PREFERENCE_PURPOSES = {"marketing_messages": Purpose.MARKETING}


@dataclass
class IntakeResult:
    stored: list[int]  # ids of new messages to handle
    duplicates: int = 0
    unknown_number: int = 0
    statuses: int = 0
    preferences: int = 0  # consent records written from `user_preferences`


class WebhookIntake:
    """Turns a parsed webhook into rows. A message id seen before stores nothing and triggers nothing."""

    def __init__(self, engine: Engine, box: SecretBox, *, business_ttl_s: float = BUSINESS_TTL_S) -> None:
        self._engine = engine
        self._box = box
        self._business_ttl_s = business_ttl_s
        self._businesses: dict[str, tuple[int, float]] = {}  # phone number id -> business id, read at

    def _business_id(self, session: Session, phone_number_id: str) -> int | None:
        """The business of a phone number id, remembered for `business_ttl_s` (numbers no business has are
        looked up every time, so a business registered a moment ago gets its first message)."""
        now = time.monotonic()
        known = self._businesses.get(phone_number_id)
        if known is not None and now - known[1] < self._business_ttl_s:
            return known[0]
        business = find_business_by_phone_number_id(session, phone_number_id)
        if business is None or business.id is None:
            self._businesses.pop(phone_number_id, None)
            return None
        self._businesses[phone_number_id] = (business.id, now)
        return business.id

    def accept(self, batch: WebhookBatch) -> IntakeResult:
        result = IntakeResult(stored=[])
        for inbound in batch.messages:
            for attempt in range(2):
                try:
                    with session_scope(self._engine) as session:
                        business_id = self._business_id(session, inbound.phone_number_id)
                        if business_id is not None:
                            message_id = self._store(session, business_id, inbound)
                    break
                except IntegrityError:
                    # A request racing this one stored the same delivery (message ids are unique) or the
                    # same new customer's contact first (or the business is gone). Rolled back; once more
                    # sees its row: a duplicate, or the contact to store this message under.
                    self._businesses.pop(inbound.phone_number_id, None)
                    if attempt:
                        raise
            if business_id is None:
                _unknown_number(result, "message", inbound.phone_number_id)
                continue
            if message_id is None:
                result.duplicates += 1
            else:
                result.stored.append(message_id)
        for status in batch.statuses:
            with session_scope(self._engine) as session:
                if apply_status(session, status):
                    result.statuses += 1
        for preference in batch.preferences:
            purpose = PREFERENCE_PURPOSES.get(preference.category)
            if purpose is None:
                log.info("preference of an unknown category ignored", extra={"category": preference.category})
                continue
            with session_scope(self._engine) as session:
                business = find_business_by_phone_number_id(session, preference.phone_number_id)
                if business is None:
                    _unknown_number(result, "preference", preference.phone_number_id)
                    continue
                if self._record_preference(session, business, preference, purpose):
                    result.preferences += 1
                else:
                    result.duplicates += 1
        return result

    def _record_preference(
        self, session: Session, business: Business, preference: PreferenceUpdate, purpose: Purpose
    ) -> bool:
        """One consent record for a stop or resume; False when this very event is in the ledger already.

        A customer may stop marketing before they ever wrote to us: they get a contact (sealed number, keyed
        hash) as a first message would give them, since the choice must hold when they do write."""
        assert business.id is not None
        contact = self.contact_for(session, business.id, preference.wa_id, preference.profile_name)
        assert contact.id is not None
        record = record_consent_once(
            session,
            business_id=business.id,
            contact_id=contact.id,
            purpose=purpose,
            granted=preference.granted,
            source=ConsentSource.USER_PREFERENCES,
            at=preference.at,
        )
        if record is None:
            return False
        log.info(
            "consent recorded from user preferences",
            extra={
                "business_id": business.id,
                "contact_id": contact.id,
                "consent_id": record.id,
                "purpose": purpose.value,
                "granted": preference.granted,
            },
        )
        return True

    def _store(self, session: Session, business_id: int, inbound: InboundMessage) -> int | None:
        """One new message (None for a delivery seen before, or a silent one). A returning customer's
        message costs one read (its contact, latest conversation and whether the delivery is known), the
        insert and the conversation's update: where it was six statements, each a round trip to PostgreSQL
        that the acknowledgement waited on."""
        wa_hash = self._box.lookup_hash(inbound.from_wa_id)
        known = session.exec(
            _returning_customer(),
            params={"business_id": business_id, "wa_hash": wa_hash, "wamid": inbound.wa_message_id},
        ).first()
        if known is None:  # a new customer (or one of another business): the general path
            if session.exec(_known_delivery(), params={"wamid": inbound.wa_message_id}).first():
                return None
            contact = self.contact_for(session, business_id, inbound.from_wa_id, inbound.profile_name)
            contact_id: int | None = contact.id
            conversation_id: int | None = None
        else:
            contact_id, name_sealed, conversation_id, existing = known
            if existing is not None:
                return None
            if inbound.profile_name and (
                name_sealed is None or self._box.open(name_sealed) != inbound.profile_name
            ):
                session.exec(
                    update(Contact)
                    .where(col(Contact.id) == contact_id)
                    .values(profile_name_sealed=self._box.seal(inbound.profile_name))
                )
        if conversation_id is None:
            conversation = Conversation(business_id=business_id, contact_id=contact_id)  # type: ignore[arg-type]
            session.add(conversation)
            session.flush()
            conversation_id = conversation.id
        message = Message(
            business_id=business_id,
            conversation_id=conversation_id,  # type: ignore[arg-type]
            direction=Direction.INBOUND,
            wa_message_id=inbound.wa_message_id,
            kind=inbound.kind,
            text_sealed=self._box.seal(inbound.text) if inbound.answerable and inbound.text else None,
            status=InboundStatus.RECORDED if inbound.silent else InboundStatus.RECEIVED,
            reply_id=(inbound.reply_id or "")[:256] or None,
        )
        # No savepoint around the insert (two more round trips a webhook): a duplicate that raced in
        # fails the whole transaction, which `accept` runs again.
        session.add(message)
        session.flush()
        session.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(last_inbound_at=utcnow())
        )
        log.info(
            "inbound message stored",
            extra={
                "business_id": business_id,
                "conversation_id": conversation_id,
                "message_id": message.id,
                "kind": inbound.kind,
            },
        )
        return None if inbound.silent else message.id

    def contact_for(
        self, session: Session, business_id: int, wa_id: str, profile_name: str | None
    ) -> Contact:
        """Find a contact by the keyed hash of their number, creating it (sealed) on first contact."""
        wa_hash = self._box.lookup_hash(wa_id)
        contact = session.exec(
            select(Contact).where(Contact.business_id == business_id, Contact.wa_id_hash == wa_hash)
        ).first()
        if contact is None:
            contact = Contact(business_id=business_id, wa_id_hash=wa_hash, wa_id_sealed=self._box.seal(wa_id))
        if profile_name and (
            contact.profile_name_sealed is None or self._box.open(contact.profile_name_sealed) != profile_name
        ):
            contact.profile_name_sealed = self._box.seal(profile_name)
        session.add(contact)
        session.flush()
        return contact


def _unknown_number(result: IntakeResult, what: str, phone_number_id: str) -> None:
    """Count and log (the id only) an event for a phone number no business has: it is ignored."""
    result.unknown_number += 1
    log.warning(f"{what} for unknown phone number id ignored", extra={"phone_number_id": phone_number_id})


@cache
def _known_delivery() -> SelectOfScalar[int | None]:
    return select(col(Message.id)).where(col(Message.wa_message_id) == bindparam("wamid"))


@cache
def _returning_customer() -> Select[int | None, str | None, int | None, int | None]:
    """A contact by its number's keyed hash, with its latest conversation and the id of a message already
    stored under this delivery's id: the three lookups of a returning customer's message in one statement.
    Built once (building it cost about what running it does)."""
    latest = (
        select(func.max(Conversation.id))
        .where(col(Conversation.contact_id) == col(Contact.id))
        .scalar_subquery()
    )
    return select(Contact.id, Contact.profile_name_sealed, latest, _known_delivery().scalar_subquery()).where(
        col(Contact.business_id) == bindparam("business_id"), col(Contact.wa_id_hash) == bindparam("wa_hash")
    )


def apply_status(session: Session, update: StatusUpdate) -> bool:
    """Move our outbound message's delivery status forward only (a late 'delivered' never undoes 'read')."""
    message = session.exec(
        select(Message).where(
            Message.wa_message_id == update.wa_message_id, Message.direction == Direction.OUTBOUND
        )
    ).first()
    if message is None:
        return False
    try:
        new = OutboundStatus(update.status)
    except ValueError:
        return False  # "played", "deleted" and newer statuses change nothing we track
    if OUTBOUND_RANK[new] <= OUTBOUND_RANK.get(OutboundStatus(message.status), 0):
        return False
    message.status = new
    if new is OutboundStatus.FAILED:
        message.error_code = update.error_code
        message.error_title = (update.error_title or "")[:255] or None
    message.updated_at = utcnow()
    session.add(message)
    return True
