"""A business's knowledge base as its owner manages it: list, show, enable, disable, delete, re-index."""

from __future__ import annotations

import logging

from langchain_core.embeddings import Embeddings
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import session_scope, utcnow
from core.errors import Conflict, NotFound
from retrieval.models import DocumentStatus, KnowledgeChunk, KnowledgeDocument, KnowledgeDocumentPublic
from retrieval.store import IndexedChunk, KnowledgeIndex

log = logging.getLogger(__name__)


class KnowledgeBase:
    """Document bookkeeping in the database and the vectors in Chroma, changed together."""

    def __init__(self, *, engine: Engine, index: KnowledgeIndex, embeddings: Embeddings) -> None:
        self._engine = engine
        self._index = index
        self._embeddings = embeddings

    def list_documents(self, business_id: int) -> list[KnowledgeDocumentPublic]:
        with session_scope(self._engine) as session:
            rows = session.exec(
                select(KnowledgeDocument)
                .where(KnowledgeDocument.business_id == business_id)
                .order_by(col(KnowledgeDocument.id))
            ).all()
            return [KnowledgeDocumentPublic.model_validate(row, from_attributes=True) for row in rows]

    def get_document(self, business_id: int, document_id: int) -> KnowledgeDocumentPublic:
        with session_scope(self._engine) as session:
            document = _owned(session, business_id, document_id)
            return KnowledgeDocumentPublic.model_validate(document, from_attributes=True)

    def set_enabled(self, business_id: int, document_id: int, enabled: bool) -> KnowledgeDocumentPublic:
        """A disabled document stays stored but is never retrieved, by this process or any other."""
        with session_scope(self._engine) as session:
            document = _owned(session, business_id, document_id)
            self._index.set_enabled(business_id, _vector_ids(session, document_id), enabled)
            document.enabled = enabled
            document.updated_at = utcnow()
            session.add(document)
            session.flush()
            public = KnowledgeDocumentPublic.model_validate(document, from_attributes=True)
        log.info(
            "document enabled" if enabled else "document disabled",
            extra={"business_id": business_id, "document_id": document_id},
        )
        return public

    def delete_document(self, business_id: int, document_id: int) -> int:
        """Remove the document and its chunks from the index and the database; returns the chunks removed."""
        with session_scope(self._engine) as session:
            document = _owned(session, business_id, document_id)
            chunks = session.exec(
                select(KnowledgeChunk).where(KnowledgeChunk.document_id == document_id)
            ).all()
            # Vectors first: a chunk left in Chroma without its row would still be retrieved.
            self._index.delete(business_id, [chunk.vector_id for chunk in chunks])
            for chunk in chunks:
                session.delete(chunk)
            session.delete(document)
        log.info("document deleted", extra={"business_id": business_id, "document_id": document_id})
        return len(chunks)

    def document_ids(self, business_id: int) -> list[int]:
        with session_scope(self._engine) as session:
            return [
                int(i)
                for i in session.exec(
                    select(KnowledgeDocument.id).where(
                        KnowledgeDocument.business_id == business_id,
                        KnowledgeDocument.status == DocumentStatus.INDEXED,
                    )
                ).all()
                if i is not None
            ]

    def reindex_document(self, business_id: int, document_id: int) -> int:
        """Embed the document's stored (masked) chunks again and write them to the index.

        For a new embedding model, a lost or moved vector store; the source file is not needed because the
        masked text of every chunk is kept. Returns the chunks written."""
        with session_scope(self._engine) as session:
            document = _owned(session, business_id, document_id)
            if document.status != DocumentStatus.INDEXED:
                raise Conflict(f"document {document_id} is {document.status}: upload it again instead")
            chunks = list(
                session.exec(
                    select(KnowledgeChunk)
                    .where(KnowledgeChunk.document_id == document_id)
                    .order_by(col(KnowledgeChunk.ordinal))
                ).all()
            )
            if any(not chunk.text for chunk in chunks):
                raise Conflict(
                    f"document {document_id} was indexed before chunk texts were kept: upload it again"
                )
            vectors = self._embeddings.embed_documents([chunk.text for chunk in chunks])
            self._index.add(
                business_id,
                [
                    IndexedChunk(
                        vector_id=chunk.vector_id,
                        text=chunk.text,
                        vector=vector,
                        metadata={
                            "document_id": document_id,
                            "title": document.title,
                            "ordinal": chunk.ordinal,
                            "enabled": document.enabled,
                        },
                    )
                    for chunk, vector in zip(chunks, vectors, strict=True)
                ],
            )
            document.updated_at = utcnow()
            session.add(document)
        log.info(
            "document reindexed",
            extra={"business_id": business_id, "document_id": document_id, "chunks": len(chunks)},
        )
        return len(chunks)


def _owned(session: Session, business_id: int, document_id: int) -> KnowledgeDocument:
    """The document, if it belongs to this business: another business's id reads as not found."""
    document = session.get(KnowledgeDocument, document_id)
    if document is None or document.business_id != business_id:
        raise NotFound(f"no document {document_id}")
    return document


def _vector_ids(session: Session, document_id: int) -> list[str]:
    return list(
        session.exec(select(KnowledgeChunk.vector_id).where(KnowledgeChunk.document_id == document_id)).all()
    )
