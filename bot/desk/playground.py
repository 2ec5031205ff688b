"""The retrieval playground: what the bot would find for a question, and why."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.turn.assistant import question_policy
from core.db import session_scope
from core.errors import InvalidInput
from privacy.masker import Masker
from retrieval.models import KnowledgeDocument
from retrieval.search import Retriever, current_passages

MAX_QUERY_CHARS = 2000


class MaskedSpanPublic(BaseModel):
    type: str
    start: int
    end: int
    score: float


class PassagePublic(BaseModel):
    rank: int
    score: float  # cosine similarity of the passage to the question (what the "not sure" threshold reads)
    document_id: int
    source_name: str
    title: str
    text: str  # masked, exactly as the language model would see it


class SearchResultPublic(BaseModel):
    masked_query: str
    masked: list[MaskedSpanPublic]
    confident: bool  # some passage reaches the business's confidence threshold
    min_confidence: float
    passages: list[PassagePublic]


@dataclass
class KnowledgeSearch:
    engine: Engine
    masker: Masker
    retriever: Retriever
    min_confidence: float

    def search(self, business_id: int, query: str, k: int | None = None) -> SearchResultPublic:
        """Mask the question as the bot would, retrieve, and name each passage's source document."""
        if not query.strip():
            raise InvalidInput("the query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(f"the query is longer than {MAX_QUERY_CHARS} characters")
        with session_scope(self.engine) as session:
            masked = self.masker.preview(
                query,
                policy=question_policy(
                    self.masker.policy_for(session, business_id), self.retriever, business_id
                ),
            )
        found = self.retriever.search(business_id, masked.text, k)
        with session_scope(self.engine) as session:
            passages = current_passages(session, business_id, found)
            ids = {p.document_id for p in passages}
            names = dict(
                session.exec(
                    select(KnowledgeDocument.id, KnowledgeDocument.source_name).where(
                        col(KnowledgeDocument.id).in_(ids), KnowledgeDocument.business_id == business_id
                    )
                ).all()
            )
        return SearchResultPublic(
            masked_query=masked.text,
            masked=[
                MaskedSpanPublic(type=s.entity_type, start=s.start, end=s.end, score=round(s.score, 3))
                for s in masked.spans
            ],
            confident=any(p.score >= self.min_confidence for p in passages),
            min_confidence=self.min_confidence,
            passages=[
                PassagePublic(
                    rank=rank,
                    score=round(p.score, 4),
                    document_id=p.document_id,
                    source_name=names.get(p.document_id, ""),
                    title=p.title,
                    text=p.text,
                )
                for rank, p in enumerate(passages, start=1)
            ],
        )
