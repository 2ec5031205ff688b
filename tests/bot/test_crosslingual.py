"""The cross-lingual answer: the best unit of the best passage under a line in the customer's language, or
nothing when the evidence is weak."""

from __future__ import annotations

import numpy as np

from bot.turn.crosslingual import CrossLingualRequest, CrossLingualResponder
from bot.turn.language import IN_ENGLISH
from retrieval.search import Passage
from tests.retrieval.test_multilingual import WordHashEncoder

HOURS = Passage(
    "v1",
    1,
    "Opening hours",
    "Opening hours\nOur shops open Monday to Friday from 7:30 am.\nOn Sundays we open from 9 am to 1 pm.",
    0.9,
)


def _request(question: str, passage: Passage = HOURS, language: str = "es") -> CrossLingualRequest:
    return CrossLingualRequest(question, language, WordHashEncoder().query(question), [passage])


def test_the_reply_quotes_the_unit_that_matches_under_a_line_in_the_customers_language() -> None:
    answer = CrossLingualResponder(WordHashEncoder(), confidence=0.5).answer(_request("sundays 9 am 1 pm"))
    assert answer is not None and answer.confident
    assert answer.text.startswith(IN_ENGLISH["es"])
    assert "On Sundays we open from 9 am to 1 pm." in answer.text
    assert "Monday" not in answer.text
    assert answer.text.endswith("(Source: Opening hours)")
    assert answer.sources == [HOURS]
    assert answer.evidence is not None and answer.evidence.passage == 0.9


def test_weak_evidence_gives_no_answer_so_the_customer_is_handed_over() -> None:
    weak = Passage(HOURS.vector_id, 1, HOURS.title, HOURS.text, 0.2)
    assert CrossLingualResponder(WordHashEncoder(), confidence=0.82).answer(_request("sundays", weak)) is None


def test_no_passage_gives_no_answer() -> None:
    request = CrossLingualRequest("¿Venden coches?", "es", np.zeros(64, dtype=np.float32), [])
    assert CrossLingualResponder(WordHashEncoder()).answer(request) is None
