"""Approved answers: a business's own answers to questions customers ask, matched before its documents.

An agent or admin approves an answer (from a handed-over conversation, or written by hand); both texts are
stored masked, with knowledge placeholders only (`<DOC_...>`, restored for the customer as a document's
are). A customer's masked question that is close enough to an approved question gets its answer.

Matching embeds the approved questions once per business and keeps them in memory; each turn reads a
fingerprint of the business's approved answers (one small query), so an answer added, edited, disabled or
deleted by another process (the API, the CLI) is seen on the next turn without embedding anything per
request."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
from langchain_core.embeddings import Embeddings
from sqlmodel import Field, Session, SQLModel, col, func, select

from core.db import utcnow
from core.placeholders import without_placeholders

log = logging.getLogger(__name__)

# The cosine, on MiniLM vectors of the masked questions without their placeholders, from which a customer's
# question is taken to ask an approved one. Measured by `python -m benchmarks.approved_answers` (numbers in
# docs/conversations.md): 18 paraphrases scored 0.34-0.90 (median 0.80), 8 near misses (the same subject,
# another question: "Is the gluten-free bread made in a separate kitchen?") up to 0.81, 8 unrelated
# questions up to 0.34. 0.82 matches 6 of the 18 paraphrases and none of the 16 others; 0.78 would match 10
# but answer two near misses with the wrong approved answer. A miss costs little (the documents answer, as
# before there were approved answers); a wrong match answers another question with confidence.
MATCH_THRESHOLD = 0.82
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 4000


class AnswerOrigin(StrEnum):
    WRITTEN = "written"  # typed by hand (console, API, CLI)
    CONVERSATION = "conversation"  # a handed-over conversation's question and the agent's reply, edited


class ApprovedAnswerBase(SQLModel):
    question: str = Field(max_length=MAX_QUESTION_CHARS)  # masked: knowledge placeholders only
    answer: str = Field(max_length=MAX_ANSWER_CHARS)  # masked: knowledge placeholders only
    enabled: bool = True


class ApprovedAnswer(ApprovedAnswerBase, table=True):
    __tablename__ = "approved_answer"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    # Where it came from; deliberately not which conversation, so an approved answer links to no customer.
    origin: str = Field(default=AnswerOrigin.WRITTEN, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ApprovedAnswerPublic(ApprovedAnswerBase):
    id: int
    origin: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ApprovedMatch:
    answer_id: int
    answer: str  # masked
    score: float


def matching_text(masked: str) -> str:
    """What is embedded for matching: the words, without placeholders (a customer's `<PERSON_1>` says
    nothing about what they ask)."""
    return re.sub(r"\s+", " ", without_placeholders(masked)).strip()


@dataclass(frozen=True)
class _Embedded:
    fingerprint: tuple[object, ...]
    ids: list[int]
    vectors: np.ndarray  # one normalised row an approved question


class ApprovedAnswerIndex:
    """The approved questions' vectors, per business, rebuilt when the business's answers change."""

    def __init__(self, embeddings: Embeddings, threshold: float = MATCH_THRESHOLD) -> None:
        self._embeddings = embeddings
        self.threshold = threshold
        self._cache: dict[int, _Embedded] = {}
        self._lock = threading.Lock()

    def match(self, session: Session, business_id: int, question: str) -> ApprovedMatch | None:
        """The enabled approved answer whose question the masked `question` asks, if one is close enough."""
        text = matching_text(question)
        if not text:
            return None
        embedded = self._embedded(session, business_id)
        if embedded is None:
            return None
        scores = embedded.vectors @ np.asarray(self._embeddings.embed_query(text), dtype=np.float32)
        best = int(scores.argmax())
        score = float(scores[best])
        if score < self.threshold:
            return None
        row = session.get(ApprovedAnswer, embedded.ids[best])
        if row is None or row.business_id != business_id or not row.enabled or row.id is None:
            return None  # changed since the fingerprint was read: the next turn sees the new state
        return ApprovedMatch(row.id, row.answer, round(score, 4))

    def _embedded(self, session: Session, business_id: int) -> _Embedded | None:
        enabled = (ApprovedAnswer.business_id == business_id, col(ApprovedAnswer.enabled).is_(True))
        count, newest, changed = session.exec(
            select(func.count(), func.max(ApprovedAnswer.id), func.max(ApprovedAnswer.updated_at)).where(
                *enabled
            )
        ).one()
        if not count:
            return None
        fingerprint = (count, newest, str(changed))
        with self._lock:
            cached = self._cache.get(business_id)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        rows = session.exec(
            select(ApprovedAnswer.id, ApprovedAnswer.question)
            .where(*enabled)
            .order_by(col(ApprovedAnswer.id))
        ).all()
        ids = [int(i) for i, _ in rows if i is not None]
        vectors = np.asarray(
            self._embeddings.embed_documents([matching_text(q) or q for _, q in rows]), dtype=np.float32
        )
        built = _Embedded(fingerprint, ids, vectors)
        with self._lock:
            self._cache[business_id] = built
        log.info("approved answers embedded", extra={"business_id": business_id, "answers": len(ids)})
        return built
