"""Data-subject rights: a customer's copy of everything we hold about them (export), and its erasure.

Lives in bot because it reads the bot's tables (contacts, conversations, messages); the privacy layer's
tables (vault, redaction log, consent) are reached through its functions.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select, update

from bot.models import Contact, Conversation, ConversationNote, ConversationRating, Message
from core.crypto import SecretBox
from core.db import scrub_deleted_rows, session_scope, utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.tenants import Business
from privacy.consent import (
    ConsentSource,
    ConsentStatePublic,
    Purpose,
    consent_history,
    consent_state,
    current_consent,
    forget_consent,
    record_consent,
)
from privacy.data_requests import detach_contact
from privacy.masker import placeholders_in, restore
from privacy.models import ErasureRecord, RedactionEvent
from privacy.policy import review_redaction
from privacy.redaction import forget_redactions
from privacy.vault import Vault, VaultScope, forget_scopes

log = logging.getLogger(__name__)


def normalise_phone(phone: str) -> str:
    """A WhatsApp id is the number in digits, country code first: '+44 7700 900123' -> '447700900123'."""
    digits = re.sub(r"\D", "", phone)
    if not 7 <= len(digits) <= 15 or re.search(r"[^\d\s+().-]", phone):
        raise InvalidInput("phone must be an international number, e.g. +44 7700 900123")
    return digits


def find_contact(session: Session, box: SecretBox, *, business_id: int, phone: str) -> Contact:
    """The business's contact with this number (found by its keyed hash; numbers are stored encrypted)."""
    wa_hash = box.lookup_hash(normalise_phone(phone))
    contact = session.exec(
        select(Contact).where(Contact.business_id == business_id, Contact.wa_id_hash == wa_hash)
    ).first()
    if contact is None:
        raise NotFound("this business holds no data about that number")
    return contact


# Who may change consent by hand: a person of the business on the customer's word, or its own systems.
# Keyword, age statement and WhatsApp's preferences come from the customer's own words or settings only.
MANUAL_CONSENT_SOURCES = (ConsentSource.AGENT, ConsentSource.API)


def contact_consent(session: Session, box: SecretBox, *, business_id: int, phone: str) -> ConsentStatePublic:
    """One customer's consent now and the ledger behind it."""
    contact = find_contact(session, box, business_id=business_id, phone=phone)
    assert contact.id is not None
    return consent_state(session, contact.id)


def change_contact_consent(
    session: Session,
    box: SecretBox,
    *,
    business_id: int,
    phone: str,
    purpose: Purpose | str,
    granted: bool,
    source: ConsentSource | str = ConsentSource.API,
) -> ConsentStatePublic:
    """Record a grant or withdrawal made outside the chat (by an agent or the business's systems).

    Only a customer the business already holds: a number it never heard from gets `NotFound`, so the API
    cannot be used to plant numbers in the contact table."""
    if source not in MANUAL_CONSENT_SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(MANUAL_CONSENT_SOURCES)}")
    contact = find_contact(session, box, business_id=business_id, phone=phone)
    assert contact.id is not None
    record = record_consent(
        session,
        business_id=business_id,
        contact_id=contact.id,
        purpose=purpose,
        granted=granted,
        source=source,
    )
    log.info(
        "consent changed by hand",
        extra={
            "business_id": business_id,
            "contact_id": contact.id,
            "consent_id": record.id,
            "purpose": record.purpose,
            "granted": granted,
            "source": record.source,
        },
    )
    return consent_state(session, contact.id)


def export_contact_data(session: Session, box: SecretBox, *, business_id: int, phone: str) -> dict[str, Any]:
    """Everything held about one customer, readable: messages with their originals restored from the vault,
    consent records, the redaction log of their messages (kinds and offsets, as stored), their contact data."""
    contact = find_contact(session, box, business_id=business_id, phone=phone)
    assert contact.id is not None
    business = session.get(Business, business_id)
    assert business is not None
    vault = Vault(box)
    conversations = _conversations(session, contact.id)
    exported: list[dict[str, Any]] = []
    message_ids: list[int] = []
    for conversation in conversations:
        assert conversation.id is not None
        scopes = [VaultScope.conversation(conversation.id), VaultScope.knowledge(business_id)]
        messages = _messages(session, conversation.id)
        notes = session.exec(
            select(ConversationNote)
            .where(ConversationNote.conversation_id == conversation.id)
            .order_by(col(ConversationNote.id))
        ).all()
        originals = _originals(session, vault, scopes, messages)
        originals |= vault.originals(
            session, scopes, {p for n in notes for p in placeholders_in(n.text_masked)}
        )
        rows = []
        for message in messages:
            assert message.id is not None
            message_ids.append(message.id)
            if message.text_sealed is not None:
                text: str | None = box.open(message.text_sealed)  # not masked yet
            else:
                text = restore(message.text_masked, originals) if message.text_masked is not None else None
            rows.append(
                {
                    "id": message.id,
                    "direction": message.direction,
                    "kind": message.kind,
                    "text": text,
                    "status": message.status,
                    "created_at": message.created_at.isoformat(),
                    "sent_at": message.sent_at.isoformat() if message.sent_at else None,
                }
            )
        exported.append(
            {
                "id": conversation.id,
                "status": conversation.status,
                "handoff_reason": conversation.handoff_reason,
                "created_at": conversation.created_at.isoformat(),
                "last_inbound_at": conversation.last_inbound_at.isoformat()
                if conversation.last_inbound_at
                else None,
                "messages": rows,
                # What staff wrote about the customer is their data too (art. 15).
                "agent_notes": [
                    {"text": restore(n.text_masked, originals), "created_at": n.created_at.isoformat()}
                    for n in notes
                ],
                "rating": _rating(session, conversation.id),
            }
        )
    redactions = session.exec(
        select(RedactionEvent)
        .where(RedactionEvent.source_kind == "message", col(RedactionEvent.source_id).in_(message_ids))
        .order_by(col(RedactionEvent.id))
    ).all()
    return {
        "business": {"id": business_id, "name": business.name, "display_name": business.display_name},
        "contact": {
            "phone": box.open(contact.wa_id_sealed),
            "profile_name": box.open(contact.profile_name_sealed) if contact.profile_name_sealed else None,
            "created_at": contact.created_at.isoformat(),
        },
        "conversations": exported,
        "consent": {
            "current": {
                purpose.value: granted for purpose, granted in current_consent(session, contact.id).items()
            },
            "history": [
                {
                    "purpose": r.purpose,
                    "granted": r.granted,
                    "source": r.source,
                    "policy_version": r.policy_version,
                    "at": r.created_at.isoformat(),
                }
                for r in consent_history(session, contact.id)
            ],
        },
        "redactions": [
            {
                "message_id": r.source_id,
                "entity_type": r.entity_type,
                "start": r.start,
                "end": r.end,
                "score": r.score,
                "recognizer": r.recognizer,
                "at": r.created_at.isoformat(),
            }
            for r in redactions
        ],
        "exported_at": utcnow().isoformat(),
    }


@dataclass(frozen=True)
class PurgeCounts:
    conversations: int = 0
    messages: int = 0
    vault_entries: int = 0
    redaction_events: int = 0


def purge_conversations(session: Session, conversation_ids: list[int]) -> PurgeCounts:
    """Delete conversations with their messages, their vault scopes and their messages' redaction log."""
    if not conversation_ids:
        return PurgeCounts()
    message_ids = list(
        session.exec(select(Message.id).where(col(Message.conversation_id).in_(conversation_ids))).all()
    )
    redactions = forget_redactions(session, source_kind="message", source_ids=[i for i in message_ids if i])
    in_these = col(Message.conversation_id).in_(conversation_ids)
    # Replies point at the message they answer: unlink first, so no delete order matters.
    session.exec(update(Message).where(in_these).values(in_reply_to_id=None))
    messages = session.exec(delete(Message).where(in_these)).rowcount or 0
    vault_entries = forget_scopes(session, [VaultScope.conversation(i) for i in conversation_ids])
    # Agents' notes go with the conversation: they may describe the customer.
    session.exec(delete(ConversationNote).where(col(ConversationNote.conversation_id).in_(conversation_ids)))
    # So do the customer's ratings: analytics counts what is left.
    session.exec(
        delete(ConversationRating).where(col(ConversationRating.conversation_id).in_(conversation_ids))
    )
    conversations = (
        session.exec(delete(Conversation).where(col(Conversation.id).in_(conversation_ids))).rowcount or 0
    )
    return PurgeCounts(conversations, messages, vault_entries, redactions)


def erase_contact_data(engine: Engine, box: SecretBox, *, business_id: int, phone: str) -> ErasureRecord:
    """Erase one customer: messages, conversations, vault originals, redaction log, consent, the contact.

    What is kept is an `ErasureRecord` (keyed hash and counts: no personal data). On SQLite the file is then
    rebuilt, since deleted rows otherwise linger in free pages."""
    with session_scope(engine) as session:
        contact = find_contact(session, box, business_id=business_id, phone=phone)
        assert contact.id is not None
        conversation_ids = [c.id for c in _conversations(session, contact.id) if c.id is not None]
        counts = purge_conversations(session, conversation_ids)
        consent_records = forget_consent(session, contact.id)
        detach_contact(session, contact.id)  # its data requests stay, as the record of what was done
        session.delete(contact)
        record = ErasureRecord(
            business_id=business_id,
            contact_hash=contact.wa_id_hash,
            messages=counts.messages,
            conversations=counts.conversations,
            vault_entries=counts.vault_entries,
            redaction_events=counts.redaction_events,
            consent_records=consent_records,
        )
        session.add(record)
        session.flush()
    scrub_deleted_rows(engine)
    log.info(
        "contact erased",
        extra={
            "business_id": business_id,
            "erasure_id": record.id,
            "messages": record.messages,
            "conversations": record.conversations,
            "vault_entries": record.vault_entries,
        },
    )
    return record


def _rating(session: Session, conversation_id: int) -> dict[str, Any] | None:
    """The customer's rating of a conversation (or that they were asked and did not answer)."""
    rating = session.exec(
        select(ConversationRating).where(ConversationRating.conversation_id == conversation_id)
    ).first()
    if rating is None:
        return None
    return {
        "asked_at": rating.asked_at.isoformat(),
        "value": rating.value,
        "rated_at": rating.rated_at.isoformat() if rating.rated_at else None,
    }


def _conversations(session: Session, contact_id: int) -> list[Conversation]:
    return list(
        session.exec(
            select(Conversation).where(Conversation.contact_id == contact_id).order_by(col(Conversation.id))
        ).all()
    )


def _messages(session: Session, conversation_id: int) -> list[Message]:
    return list(
        session.exec(
            select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.id))
        ).all()
    )


def _originals(
    session: Session, vault: Vault, scopes: list[VaultScope], messages: list[Message]
) -> dict[str, str]:
    """The originals behind every placeholder these messages hold (one query)."""
    found: set[str] = set()
    for message in messages:
        found |= placeholders_in(message.text_masked or "")
    return vault.originals(session, scopes, found)


def review_redaction_event(
    session: Session, box: SecretBox, *, business_id: int, event_id: int, false_positive: bool
) -> RedactionEvent:
    """A compliance officer's verdict on one masked span; a false positive's word is allowed from now on."""
    event = session.get(RedactionEvent, event_id)
    if event is None or event.business_id != business_id:
        raise NotFound(f"no redaction {event_id}")
    if event.source_kind in ("chunk", "approved_answer"):  # knowledge: the business's own texts
        scope = VaultScope.knowledge(business_id)
    else:
        message = session.get(Message, event.source_id)
        if message is None:
            raise Conflict(f"the message of redaction {event_id} was erased")
        scope = VaultScope.conversation(message.conversation_id)
    return review_redaction(session, box, business_id, event_id, false_positive=false_positive, scope=scope)
