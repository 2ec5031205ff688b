"""load -> split -> mask -> embed -> index, idempotent by content hash."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from langchain_core.embeddings import Embeddings
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import session_scope, utcnow
from core.errors import EmptyDocument, IngestError, NoExtractableText
from ingest.chunking import Chunk, split_document
from ingest.loaders import format_of, load_document
from privacy.masker import Masker, MaskResult
from privacy.policy import MaskingPolicy
from privacy.redaction import record_redactions
from privacy.vault import VaultScope
from retrieval.models import DocumentStatus, KnowledgeChunk, KnowledgeDocument
from retrieval.store import IndexedChunk, KnowledgeIndex

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# Chunks masked per spaCy batch, and embedded together while the next batch is masked.
MASK_BATCH = 32


class IngestStatus(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class IngestOutcome:
    source_name: str
    status: IngestStatus
    document_id: int | None = None
    chunks: int = 0
    masked_spans: int = 0
    error: str | None = None


class IngestPipeline:
    """Turns a business's files into masked, embedded, indexed chunks."""

    def __init__(
        self,
        *,
        engine: Engine,
        masker: Masker,
        embeddings: Embeddings,
        index: KnowledgeIndex,
        chunk_size: int,
        chunk_overlap: int,
    ) -> None:
        self._engine = engine
        self._masker = masker
        self._embeddings = embeddings
        self._index = index
        self._chunk_size = chunk_size
        self._chunk_overlap = chunk_overlap

    def ingest_paths(
        self,
        business_id: int,
        paths: Iterable[Path],
        on_progress: Callable[[IngestOutcome], None] | None = None,
    ) -> list[IngestOutcome]:
        """Ingest each file on its own: one bad file never stops the others."""
        outcomes = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                outcome = IngestOutcome(
                    path.name, IngestStatus.FAILED, error=f"{path.name}: cannot read ({exc.strerror})"
                )
            else:
                outcome = self.ingest_bytes(business_id, path.name, data)
            outcomes.append(outcome)
            if on_progress:
                on_progress(outcome)
        return outcomes

    def ingest_bytes(self, business_id: int, source_name: str, data: bytes) -> IngestOutcome:
        started = time.perf_counter()
        content_hash = hashlib.sha256(data).hexdigest()
        with session_scope(self._engine) as session:
            existing = _find_document(session, business_id, source_name)
            if (
                existing
                and existing.content_hash == content_hash
                and existing.status == DocumentStatus.INDEXED
            ):
                return IngestOutcome(source_name, IngestStatus.UNCHANGED, existing.id, existing.chunk_count)
        try:
            fmt = format_of(source_name)
            if len(data) > MAX_DOCUMENT_BYTES:
                raise IngestError(f"{source_name}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
            if not data.strip():
                raise EmptyDocument(f"{source_name}: the file is empty")
            document = load_document(source_name, data)
            if document.is_empty:
                raise NoExtractableText(
                    f"{source_name}: no extractable text"
                    + (" (a scanned PDF needs OCR first)" if fmt == "pdf" else "")
                )
            chunks = split_document(document, chunk_size=self._chunk_size, chunk_overlap=self._chunk_overlap)
        except IngestError as exc:
            return self._record_failure(business_id, source_name, content_hash, exc)
        outcome = self._index_document(business_id, source_name, fmt, content_hash, document.title, chunks)
        log.info(
            "document ingested",
            extra={
                "business_id": business_id,
                "document_id": outcome.document_id,
                "chunks": outcome.chunks,
                "masked_spans": outcome.masked_spans,
                "status": outcome.status.value,
                "ms": round((time.perf_counter() - started) * 1000),
            },
        )
        return outcome

    def _index_document(
        self, business_id: int, source_name: str, fmt: str, content_hash: str, title: str, chunks: list[Chunk]
    ) -> IngestOutcome:
        scope = VaultScope.knowledge(business_id)
        with session_scope(self._engine) as session:
            document = _find_document(session, business_id, source_name)
            status = IngestStatus.UPDATED if document else IngestStatus.ADDED
            if document is None:
                document = KnowledgeDocument(
                    business_id=business_id, source_name=source_name, title="", format=fmt, content_hash=""
                )
                session.add(document)
                session.flush()
            assert document.id is not None
            old_rows = session.exec(
                select(KnowledgeChunk).where(KnowledgeChunk.document_id == document.id)
            ).all()
            old_vector_ids = [row.vector_id for row in old_rows]
            for row in old_rows:
                session.delete(row)
            session.flush()

            policy = self._masker.policy_for(session, business_id)
            masked_title = self._masker.mask(session, title, scope, remember=False, policy=policy).text
            masked_spans = 0
            indexed: list[IndexedChunk] = []
            masked_texts: list[str] = []
            rows: list[tuple[KnowledgeChunk, MaskResult]] = []
            masks, vectors = self._mask_and_embed(session, [chunk.text for chunk in chunks], scope, policy)
            for chunk, masked in zip(chunks, masks, strict=True):
                row = KnowledgeChunk(
                    document_id=document.id,
                    ordinal=chunk.ordinal,
                    vector_id=f"doc{document.id}-{content_hash[:12]}-{chunk.ordinal}",
                    content_hash=hashlib.sha256(masked.text.encode()).hexdigest(),
                    text=masked.text,
                )
                session.add(row)
                rows.append((row, masked))
                masked_texts.append(masked.text)
            session.flush()
            for row, masked in rows:
                assert row.id is not None
                masked_spans += record_redactions(
                    session,
                    business_id=business_id,
                    source_kind="chunk",
                    source_id=row.id,
                    spans=masked.spans,
                )
            for (row, _masked), text, vector in zip(rows, masked_texts, vectors, strict=True):
                indexed.append(
                    IndexedChunk(
                        vector_id=row.vector_id,
                        text=text,
                        vector=vector,
                        metadata={
                            "document_id": document.id,
                            "title": masked_title,
                            "ordinal": row.ordinal,
                            "enabled": document.enabled,
                        },
                    )
                )
            document.title = masked_title[:255]
            document.format = fmt
            document.content_hash = content_hash
            document.status = DocumentStatus.INDEXED
            document.error = None
            document.chunk_count = len(indexed)
            document.updated_at = utcnow()
            session.add(document)
            # Index first, then commit: if the commit fails the new vectors are removed again.
            self._index.add(business_id, indexed)
            try:
                session.flush()
            except Exception:
                self._index.delete(business_id, [c.vector_id for c in indexed])
                raise
            stale = [vid for vid in old_vector_ids if vid not in {c.vector_id for c in indexed}]
            document_id = document.id
        self._index.delete(business_id, stale)
        return IngestOutcome(source_name, status, document_id, len(indexed), masked_spans)

    def _mask_and_embed(
        self, session: Session, texts: list[str], scope: VaultScope, policy: MaskingPolicy
    ) -> tuple[list[MaskResult], list[list[float]]]:
        """Mask the chunks a batch at a time (spaCy reads a batch at once) and embed each masked batch on a
        second thread while the next one is masked: onnxruntime releases the GIL while it runs, so the two
        stages, each about half of ingest, share the cores instead of taking turns."""
        masks: list[MaskResult] = []
        embedded: list[Future[list[list[float]]]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-embed") as embedder:
            for start in range(0, len(texts), MASK_BATCH):
                batch = self._masker.mask_many(
                    session, texts[start : start + MASK_BATCH], scope, policy=policy
                )
                masks.extend(batch)
                embedded.append(embedder.submit(self._embeddings.embed_documents, [m.text for m in batch]))
            vectors = [vector for batch_vectors in embedded for vector in batch_vectors.result()]
        return masks, vectors

    def _record_failure(
        self, business_id: int, source_name: str, content_hash: str, error: IngestError
    ) -> IngestOutcome:
        with session_scope(self._engine) as session:
            document = _find_document(session, business_id, source_name)
            if document is None:
                document = KnowledgeDocument(
                    business_id=business_id,
                    source_name=source_name,
                    title=Path(source_name).stem[:255],
                    format=Path(source_name).suffix.lstrip(".").lower()[:16] or "unknown",
                    content_hash=content_hash,
                    status=DocumentStatus.NO_TEXT
                    if isinstance(error, NoExtractableText)
                    else DocumentStatus.FAILED,
                    error=error.message[:500],
                )
                session.add(document)
                session.flush()
            # An earlier good version stays indexed; the failure is reported, not stored over it.
            document_id = document.id
        log.warning(
            "document rejected",
            extra={"business_id": business_id, "document_id": document_id, "error_code": error.code},
        )
        return IngestOutcome(source_name, IngestStatus.FAILED, document_id, error=error.message)


def _find_document(session: Session, business_id: int, source_name: str) -> KnowledgeDocument | None:
    return session.exec(
        select(KnowledgeDocument).where(
            KnowledgeDocument.business_id == business_id, KnowledgeDocument.source_name == source_name
        )
    ).first()
