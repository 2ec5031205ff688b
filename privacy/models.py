"""Tables of the privacy layer: the vault of original values, the redaction log, consent and erasures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import utcnow


class VaultEntry(SQLModel, table=True):
    """One original value behind one placeholder, encrypted, in one scope (a conversation or a knowledge base)."""

    __tablename__ = "vault_entry"
    __table_args__ = (UniqueConstraint("scope", "placeholder"), UniqueConstraint("scope", "value_hash"))

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(index=True, max_length=64)
    placeholder: str = Field(max_length=80)
    entity_type: str = Field(max_length=64)
    value_hash: str = Field(max_length=64)
    value_sealed: str
    created_at: datetime = Field(default_factory=utcnow)


class RedactionEvent(SQLModel, table=True):
    """One masked span: what kind, where, found by whom, how sure. Never the value itself."""

    __tablename__ = "redaction_event"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    source_kind: str = Field(max_length=16)  # "message", "chunk" or "approved_answer"
    source_id: int = Field(index=True)
    entity_type: str = Field(max_length=64)
    start: int
    end: int
    score: float
    recognizer: str = Field(max_length=100)
    rule: str = Field(default="", max_length=60)  # the recognizer's rule or pattern ("id_label")
    placeholder: str = Field(max_length=80)
    # A compliance officer's verdict: None (unreviewed), "confirmed" or "false_positive".
    review: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ConsentRecord(SQLModel, table=True):
    """One grant or withdrawal of consent by a contact for one purpose. Append-only: the newest row per
    purpose is the current state, the older ones are the history a regulator may ask for."""

    __tablename__ = "consent_record"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    purpose: str = Field(max_length=32)  # privacy.consent.Purpose
    granted: bool
    source: str = Field(max_length=32)  # privacy.consent.ConsentSource
    policy_version: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class ErasureRecord(SQLModel, table=True):
    """Proof that a contact's data was erased, holding no personal data: the keyed hash and counts only."""

    __tablename__ = "erasure_record"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    contact_hash: str = Field(max_length=64)
    messages: int
    conversations: int
    vault_entries: int
    redaction_events: int
    consent_records: int
    created_at: datetime = Field(default_factory=utcnow)


class RedactionEventPublic(SQLModel):
    id: int
    source_kind: str
    source_id: int
    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    rule: str = ""
    review: str | None = None
    created_at: datetime


class RedactionPage(SQLModel):
    items: list[RedactionEventPublic]
    total: int
    limit: int
    offset: int


class PrivacyPolicy(SQLModel, table=True):
    """What one business masks: entity types, words it allows through, values it always masks."""

    __tablename__ = "privacy_policy"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", unique=True)
    masked_entities: str = Field(default="[]", max_length=2000)  # JSON list; empty: the defaults
    allow_list: str = Field(
        default="[]"
    )  # JSON list of words that are never personal here (names of products)
    deny_list_sealed: str | None = (
        None  # sealed JSON [{"type", "value"}]: values that are personal, always masked
    )
    updated_at: datetime = Field(default_factory=utcnow)


class DataSubjectRequest(SQLModel, table=True):
    """A customer asked for a copy of their data or its erasure (GDPR arts. 15 and 17). A compliance officer
    fulfils it: nothing is erased on a chat message's word alone, since the sender's identity is unverified."""

    __tablename__ = "data_subject_request"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    # None once the contact was erased: the request stays as the record that it was fulfilled.
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    kind: str = Field(max_length=16)  # privacy.data_requests.RequestKind
    status: str = Field(default="open", max_length=16, index=True)  # privacy.data_requests.RequestStatus
    created_at: datetime = Field(default_factory=utcnow)
    due_at: datetime  # the legal deadline: a month, counted as 30 days
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=300)  # "user:<id> <e-mail>", "api" or "cli"
