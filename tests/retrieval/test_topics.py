"""Topic words of a knowledge base and the question without them, with fixed vectors instead of a model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from retrieval.topics import TopicProfile

# Three chunks of a cake shop's knowledge base: each one is mostly about cakes (the first axis).
CHUNKS = np.array(
    [
        [0.8, 0.6, 0.0, 0.0],
        [0.6, 0.0, 0.8, 0.0],
        [0.6, 0.0, 0.0, 0.8],
    ],
    dtype=np.float32,
)
WORDS = {
    "cake": [1.0, 0.0, 0.0, 0.0],  # cosines 0.8, 0.6, 0.6: median 0.6, the shop's subject
    "cakes": [1.0, 0.0, 0.0, 0.0],
    "sponge": [0.1, 0.0, 0.0, 0.0],  # parallel to "cake" but short: the same cosines
    "delivery": [0.0, 1.0, 0.0, 0.0],  # 0.6, 0, 0: one chunk's business, median 0
    "box": [0.0, 1.0, 0.0, 0.0],
    "cake-free": [0.0, 1.0, 0.0, 0.0],
    "ok": [0.0, 1.0, 0.0, 0.0],
    "vegan": [0.0, 0.0, 1.0, 0.0],  # 0, 0.8, 0: median 0
    "come": [0.0, 0.0, 0.0, 1.0],
    "party": [0.0, 0.0, 0.0, 1.0],
}


class WordEmbeddings(Embeddings):
    """Vectors for single words only: the profile must never embed anything else."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.seen += texts
        return [WORDS[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_topicality_is_the_median_cosine_of_a_word_to_the_chunks() -> None:
    profile = TopicProfile(CHUNKS)

    scores = profile.topicality(np.array([WORDS["cake"], WORDS["delivery"], WORDS["sponge"]]))

    assert scores.tolist() == pytest.approx([0.6, 0.0, 0.6], abs=1e-6)


@pytest.mark.parametrize(
    ("question", "without", "embedded"),
    [
        # The shop's subject goes; the rest of the question stays as it was written.
        ("Can the cake come by delivery?", "Can the come by delivery?", ["cake", "come", "delivery"]),
        ("Which cakes are vegan?", "Which are vegan?", ["cakes", "vegan"]),
        # Whole words only, in any case, each embedded once.
        (
            "Are your CAKES vegan, cake? Is a Cake-free box OK?",
            "Are your vegan, ? Is a Cake-free box OK?",
            ["cakes", "vegan", "cake", "cake-free", "box", "ok"],
        ),
        # Nothing but the subject: nothing better to search for, so no second question. A lone content word
        # is not even embedded: dropped or kept, nothing else would be searched.
        ("Cake, sponge?", None, ["cake", "sponge"]),
        ("What is a cake?", None, []),
        # Stop words and numbers are never embedded and never dropped.
        ("Is it 2 for 1?", None, []),
        ("Delivery for a vegan party", None, ["delivery", "vegan", "party"]),
    ],
)
def test_the_question_without_topic_words_keeps_every_other_word(
    question: str, without: str | None, embedded: list[str]
) -> None:
    words = WordEmbeddings()

    assert TopicProfile(CHUNKS).without_topic_words(question, words) == without
    assert words.seen == embedded


def test_a_knowledge_base_on_many_subjects_has_no_topic_words() -> None:
    # Each chunk on its own subject: no word is close to more than one of them.
    spread = np.eye(4, dtype=np.float32)[:3]

    assert (
        TopicProfile(spread).without_topic_words("Can the cake come by delivery?", WordEmbeddings()) is None
    )


def test_an_empty_knowledge_base_embeds_nothing() -> None:
    words = WordEmbeddings()

    assert (
        TopicProfile(np.zeros((0, 0), dtype=np.float32)).without_topic_words("cake delivery", words) is None
    )
    assert words.seen == []


def test_a_large_knowledge_base_is_sampled_evenly() -> None:
    # The word's cosines to five chunks; a sample of three takes the first, the middle and the last.
    cosines = [0.1, 0.9, 0.2, 0.8, 0.3]
    rows = np.array([[c, math.sqrt(1 - c * c)] for c in cosines], dtype=np.float32)
    word = np.array([[1.0, 0.0]], dtype=np.float32)

    assert TopicProfile(rows, size=3).topicality(word).tolist() == pytest.approx([0.2], abs=1e-6)
    assert TopicProfile(rows).topicality(word).tolist() == pytest.approx([0.3], abs=1e-6)
