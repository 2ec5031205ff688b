"""BM25 and its tokeniser, without any model."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.lexical import BM25Index, ChunkLexicon, tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("How do I get a REFUND?", ["refund"]),
        ("Call <PERSON_1> on <PHONE_NUMBER_2> about orders", ["call", "order"]),
        ("Deliveries to the cities", ["delivery", "city"]),
        ("Glass, class and status stay", ["glass", "class", "status", "stay"]),
        ("Code XR-2291 in 2 days", ["code", "xr", "2291", "2", "day"]),
        ("what is it?", []),
    ],
)
def test_tokenize_keeps_content_words_only(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


CORPUS = [
    "Refunds are paid within 14 days of the return reaching us.",
    "We deliver on weekdays; delivery is free over 30 pounds.",
    "Gluten free bread is baked on Tuesdays in a separate oven.",
    "Opening hours: 8am to 6pm, Monday to Saturday.",
    "Delivery to the islands takes longer and costs extra; delivery days vary by island.",
]


def test_bm25_ranks_the_text_with_the_query_words_first() -> None:
    index = BM25Index(CORPUS)
    assert [position for position, _score in index.top("when is my refund paid", 3)] == [0]
    assert [position for position, _score in index.top("gluten free", 5)] == [2, 1]


def test_a_rare_word_outweighs_a_common_one() -> None:
    index = BM25Index(CORPUS)
    scores = index.scores("delivery to the islands")
    assert int(np.argmax(scores)) == 4
    assert scores[4] > scores[1] > 0


def test_scores_are_normalised_to_the_query() -> None:
    index = BM25Index(CORPUS)
    scores = index.scores("refund")
    assert scores.dtype == np.float32 and scores.shape == (len(CORPUS),)
    assert 0.9 <= float(scores[0]) <= 1.0  # every query word, once, in a text of about average length
    assert float(scores.sum() - scores[0]) == 0.0
    # A word the knowledge base never uses still counts: half the question is matched, about half the score.
    assert 0.3 < float(index.scores("refund zorblax")[0]) < 0.7


def test_a_question_with_no_known_word_scores_nothing() -> None:
    index = BM25Index(CORPUS)
    assert not index.scores("what is it").any()
    assert index.top("zorblax <PERSON_1>", 3) == []
    assert BM25Index([]).top("refund", 3) == []


def test_a_title_match_counts_more_than_the_same_word_in_a_body() -> None:
    lexicon = ChunkLexicon(
        ["a", "b"],
        [
            "Returns\nYou can send anything back; a refund follows once we have it.",
            "Refunds\nMoney goes back to the card you paid with.",
        ],
        title_share=0.85,
    )
    scores = lexicon.scores("refund")
    assert lexicon.position == {"a": 0, "b": 1}
    assert scores[1] > scores[0] > 0
