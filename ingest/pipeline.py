"""load -> split -> mask -> embed -> index, idempotent by content hash."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from langchain_core.embeddings import Embeddings
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import session_scope, utcnow
from core.errors import EmptyDocument, IngestError, NoExtractableText
from ingest.chunking import Chunk, split_document
from ingest.loaders import format_of, load_document
from ingest.loaders.limits import MAX_CHUNKS, check_count
from privacy.detect import business_vocabulary
from privacy.masker import Masker, MaskResult
from privacy.policy import MaskingPolicy
from privacy.redaction import record_redactions
from privacy.vault import PlaceholderPlan, VaultScope
from retrieval.models import DocumentStatus, KnowledgeChunk, KnowledgeDocument
from retrieval.store import IndexedChunk, KnowledgeIndex

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# Chunks masked per spaCy batch, and embedded together while the next batch is masked.
MASK_BATCH = 32
# Times a document is masked again when its placeholders were taken meanwhile (another ingest of the same
# business storing new values between this one's plan and its write).
PLAN_ATTEMPTS = 3


class IngestInterrupted(Exception):
    """Raised between chunk batches when the process is stopping: nothing of the document was written."""


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

    def ingest_bytes(
        self,
        business_id: int,
        source_name: str,
        data: bytes,
        *,
        between_batches: Callable[[], None] | None = None,
    ) -> IngestOutcome:
        """Ingest one file. The document is read, split, masked and embedded with no transaction open; its
        rows and vectors are written at the end. `between_batches` is called between chunk batches (it may
        raise `IngestInterrupted` to stop, leaving nothing written)."""
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
            check_count(len(chunks), MAX_CHUNKS, source_name, "passages")
        except IngestError as exc:
            return self._record_failure(business_id, source_name, content_hash, exc)
        outcome = self._index_document(
            business_id, source_name, fmt, content_hash, document.title, chunks, between_batches
        )
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
        self,
        business_id: int,
        source_name: str,
        fmt: str,
        content_hash: str,
        title: str,
        chunks: list[Chunk],
        between_batches: Callable[[], None] | None,
    ) -> IngestOutcome:
        scope = VaultScope.knowledge(business_id)
        # The document's own terms, learnt from all of it first: its product and section names stay readable.
        learnt = business_vocabulary([title, *(chunk.text for chunk in chunks)])
        for _attempt in range(PLAN_ATTEMPTS):
            with session_scope(self._engine) as session:  # reads only: the policy and the scope's values
                policy = self._masker.policy_for(session, business_id)
                plan = self._masker.vault.planner(session, scope)
            policy = replace(policy, vocabulary=policy.vocabulary | learnt)
            masked_title = self._masker.mask_many([title], plan, policy=policy)[0].text
            masks, vectors = self._mask_and_embed(
                [chunk.text for chunk in chunks], plan, policy, between_batches
            )
            outcome = self._write(
                business_id, source_name, fmt, content_hash, masked_title, chunks, masks, vectors, plan
            )
            if outcome is not None:
                return outcome
        raise IngestError(
            f"{source_name}: the knowledge base kept changing while it was masked; upload it again"
        )

    def _write(
        self,
        business_id: int,
        source_name: str,
        fmt: str,
        content_hash: str,
        masked_title: str,
        chunks: list[Chunk],
        masks: list[MaskResult],
        vectors: list[list[float]],
        plan: PlaceholderPlan,
    ) -> IngestOutcome | None:
        """Store what was computed: the new vault values and a new document's row (one short transaction),
        the vectors (no transaction open), then the chunks, the redaction log and the document (one short
        transaction). None when the plan's placeholders were taken meanwhile: mask again."""
        with session_scope(self._engine) as session:
            if not plan.keep(session):
                return None
            document = _find_document(session, business_id, source_name)
            status = IngestStatus.UPDATED if document else IngestStatus.ADDED
            if document is None:
                document = KnowledgeDocument(
                    business_id=business_id,
                    source_name=source_name,
                    title=masked_title[:255],
                    format=fmt,
                    content_hash="",
                    status=DocumentStatus.INDEXING,
                )
                session.add(document)
                session.flush()
            assert document.id is not None
            document_id, enabled = document.id, document.enabled
        # A fresh token a version: an interrupted earlier attempt's vectors can never be taken for these.
        token = uuid.uuid4().hex[:12]
        indexed = [
            IndexedChunk(
                vector_id=f"doc{document_id}-{token}-{chunk.ordinal}",
                text=masked.text,
                vector=vector,
                metadata={
                    "document_id": document_id,
                    "title": masked_title,
                    "ordinal": chunk.ordinal,
                    "enabled": enabled,
                },
            )
            for chunk, masked, vector in zip(chunks, masks, vectors, strict=True)
        ]
        self._index.add(business_id, indexed)
        try:
            masked_spans, stale = self._replace_chunks(
                business_id, document_id, fmt, content_hash, masked_title, chunks, masks, indexed
            )
        except Exception:
            self._index.delete(business_id, [c.vector_id for c in indexed])
            raise
        self._index.delete(business_id, stale)
        return IngestOutcome(source_name, status, document_id, len(indexed), masked_spans)

    def _replace_chunks(
        self,
        business_id: int,
        document_id: int,
        fmt: str,
        content_hash: str,
        masked_title: str,
        chunks: list[Chunk],
        masks: list[MaskResult],
        indexed: list[IndexedChunk],
    ) -> tuple[int, list[str]]:
        """The document's chunk rows and redaction log replaced, the document marked indexed: one short
        transaction. Returns the spans logged and the vector ids of the old version."""
        with session_scope(self._engine) as session:
            document = session.get(KnowledgeDocument, document_id)
            if document is None:
                raise IngestError("the document was deleted while it was indexed")
            old_rows = session.exec(
                select(KnowledgeChunk).where(KnowledgeChunk.document_id == document_id)
            ).all()
            stale = [row.vector_id for row in old_rows]
            for row in old_rows:
                session.delete(row)
            session.flush()
            rows = [
                KnowledgeChunk(
                    document_id=document_id,
                    ordinal=chunk.ordinal,
                    vector_id=item.vector_id,
                    content_hash=hashlib.sha256(masked.text.encode()).hexdigest(),
                    text=masked.text,
                )
                for chunk, masked, item in zip(chunks, masks, indexed, strict=True)
            ]
            session.add_all(rows)
            session.flush()
            masked_spans = 0
            for row, masked in zip(rows, masks, strict=True):
                assert row.id is not None
                masked_spans += record_redactions(
                    session,
                    business_id=business_id,
                    source_kind="chunk",
                    source_id=row.id,
                    spans=masked.spans,
                )
            document.title = masked_title[:255]
            document.format = fmt
            document.content_hash = content_hash
            document.status = DocumentStatus.INDEXED
            document.error = None
            document.chunk_count = len(rows)
            document.updated_at = utcnow()
            session.add(document)
        return masked_spans, stale

    def _mask_and_embed(
        self,
        texts: list[str],
        plan: PlaceholderPlan,
        policy: MaskingPolicy,
        between_batches: Callable[[], None] | None,
    ) -> tuple[list[MaskResult], list[list[float]]]:
        """Mask the chunks a batch at a time (spaCy reads a batch at once) and embed each masked batch on a
        second thread while the next one is masked: onnxruntime releases the GIL while it runs, so the two
        stages, each about half of ingest, share the cores instead of taking turns."""
        masks: list[MaskResult] = []
        embedded: list[Future[list[list[float]]]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-embed") as embedder:
            for start in range(0, len(texts), MASK_BATCH):
                if between_batches is not None:
                    between_batches()
                batch = self._masker.mask_many(texts[start : start + MASK_BATCH], plan, policy=policy)
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
