"""The words a whole knowledge base is about, and a question without them.

In a knowledge base on one subject (a COVID-19 FAQ, a bakery's help pages) nearly every passage is about the
same thing, so a question's subject word ("coronavirus", "cake") says little about which passage answers
it. Dense vectors still weigh it heavily: "where did the coronavirus come from" lands on "What is a
coronavirus?", the one passage that names the word most, rather than on "Where did COVID-19 come from?".
So the question is also embedded without such words ("where did the come from") and the two cosines are
averaged (`retrieval.search.FOCUS_SHARE`). Which words those are is read off the knowledge base itself, for
each business, with no list: a word is a topic word when its median cosine similarity to the business's
chunks is at least `TOPIC_SIMILARITY`, that is when at least half of the knowledge base is that close to it.
A word the business never writes counts too ("corona" beside "COVID-19"), since only its vector is compared.
"""

from __future__ import annotations

import re

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.lexical import STOPWORDS

# Median cosine of a word to the chunks at or above which the word is the knowledge base's own subject.
# Tuned with FOCUS_SHARE on the even-numbered questions of covidfaq and stackfaq together
# (benchmarks/retrieval.py). Subject words sit far above it, at 0.37-0.49 in covidfaq ("coronavirus",
# "covid-19"); in stackfaq, a help site for many web apps, no word reaches 0.13, so nothing is dropped there.
TOPIC_SIMILARITY = 0.2
# Chunks compared with a word: a median over an evenly spaced sample is steady and keeps a query cheap.
PROFILE_SIZE = 256

# A word, hyphens and apostrophes inside it included ("covid-19", "what's").
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


class TopicProfile:
    """A sample of one business's chunk vectors, to tell which words its whole knowledge base is about."""

    def __init__(
        self, vectors: np.ndarray, *, threshold: float = TOPIC_SIMILARITY, size: int = PROFILE_SIZE
    ) -> None:
        rows = _matrix(vectors)
        if len(rows) > size:
            rows = rows[np.linspace(0, len(rows) - 1, size).round().astype(int)]
        self._rows = _unit(rows)
        self.threshold = threshold

    def topicality(self, word_vectors: np.ndarray) -> np.ndarray:
        """Each word's median cosine similarity to the knowledge base's chunks (0 for an empty one)."""
        words = _unit(_matrix(word_vectors))
        if not len(self._rows) or not len(words):
            return np.zeros(len(words), dtype=np.float32)
        cosines = words @ self._rows.T
        # The median by partition: np.median sorts a copy, three times slower on a question's words.
        middle = [(len(self._rows) - 1) // 2, len(self._rows) // 2]
        return np.asarray(np.partition(cosines, middle, axis=1)[:, middle].mean(axis=1), dtype=np.float32)

    def without_topic_words(self, text: str, embeddings: Embeddings) -> str | None:
        """`text` without its topic words, or None when it has none or nothing but them: "where did the
        coronavirus come from?" -> "where did the come from?". Stop words and numbers always stay; each
        other word is embedded alone (the embeddings' cache keeps the common ones)."""
        words = content_words(text)
        if len(words) < 2 or not len(self._rows):
            return None  # one content word: dropped or not, nothing else would be searched
        vectors = np.asarray(embeddings.embed_documents(words), dtype=np.float32)
        topical = {
            word
            for word, score in zip(words, self.topicality(vectors), strict=True)
            if score >= self.threshold
        }
        if not topical or len(topical) == len(words):
            return None
        kept = _WORD.sub(lambda match: " " if match.group().lower() in topical else match.group(), text)
        return " ".join(kept.split())


def content_words(text: str) -> list[str]:
    """The words of `text` that may be topic words, lower-cased, once each, in order: no stop words, no
    numbers, no single letters."""
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(text) if _is_content(word)))


def _is_content(word: str) -> bool:
    return len(word) > 1 and word.lower() not in STOPWORDS and any(char.isalpha() for char in word)


def _matrix(vectors: np.ndarray) -> np.ndarray:
    rows = np.asarray(vectors, dtype=np.float32)
    return rows if rows.ndim == 2 and rows.size else np.zeros((0, 1), dtype=np.float32)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)
