"""The vector index: one Chroma collection per business knowledge base, embedded or client/server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from core.errors import ConfigError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection


def build_chroma_client(*, url: str | None, path: Path) -> ClientAPI:
    """An HTTP client when a server URL is set, else a persistent store in the data dir. Telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url)
        if not parsed.hostname:
            raise ConfigError("WEPOS_CHROMA_URL: expected http://host:port")
        return chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=chroma_settings,
        )
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


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


class KnowledgeIndex:
    """Chunks of one business live in that business's collection: no query can cross tenants."""

    def __init__(self, client: ClientAPI, prefix: str = "wepos") -> None:
        self._client = client
        self._prefix = prefix

    def collection_name(self, business_id: int) -> str:
        return f"{self._prefix}-kb-{business_id}"

    def _collection(self, business_id: int) -> Collection:
        # Our own vectors only: Chroma's default embedding function would try to download a model.
        return self._client.get_or_create_collection(
            self.collection_name(business_id),
            embedding_function=None,
            metadata={"hnsw:space": "cosine"},
        )

    def add(self, business_id: int, chunks: list[IndexedChunk]) -> None:
        if not chunks:
            return
        self._collection(business_id).upsert(
            ids=[c.vector_id for c in chunks],
            embeddings=[c.vector for c in chunks],  # type: ignore[arg-type]
            documents=[c.text for c in chunks],
            metadatas=[c.metadata for c in chunks],  # type: ignore[arg-type]
        )

    def delete(self, business_id: int, vector_ids: list[str]) -> None:
        if vector_ids:
            self._collection(business_id).delete(ids=vector_ids)

    def count(self, business_id: int) -> int:
        return self._collection(business_id).count()

    def query(self, business_id: int, vector: list[float], k: int) -> list[Hit]:
        collection = self._collection(business_id)
        size = collection.count()
        if size == 0:
            return []
        result = collection.query(
            query_embeddings=[vector],  # type: ignore[arg-type]
            n_results=min(k, size),
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            Hit(vector_id, text or "", dict(meta or {}), 1.0 - float(distance))
            for vector_id, text, meta, distance in zip(ids, documents, metadatas, distances, strict=True)
        ]

    def heartbeat(self) -> bool:
        try:
            self._client.heartbeat()
        except Exception:
            return False
        return True
