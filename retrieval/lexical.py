"""Okapi BM25 over a business's masked chunks: the exact-word half of hybrid search.

Dense vectors miss rare exact words (a product code, "strikethrough", "covid"); BM25 catches them. The index
is an inverted index of numpy arrays, so scoring a question touches only the postings of its own words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from core.placeholders import without_placeholders

_WORD = re.compile(r"[a-z0-9]+")

# Function words that carry no topic; question words too, since every question has them.
_STOPWORD_LIST = """
    a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing done down during each few for from further get got had has have
    having he her here hers herself him himself his how i if in into is it its itself just let me might more
    most much must my myself no nor not now of off on once only or other ought our ours ourselves out over own
    please same shall she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself yourselves
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())


def tokenize(text: str) -> list[str]:
    """Lowercase content words, crudely singular ("orders" -> "order"); placeholders such as <PERSON_1>
    are dropped, since they say nothing about the topic and every masked text has some."""
    words = _WORD.findall(without_placeholders(text).lower())
    return [_singular(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class BM25Index:
    """Okapi BM25 (k1, b) over a fixed list of texts; rebuild it when the texts change."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.size = len(texts)
        tokenized = [tokenize(text) for text in texts]
        lengths = np.array([len(tokens) for tokens in tokenized], dtype=np.float32)
        average = float(lengths.mean()) if self.size and lengths.sum() else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for position, tokens in enumerate(tokenized):
            for term, count in Counter(tokens).items():
                rows, counts = postings.setdefault(term, ([], []))
                rows.append(position)
                counts.append(count)
        # Each posting holds the term's finished contribution to a text's score: a query only adds them up.
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._idf: dict[str, float] = {}
        for term, (rows, counts) in postings.items():
            rows_array = np.array(rows, dtype=np.int32)
            tf = np.array(counts, dtype=np.float32)
            idf = math.log(1.0 + (self.size - len(rows) + 0.5) / (len(rows) + 0.5))
            norm = k1 * (1.0 - b + b * lengths[rows_array] / average)
            self._postings[term] = (rows_array, (idf * tf * (k1 + 1.0) / (tf + norm)).astype(np.float32))
            self._idf[term] = idf

    def codes(self) -> frozenset[str]:
        """The terms that mix digits with letters or run to five digits or more."""
        return frozenset(
            term
            for term in self._postings
            if any(ch.isdigit() for ch in term) and (not term.isdigit() or len(term) >= 5)
        )

    @property
    def idf(self) -> Mapping[str, float]:
        """Each indexed term's inverse document frequency: how rare it is among the texts."""
        return self._idf

    def terms_in(self, min_rows: int) -> frozenset[str]:
        """The terms at least `min_rows` of the texts hold."""
        return frozenset(term for term, (rows, _) in self._postings.items() if len(rows) >= min_rows)

    def scores(self, query: str) -> np.ndarray:
        """Normalised BM25 of every text: 1.0 means every query word occurs (once, in a text of average
        length); more is clipped. The scale is the query's own total idf, so it means the same for
        every question and business, unlike dividing by the best score of the moment."""
        result = np.zeros(self.size, dtype=np.float32)
        words = list(dict.fromkeys(tokenize(query)))
        if not any(word in self._postings for word in words):
            return result
        for word in words:
            if word in self._postings:
                rows, weights = self._postings[word]
                result[rows] += weights
        # Words the texts never use count in the scale too: a question matched by half scores about half.
        total = sum(self._idf.get(word, self._unseen_idf) for word in words)
        return np.minimum(result / total, 1.0)

    @property
    def _unseen_idf(self) -> float:
        return math.log(1.0 + (self.size + 0.5) / 0.5)

    def top(self, query: str, n: int) -> list[tuple[int, float]]:
        """The n best (position, normalised score) pairs with a score above zero, best first."""
        scores = self.scores(query)
        n = min(n, int(np.count_nonzero(scores)))
        if n <= 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best]


class ChunkLexicon:
    """BM25 over a business's chunks, two fields: the context line (document title and headings, the
    first line of every chunk) and the whole chunk. In an FAQ or help page the title is the question, so
    a match there says more than the same words deep in an answer."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], *, title_share: float) -> None:
        self.ids = list(ids)
        self.position = {vector_id: i for i, vector_id in enumerate(self.ids)}
        self._title_share = title_share
        self._context = BM25Index([text.partition("\n")[0] for text in texts])
        self._whole = BM25Index(texts)

    def vocabulary(self, min_chunks: int) -> frozenset[str]:
        """The words (lower case, as indexed) that at least `min_chunks` of the chunks use, and every code
        with a digit that any chunk uses (a SKU, a model number: no customer's identifier)."""
        return self._whole.terms_in(min_chunks) | self._whole.codes()

    @property
    def idf(self) -> Mapping[str, float]:
        """Each term's idf among the whole chunks."""
        return self._whole.idf

    def scores(self, query: str) -> np.ndarray:
        """Every chunk's lexical score in 0..1, in the order of `ids`."""
        share = self._title_share
        return share * self._context.scores(query) + (1.0 - share) * self._whole.scores(query)
