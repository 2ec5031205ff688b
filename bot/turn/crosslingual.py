"""Answers for a customer who writes in another language than the knowledge base's.

The multilingual index (`retrieval.multilingual`) finds the passage; the reply quotes the unit of it that
best matches the question, as the multilingual model judges, under a line in the customer's language that
says the information is in English. Its confidence is the mean of the passage's and the unit's cosine on the
model's own scale; below `CROSSLINGUAL_CONFIDENCE` the bot keeps to what it did before: it says, in the
customer's language, that it can only answer in English, and hands over to a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.turn.language import IN_ENGLISH
from bot.turn.responders import Answer, Evidence, passage_body
from bot.turn.units import UnitKind, parse_units, reply_span, unit_in_context
from core.settings import CROSSLINGUAL_CONFIDENCE
from retrieval.multilingual import MultilingualEncoder
from retrieval.search import Passage


@dataclass(frozen=True)
class CrossLingualRequest:
    question: str  # masked, in the customer's language
    language: str  # the customer's language, a key of `IN_ENGLISH`
    question_vector: np.ndarray  # the question as the multilingual model encoded it for the search
    passages: list[Passage]  # best first, scored by the multilingual model


class CrossLingualResponder:
    def __init__(self, encoder: MultilingualEncoder, *, confidence: float = CROSSLINGUAL_CONFIDENCE) -> None:
        self._encoder = encoder
        self._confidence = confidence

    def answer(self, request: CrossLingualRequest) -> Answer | None:
        """The quoted answer, or None when the evidence is below the threshold."""
        if not request.passages:
            return None
        top = request.passages[0]
        units = parse_units(passage_body(top))
        candidates = [u for u in units if u.kind is not UnitKind.HEADING and len(u.text) >= 3]
        if not candidates:
            return None
        vectors = self._encoder.passages([unit_in_context(units, u) for u in candidates])
        scores = vectors @ request.question_vector
        best = int(np.argmax(scores))
        unit_score = float(scores[best])
        confidence = (top.score + unit_score) / 2
        evidence = Evidence(top.score, unit_score, 0.0, 0.0, 0.0, confidence)
        if confidence < self._confidence:
            return None
        body = reply_span(units, [candidates[best].position])
        title = top.title or "our help documents"
        text = f"{IN_ENGLISH[request.language]}\n\n{body}\n\n(Source: {title})"
        return Answer(text, confident=True, sources=[top], evidence=evidence)
