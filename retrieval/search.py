"""Search a business's knowledge base with a (masked) question."""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

from retrieval.store import KnowledgeIndex


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. `text` and `title` are masked; `score` is the cosine similarity (-1..1)."""

    vector_id: str
    document_id: int
    title: str
    text: str
    score: float


_PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")
_QUESTION = re.compile(r"[^.!?\n]*\?")


def search_query(masked_text: str) -> str:
    """What to search for: the questions of a message without its placeholders ("Hi, I'm <PERSON_1>,
    my number is <PHONE_NUMBER_1>. Do you deliver?" -> "Do you deliver?"); the whole text when it asks none."""
    text = _PLACEHOLDER.sub(" ", masked_text)
    questions = [q.strip() for q in _QUESTION.findall(text) if len(q.split()) >= 2]
    return " ".join(" ".join(questions).split()) if questions else " ".join(text.split())


class Retriever:
    """Dense retrieval over one business's collection, best passage first, one passage per document."""

    def __init__(self, embeddings: Embeddings, index: KnowledgeIndex, *, top_k: int = 4) -> None:
        self.embeddings = embeddings
        self.index = index
        self.top_k = top_k

    def search(self, business_id: int, query: str, k: int | None = None) -> list[Passage]:
        if not query.strip():
            return []
        k = k or self.top_k
        # Over-fetch so that de-duplicating by document still fills k places.
        hits = self.index.query(business_id, self.embeddings.embed_query(search_query(query)), k * 3)
        passages: list[Passage] = []
        seen_documents: set[int] = set()
        for hit in sorted(hits, key=lambda h: h.similarity, reverse=True):
            document_id = int(hit.metadata.get("document_id", -1))
            if document_id in seen_documents or not hit.metadata.get("enabled", True):
                continue
            seen_documents.add(document_id)
            passages.append(
                Passage(
                    hit.vector_id, document_id, str(hit.metadata.get("title", "")), hit.text, hit.similarity
                )
            )
            if len(passages) == k:
                break
        return passages
