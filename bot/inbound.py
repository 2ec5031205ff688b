"""Webhook intake: store every inbound message (sealed) and every preference change before the webhook is
acknowledged."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

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

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self._engine = engine
        self._box = box

    def accept(self, batch: WebhookBatch) -> IntakeResult:
        result = IntakeResult(stored=[])
        for inbound in batch.messages:
            for attempt in range(2):
                try:
                    with session_scope(self._engine) as session:
                        business = find_business_by_phone_number_id(session, inbound.phone_number_id)
                        if business is not None:
                            message_id = self._store(session, business, inbound)
                    break
                except IntegrityError:
                    # A request racing this one stored the same delivery (message ids are unique) or the
                    # same new customer's contact first. Rolled back; once more sees its row: a duplicate,
                    # or the contact to store this message under.
                    if attempt:
                        raise
            if business is None:
                _unknown_number(result, "message", inbound.phone_number_id)
                continue
            if message_id is None:
                result.duplicates += 1
            else:
                result.stored.append(message_id)
        for update in batch.statuses:
            with session_scope(self._engine) as session:
                if apply_status(session, update):
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

    def _store(self, session: Session, business: Business, inbound: InboundMessage) -> int | None:
        if session.exec(select(Message.id).where(Message.wa_message_id == inbound.wa_message_id)).first():
            return None
        assert business.id is not None
        contact = self.contact_for(session, business.id, inbound.from_wa_id, inbound.profile_name)
        conversation = _open_conversation(session, business.id, contact)
        message = Message(
            business_id=business.id,
            conversation_id=conversation.id,  # type: ignore[arg-type]
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
        conversation.last_inbound_at = utcnow()
        session.add(conversation)
        session.flush()
        log.info(
            "inbound message stored",
            extra={
                "business_id": business.id,
                "conversation_id": conversation.id,
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


def _open_conversation(session: Session, business_id: int, contact: Contact) -> Conversation:
    conversation = session.exec(
        select(Conversation)
        .where(Conversation.contact_id == contact.id)
        .order_by(col(Conversation.id).desc())
    ).first()
    if conversation is None:
        conversation = Conversation(business_id=business_id, contact_id=contact.id)  # type: ignore[arg-type]
        session.add(conversation)
        session.flush()
    return conversation


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
