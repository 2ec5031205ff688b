"""The vector index: one Chroma collection per business knowledge base, embedded or client/server."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

# Items a write sends to Chroma at once: under its max batch size (5,461 embedded; a server's may differ).
WRITE_BATCH = 1_000


def build_chroma_client(*, url: str | None, path: Path) -> ClientAPI:
    """An HTTP client when a server URL is set, else the embedded store in the data dir, reached through
    the one process that owns it (`retrieval.local_store`; close it with `close_chroma_client`). Telemetry
    off."""
    from retrieval import local_store

    # Every client passes anonymized_telemetry=False; this covers what Chroma reads before a client exists.
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    return local_store.http_client(url) if url else local_store.open_client(path)


def close_chroma_client(client: ClientAPI) -> None:
    """Close a client of `build_chroma_client`, giving up this process's hold on an embedded directory."""
    from retrieval import local_store

    local_store.close_client(client)


@dataclass(frozen=True)
class IndexedChunk:
    vector_id: str
    text: str
    vector: list[float]
    metadata: dict[str, str | int | float | bool]


@dataclass(frozen=True)
class Hit:
    vector_id: str
    text: str
    metadata: dict[str, Any]
    similarity: float
    vector: np.ndarray  # the stored (unit) vector, float32: to score the chunk against other vectors too


@dataclass(frozen=True)
class StoredChunks:
    """Every chunk of one collection as stored, with the collection's version when they were read."""

    version: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    vectors: np.ndarray  # one float32 row a chunk, in the order of `ids`


# Collection metadata key holding a fresh random token after every write: readers in other processes
# compare it to rebuild caches (the lexical index). Random, not a counter, so that two writers racing
# through read-modify-write can never both leave the same value behind.
VERSION_KEY = "wepos:version"


class KnowledgeIndex:
    """Chunks of one business live in that business's collection: no query can cross tenants."""

    def __init__(self, client: ClientAPI, prefix: str = "wepos", *, version_check_s: float = 1.0) -> None:
        self._client = client
        self._prefix = prefix
        # How long a version read stands before Chroma is asked again: a search asked each time (an HTTP
        # round trip to a Chroma server). Writes through this index drop it at once; another process's
        # writes show within this time (a stale lexical index costs recall for that long, never returns a
        # deleted or disabled chunk: see `Retriever`).
        self._version_check_s = version_check_s
        self._versions: dict[int, tuple[str, float]] = {}
        # Collection handles by business: `get_or_create_collection` was three of a search's round trips
        # (a fifth of a turn's retrieval time). A handle names the collection by id; its metadata is read
        # afresh where it matters (`version`).
        self._handles: dict[int, Collection] = {}

    def collection_name(self, business_id: int) -> str:
        return f"{self._prefix}-kb-{business_id}"

    def _collection(self, business_id: int) -> Collection:
        handle = self._handles.get(business_id)
        if handle is None:
            # Our own vectors only: Chroma's default embedding function would try to download a model.
            handle = self._handles[business_id] = self._client.get_or_create_collection(
                self.collection_name(business_id),
                embedding_function=None,
                metadata={"hnsw:space": "cosine"},
            )
        return handle

    def _fresh(self, business_id: int) -> Collection:
        """The collection with its metadata as stored now (another process may have written since)."""
        from chromadb.errors import NotFoundError

        try:
            handle = self._client.get_collection(self.collection_name(business_id), embedding_function=None)
        except NotFoundError:
            self._handles.pop(business_id, None)
            return self._collection(business_id)
        self._handles[business_id] = handle
        return handle

    def add(self, business_id: int, chunks: list[IndexedChunk]) -> None:
        if not chunks:
            return
        collection = self._collection(business_id)
        # Chroma refuses a write of more than its max batch size (5,461 items in the embedded store).
        for start in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[start : start + WRITE_BATCH]
            collection.upsert(
                ids=[c.vector_id for c in batch],
                embeddings=[c.vector for c in batch],  # type: ignore[arg-type]
                documents=[c.text for c in batch],
                metadatas=[c.metadata for c in batch],  # type: ignore[arg-type]
            )
        self._touch(business_id)

    def delete(self, business_id: int, vector_ids: list[str]) -> None:
        if vector_ids:
            collection = self._collection(business_id)
            for start in range(0, len(vector_ids), WRITE_BATCH):
                collection.delete(ids=vector_ids[start : start + WRITE_BATCH])
            self._touch(business_id)

    def ids(self, business_id: int) -> list[str]:
        """Every chunk's id, nothing else read."""
        return list(self._collection(business_id).get(include=[])["ids"])

    def count(self, business_id: int) -> int:
        return self._collection(business_id).count()

    def query(self, business_id: int, vector: list[float], k: int) -> list[Hit]:
        """The k nearest chunks by Chroma's index, each with its stored vector."""
        # No count() first: Chroma returns what there is when k is more (nothing for an empty collection).
        result = self._collection(business_id).query(
            query_embeddings=[vector],  # type: ignore[arg-type]
            n_results=k,
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        embeddings = result["embeddings"]
        vectors = _matrix(embeddings[0] if embeddings is not None and len(embeddings) else None)
        return [
            Hit(vector_id, text or "", dict(meta or {}), 1.0 - float(distance), stored)
            for vector_id, text, meta, distance, stored in zip(
                ids, documents, metadatas, distances, vectors, strict=True
            )
        ]

    def _touch(self, business_id: int) -> None:
        """Mark the collection changed. Called after the write, so a reader that sees the new version also
        sees the new data. Only our key goes in: Chroma refuses a metadata update naming `hnsw:space`, and
        the distance lives on in the collection's configuration."""
        self._versions.pop(business_id, None)
        collection = self._fresh(business_id)
        kept = {
            key: value for key, value in (collection.metadata or {}).items() if not key.startswith("hnsw:")
        }
        collection.modify(metadata={**kept, VERSION_KEY: uuid.uuid4().hex})

    def version(self, business_id: int) -> str:
        """A token that changes whenever the collection's chunks change (one cheap metadata read, at most
        every `version_check_s` unless this index wrote)."""
        now = time.monotonic()
        known = self._versions.get(business_id)
        if known is not None and now - known[1] < self._version_check_s:
            return known[0]
        version = _version_of(self._fresh(business_id))
        self._versions[business_id] = (version, now)
        return version

    def documents(self, business_id: int) -> StoredChunks:
        """Every chunk's id, (masked) text, metadata and vector, for indexes built beside Chroma (BM25)."""
        collection = self._fresh(business_id)
        version = _version_of(collection)  # read before the chunks: a write in between shows as a change
        result = collection.get(include=["documents", "metadatas", "embeddings"])
        documents = result["documents"] or []
        metadatas = result["metadatas"] or []
        return StoredChunks(
            version,
            list(result["ids"]),
            [text or "" for text in documents],
            [dict(meta or {}) for meta in metadatas],
            _matrix(result["embeddings"]),
        )

    def score(self, business_id: int, vector: list[float], vector_ids: list[str]) -> list[Hit]:
        """These chunks as `query` would return them, cosine similarity to `vector` included, for chunks
        found another way (BM25). Ids no longer stored are left out."""
        if not vector_ids:
            return []
        result = self._collection(business_id).get(
            ids=vector_ids, include=["documents", "metadatas", "embeddings"]
        )
        if not result["ids"]:
            return []
        documents = result["documents"] or []
        metadatas = result["metadatas"] or []
        stored = _matrix(result["embeddings"])
        similarities = cosines(stored, np.asarray(vector, dtype=np.float32))
        return [
            Hit(vector_id, text or "", dict(meta or {}), float(similarity), row)
            for vector_id, text, meta, similarity, row in zip(
                result["ids"], documents, metadatas, similarities, stored, strict=True
            )
        ]

    def set_enabled(self, business_id: int, vector_ids: list[str], enabled: bool) -> None:
        """Flip the `enabled` flag of these chunks; a disabled chunk is stored but never retrieved."""
        if not vector_ids:
            return
        collection = self._collection(business_id)
        stored = collection.get(ids=vector_ids, include=["metadatas"])
        if not stored["ids"]:
            return
        metadatas = [{**dict(meta or {}), "enabled": enabled} for meta in stored["metadatas"] or []]
        collection.update(ids=stored["ids"], metadatas=metadatas)  # type: ignore[arg-type]
        self._touch(business_id)

    def heartbeat(self) -> bool:
        try:
            self._client.heartbeat()
        except Exception:
            return False
        return True


def cosines(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """The cosine similarity of each row to `vector` (a zero vector scores 0)."""
    norms = np.linalg.norm(rows, axis=1) * float(np.linalg.norm(vector))
    return np.asarray((rows @ vector) / np.maximum(norms, 1e-12), dtype=np.float32)


def _matrix(embeddings: Any) -> np.ndarray:
    # Chroma answers a list of arrays, or None for an empty result.
    if embeddings is None or len(embeddings) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray(embeddings, dtype=np.float32)


def _version_of(collection: Collection) -> str:
    # The collection id too: a collection dropped and created again starts without a token.
    return f"{collection.id}:{(collection.metadata or {}).get(VERSION_KEY, '')}"
