"""Tables of the privacy layer: the vault of original values and the redaction log."""

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
    source_kind: str = Field(max_length=16)  # "message" or "chunk"
    source_id: int = Field(index=True)
    entity_type: str = Field(max_length=64)
    start: int
    end: int
    score: float
    recognizer: str = Field(max_length=100)
    placeholder: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow, index=True)
