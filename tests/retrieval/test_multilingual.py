"""The multilingual index: a mirror of the main index, filled a step at a time, searched on its own vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval.multilingual import MultilingualIndex
from retrieval.store import IndexedChunk, KnowledgeIndex, build_chroma_client, close_chroma_client


class WordHashEncoder:
    """Deterministic and instant: a text's vector is the normalised sum of its words' hashed directions, so
    texts sharing words are near. It counts what it was asked to encode."""

    def __init__(self) -> None:
        self.encoded = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(64, dtype=np.float32)
        for word in text.lower().split():
            vector[int(hashlib.sha1(word.strip("?.,").encode()).hexdigest(), 16) % 64] += 1.0
        return vector / max(float(np.linalg.norm(vector)), 1e-9)

    def query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def passages(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        return np.stack([self._vector(t) for t in texts])


def chunk(vector_id: str, document_id: int, text: str) -> IndexedChunk:
    # The main index's vectors are another model's: the mirror must not use them.
    return IndexedChunk(
        vector_id, text, [1.0, 0.0, 0.0], {"document_id": document_id, "title": f"doc {document_id}"}
    )


@pytest.fixture
def indexes(tmp_path: Path) -> Iterator[tuple[KnowledgeIndex, MultilingualIndex, WordHashEncoder]]:
    client = build_chroma_client(url=None, path=tmp_path / "chroma")
    main = KnowledgeIndex(client, version_check_s=0)
    encoder = WordHashEncoder()
    yield main, MultilingualIndex(client, main, encoder, batch=2), encoder
    close_chroma_client(client)


def test_the_mirror_fills_a_batch_a_step_and_then_reports_level(indexes) -> None:  # type: ignore[no-untyped-def]
    main, mirror, encoder = indexes
    main.add(1, [chunk(f"c{i}", 1, f"text {i}") for i in range(5)])
    steps = 0
    while mirror.sync_step([1]):
        steps += 1
    assert steps == 3  # 2 + 2 + 1 chunks
    assert encoder.encoded == 5
    assert not mirror.sync_step([1])  # level: nothing is embedded again
    assert encoder.encoded == 5


def test_the_mirror_drops_what_the_main_index_deleted_and_adds_what_it_gained(indexes) -> None:  # type: ignore[no-untyped-def]
    main, mirror, _encoder = indexes
    main.add(1, [chunk("old", 1, "delivery costs three pounds"), chunk("kept", 2, "we open at nine")])
    assert mirror.sync(1) == 2
    main.delete(1, ["old"])
    main.add(1, [chunk("new", 3, "delivery is free over thirty pounds")])
    assert mirror.sync(1) == 2
    _vector, passages = mirror.search(1, "delivery pounds", k=3)
    assert {p.vector_id for p in passages} == {"new", "kept"}


def test_a_search_ranks_by_the_multilingual_vectors_one_passage_a_document(indexes) -> None:  # type: ignore[no-untyped-def]
    main, mirror, _encoder = indexes
    main.add(
        7,
        [
            chunk("a1", 1, "sunday opening hours nine to one"),
            chunk("a2", 1, "sunday opening hours for the second shop"),
            chunk("b1", 2, "refunds within two days"),
        ],
    )
    mirror.sync(7)
    vector, passages = mirror.search(7, "sunday opening hours", k=3)
    assert [p.document_id for p in passages] == [1, 2]
    assert passages[0].vector_id in {"a1", "a2"} and passages[0].title == "doc 1"
    assert passages[0].score > passages[1].score
    assert vector.shape == (64,)


def test_businesses_have_mirrors_of_their_own(indexes) -> None:  # type: ignore[no-untyped-def]
    main, mirror, _encoder = indexes
    main.add(1, [chunk("one", 1, "gluten free bread")])
    main.add(2, [chunk("two", 1, "gluten free pasta")])
    while mirror.sync_step([1, 2]):
        pass
    assert [p.vector_id for p in mirror.search(1, "gluten free", k=3)[1]] == ["one"]
    assert [p.vector_id for p in mirror.search(2, "gluten free", k=3)[1]] == ["two"]
