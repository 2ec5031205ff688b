"""Fakes of the turn's parts for tests that are about what happens around retrieval, not retrieval."""

from __future__ import annotations

from retrieval.search import Passage


class NoPassages:
    """A retriever over an empty knowledge base; it remembers what it was asked to search for."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def search(self, business_id: int, query: str) -> list[Passage]:
        self.queries.append(query)
        return []

    def term_weights(self, business_id: int) -> dict[str, float]:
        return {}

    def vocabulary(self, business_id: int) -> frozenset[str]:
        return frozenset()
