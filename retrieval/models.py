"""Bookkeeping of what is indexed: documents and their chunks (the vectors themselves live in Chroma)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import utcnow


class DocumentStatus(StrEnum):
    INDEXED = "indexed"
    INDEXING = "indexing"  # a new document whose chunks are being written (moments, at the end of its ingest)
    NO_TEXT = "no_text"  # a scanned PDF, an image-only file: nothing to index until it has a text layer
    FAILED = "failed"


class KnowledgeDocumentBase(SQLModel):
    source_name: str = Field(max_length=255)
    title: str = Field(max_length=255)  # masked
    format: str = Field(max_length=16)
    status: str = Field(default=DocumentStatus.INDEXED, max_length=16)
    error: str | None = Field(default=None, max_length=500)
    chunk_count: int = 0
    enabled: bool = True


class KnowledgeDocument(KnowledgeDocumentBase, table=True):
    __tablename__ = "knowledge_document"
    __table_args__ = (UniqueConstraint("business_id", "source_name"),)

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    content_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class KnowledgeDocumentPublic(KnowledgeDocumentBase):
    id: int
    created_at: datetime
    updated_at: datetime


class KnowledgeChunk(SQLModel, table=True):
    __tablename__ = "knowledge_chunk"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="knowledge_document.id", index=True)
    ordinal: int
    vector_id: str = Field(max_length=80, unique=True)
    content_hash: str = Field(max_length=64)
    # The masked text (never the original): lets `reindex` rebuild the vector store without the source file.
    text: str = Field(default="")
