"""Webhook intake: store every inbound message (sealed) and every preference change before the webhook is
acknowledged."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Insert, Integer, Table, Update, and_, bindparam, func, insert, literal
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel, col, select, update
from sqlmodel.sql.expression import Select

from bot.channel.whatsapp import InboundMessage, PreferenceUpdate, StatusUpdate, WebhookBatch
from bot.models import (
    OUTBOUND_RANK,
    Contact,
    Conversation,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
)
from core.crypto import SecretBox
from core.db import autocommit, session_scope, utcnow
from core.tenants import Business, find_business_by_phone_number_id
from privacy.consent import ConsentSource, Purpose, record_consent_once
from privacy.models import ErasureRecord

log = logging.getLogger(__name__)

# How long the intake trusts what it read of a phone number's business (which is all but never changed).
BUSINESS_TTL_S = 10.0
# Meta retries an unacknowledged webhook for up to 7 days; a message older than that is not a delivery.
MAX_DELIVERY_AGE = timedelta(days=7, hours=1)
# The categories of WhatsApp's `user_preferences` webhook, and the ledger purpose each one is about.
PREFERENCE_PURPOSES = {"marketing_messages": Purpose.MARKETING}


@dataclass
class IntakeResult:
    stored: list[int]  # ids of new messages to handle
    duplicates: int = 0
    unknown_number: int = 0
    statuses: int = 0
    preferences: int = 0  # consent records written from `user_preferences`
    # Deliveries refused: older than Meta ever retries, or sent by a customer before their erasure (a replay).
    refused: int = 0


class _SentBeforeErasure(Exception):
    """The sender's data was erased after this message was sent: it is a replay, and is not stored again."""


class WebhookIntake:
    """Turns a parsed webhook into rows. A message id seen before stores nothing and triggers nothing."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        *,
        message_engine: Engine | None = None,
        business_ttl_s: float = BUSINESS_TTL_S,
    ) -> None:
        """Messages are stored through `message_engine` (default: `engine`), which may hand out a connection
        without testing it first: one found dead is retried once."""
        self._engine = engine
        # PostgreSQL: a message is read, then written in one statement; nothing to wrap in BEGIN and COMMIT.
        self._message_engine = autocommit(message_engine or engine)
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
        oldest = utcnow() - MAX_DELIVERY_AGE
        for inbound in batch.messages:
            if inbound.sent_at is not None and inbound.sent_at < oldest:
                result.refused += 1
                log.warning("inbound message older than Meta's retries refused", extra={"kind": inbound.kind})
                continue
            for attempt in range(2):
                try:
                    with session_scope(self._message_engine) as session:
                        business_id = self._business_id(session, inbound.phone_number_id)
                        if business_id is not None:
                            message_id = self._store(session.connection(), business_id, inbound)
                    break
                except _SentBeforeErasure:
                    business_id, message_id = -1, None
                    break
                except IntegrityError:
                    # A request racing this one stored the same delivery (message ids are unique) or the
                    # same new customer's contact first (or the business is gone). Rolled back; once more
                    # sees its row: a duplicate, or the contact to store this message under.
                    self._businesses.pop(inbound.phone_number_id, None)
                    if attempt:
                        raise
                except DBAPIError as exc:
                    # A pooled connection the database had closed (a restart): the pool drops it and every
                    # other connection as old, and the next try gets a new one. Whether the write reached
                    # the database or not, the next read finds out: stored once either way.
                    if attempt or not exc.connection_invalidated:
                        raise
                    log.warning("database connection lost, storing the message again")
            if business_id is None:
                _unknown_number(result, "message", inbound.phone_number_id)
                continue
            if business_id == -1:
                result.refused += 1
                log.warning("message of an erased customer, sent before the erasure, refused")
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

    def _store(self, connection: Connection, business_id: int, inbound: InboundMessage) -> int | None:
        """One new message (None for a delivery seen before, or a silent one): one read (the sender's
        contact, its latest conversation, whether this delivery is stored), then the writes.

        On PostgreSQL the writes are one statement, run on its own (autocommit): the contact of a new
        customer, the conversation, its `last_inbound_at` and the message go in together or not at all,
        in one round trip where they were up to nine (BEGIN, each statement, COMMIT), each of which the
        acknowledgement waited on. SQLite has no writes inside WITH; there they run one after another in
        one transaction, in process. A request racing this one (the same delivery, or the same new
        customer) makes the write fail on a unique key; `accept` reads again and finds its rows."""
        wa_hash = self._box.lookup_hash(inbound.from_wa_id)
        customer = self._customer(connection, business_id, wa_hash, inbound.wa_message_id)
        if customer.existing is not None:
            return None
        now = utcnow()
        contact = None
        if customer.contact_id is None:
            # Only a customer with no contact can have been erased: returning ones pay no extra read.
            if inbound.sent_at is not None and _erased_since(
                connection, business_id, wa_hash, inbound.sent_at
            ):
                raise _SentBeforeErasure
            contact = Contact(
                business_id=business_id,
                wa_id_hash=wa_hash,
                wa_id_sealed=self._box.seal(inbound.from_wa_id),
                profile_name_sealed=self._box.seal(inbound.profile_name) if inbound.profile_name else None,
            )
        renamed = None
        if (
            contact is None
            and inbound.profile_name
            and (customer.name_sealed is None or self._box.open(customer.name_sealed) != inbound.profile_name)
        ):
            renamed = self._box.seal(inbound.profile_name)
        conversation = None
        if customer.conversation_id is None:
            conversation = Conversation(
                business_id=business_id,
                contact_id=customer.contact_id,  # type: ignore[arg-type]  # a new contact's comes from the write
                last_inbound_at=now,
            )
        message = Message(
            business_id=business_id,
            conversation_id=customer.conversation_id,  # type: ignore[arg-type]
            direction=Direction.INBOUND,
            wa_message_id=inbound.wa_message_id,
            kind=inbound.kind,
            text_sealed=self._box.seal(inbound.text) if inbound.answerable and inbound.text else None,
            status=InboundStatus.RECORDED if inbound.silent else InboundStatus.RECEIVED,
            reply_id=(inbound.reply_id or "")[:256] or None,
            created_at=now,
            updated_at=now,
        )
        # No key may be a column's name: SQLAlchemy would add it to the SET of an UPDATE as well.
        params = {
            **_params(message),
            **(_params(contact) if contact is not None else {}),
            **(_params(conversation) if conversation is not None else {}),
            "sender_contact_id": customer.contact_id,
            "renamed": renamed,
            "now": now,
        }
        if connection.dialect.name == "postgresql":
            statement = _write(
                new_contact=contact is not None,
                new_conversation=conversation is not None,
                rename=renamed is not None,
            )
            message_id, conversation_id = connection.execute(statement, params).one()
        else:
            message_id, conversation_id = _write_in_steps(connection, params, contact, conversation, renamed)
        log.info(
            "inbound message stored",
            extra={
                "business_id": business_id,
                "conversation_id": conversation_id,
                "message_id": message_id,
                "kind": inbound.kind,
            },
        )
        return None if inbound.silent else int(message_id)

    def _customer(self, connection: Connection, business_id: int, wa_hash: str, wamid: str) -> _Customer:
        """What the intake knows of a message's sender and delivery, in one read."""
        row = connection.execute(
            _customer_and_delivery(), {"business_id": business_id, "wa_hash": wa_hash, "wamid": wamid}
        ).one()
        return _Customer(*row)

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


def _erased_since(connection: Connection, business_id: int, wa_hash: str, sent_at: datetime) -> bool:
    """Whether this sender's data was erased after the message was surely sent: Meta's timestamps are whole
    seconds, so a message stamped in the second of the erasure may have been written after it, and is kept."""
    erased = connection.execute(
        select(func.max(ErasureRecord.created_at)).where(
            ErasureRecord.business_id == business_id, ErasureRecord.contact_hash == wa_hash
        )
    ).scalar()
    return erased is not None and _aware(erased) >= sent_at + timedelta(seconds=1)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _unknown_number(result: IntakeResult, what: str, phone_number_id: str) -> None:
    """Count and log (the id only) an event for a phone number no business has: it is ignored."""
    result.unknown_number += 1
    log.warning(f"{what} for unknown phone number id ignored", extra={"phone_number_id": phone_number_id})


@dataclass(frozen=True)
class _Customer:
    """What one read told the intake: the message stored under this delivery's id, if any, and the sender's
    contact (sealed profile name) and latest conversation, where they have them."""

    existing: int | None
    contact_id: int | None
    name_sealed: str | None
    conversation_id: int | None


@cache
def _customer_and_delivery() -> Select[int | None, int | None, str | None, int | None]:
    """One row, always: the id of a message already stored under this delivery's id, then the contact found
    by its number's keyed hash (none for a new customer), with its latest conversation. Built once
    (building it cost about what running it does)."""
    existing = (
        select(col(Message.id)).where(col(Message.wa_message_id) == bindparam("wamid")).scalar_subquery()
    )
    latest = (
        select(func.max(Conversation.id))
        .where(col(Conversation.contact_id) == col(Contact.id))
        .scalar_subquery()
    )
    one = select(literal(1).label("one")).subquery("one")
    sender = and_(
        col(Contact.business_id) == bindparam("business_id"), col(Contact.wa_id_hash) == bindparam("wa_hash")
    )
    return select(existing, Contact.id, Contact.profile_name_sealed, latest).select_from(
        one.outerjoin(Contact, sender)  # type: ignore[arg-type]
    )


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


def _params(row: SQLModel) -> dict[str, Any]:
    """A new row's column values, each as the parameter `<table>_<column>` of the statements below."""
    table = _table(type(row))
    return {f"{table.name}_{c.name}": getattr(row, c.name) for c in table.columns if not c.primary_key}


def _values(table: Table, **instead: Any) -> dict[str, Any]:
    """Every column but the key as its parameter `<table>_<column>`, or as the expression given instead."""
    return {
        c.name: instead.get(c.name, bindparam(f"{table.name}_{c.name}", type_=c.type))
        for c in table.columns
        if not c.primary_key
    }


@cache
def _insert(model: type[SQLModel]) -> Insert:
    table = _table(model)
    return insert(table).values(_values(table)).returning(table.c.id)


@cache
def _set_one(model: type[SQLModel], key: str, column: str, value: str) -> Update:
    """UPDATE of one column (parameter `value`) of the row whose id is the parameter `key`."""
    table = _table(model)
    return (
        update(table)
        .where(table.c.id == bindparam(key, type_=Integer))
        .values({column: bindparam(value, type_=table.c[column].type)})
    )


def _rename() -> Update:
    return _set_one(Contact, "sender_contact_id", "profile_name_sealed", "renamed")


def _touch() -> Update:
    return _set_one(Conversation, "message_conversation_id", "last_inbound_at", "now")


@cache
def _write(*, new_contact: bool, new_conversation: bool, rename: bool) -> Insert:
    """PostgreSQL: a message's writes as one statement (data-modifying WITH), returning the message's id and
    its conversation's. A conversation gone since the read leaves the message without one, which fails
    (NOT NULL) like a duplicate does; `accept` then reads again."""
    conversation, message = _table(Conversation), _table(Message)
    extra = []
    conversation_values = _values(conversation)
    if new_contact:
        created = _insert(Contact).cte("new_contact")
        conversation_values["contact_id"] = select(created.c.id).scalar_subquery()
    if rename:
        extra.append(_rename().cte("renamed"))
    if new_conversation:
        target = insert(conversation).values(conversation_values).returning(conversation.c.id).cte("started")
    else:
        target = _touch().returning(conversation.c.id).cte("touched")
    values = _values(message, conversation_id=select(target.c.id).scalar_subquery())
    return insert(message).values(values).returning(message.c.id, message.c.conversation_id).add_cte(*extra)


def _write_in_steps(
    connection: Connection,
    params: dict[str, Any],
    contact: Contact | None,
    conversation: Conversation | None,
    renamed: str | None,
) -> tuple[int, int]:
    """SQLite: the same writes one after another, in the caller's transaction."""
    if contact is not None:
        params["conversation_contact_id"] = connection.execute(_insert(Contact), params).scalar_one()
    if renamed is not None:
        connection.execute(_rename(), params)
    if conversation is not None:
        params["message_conversation_id"] = connection.execute(_insert(Conversation), params).scalar_one()
    else:
        connection.execute(_touch(), params)
    message_id = connection.execute(_insert(Message), params).scalar_one()
    return message_id, params["message_conversation_id"]


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
