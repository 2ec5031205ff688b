"""Search a business's knowledge base with a (masked) question: dense vectors and BM25, fused.

The dense half embeds the question twice when it names what the whole knowledge base is about: as asked, and
without those words (`retrieval.topics`), so a subject every passage shares cannot pick the passage."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from sqlmodel import Session, col, select

from core.placeholders import PLACEHOLDER, without_placeholders
from retrieval.lexical import ChunkLexicon, tokenize
from retrieval.models import KnowledgeChunk, KnowledgeDocument
from retrieval.store import Hit, KnowledgeIndex, StoredChunks, cosines
from retrieval.topics import TopicProfile

# Fusion: fused = cosine + LEXICAL_WEIGHT * bm25, bm25 normalised to 0..1 (see `BM25Index.scores`).
# One setting for every business, tuned on covidfaq and stackfaq together (benchmarks/retrieval.py).
# A passage can only overtake one whose cosine is higher by less than LEXICAL_WEIGHT, so a strong
# dense match is never buried under keyword matches; naive reciprocal-rank fusion did exactly that.
LEXICAL_WEIGHT = 0.15
# How much of the BM25 score comes from the context line (title, headings) rather than the whole chunk.
TITLE_SHARE = 0.85
# The dense half of the fused score: (1 - FOCUS_SHARE) x the cosine to the question as asked + FOCUS_SHARE x
# the cosine to the question without the words the whole knowledge base is about (`retrieval.topics`).
# Tuned with TOPIC_SIMILARITY on the even-numbered questions of both benchmark sets.
FOCUS_SHARE = 0.5
# A word this many of a business's chunks use is its vocabulary ("Covid" in a health FAQ): the masker lets
# spaCy's guess that such a lone word is a customer's name go (privacy/detect.py, `vocabulary`).
VOCABULARY_CHUNKS = 3
# Knowledge bases up to this many chunks are searched in memory, exactly, beside the BM25 index that holds
# their texts anyway (`_MemoryChunks`: 1.5 KB a chunk, 15 MB at most per business). A query there costs
# tens of microseconds where a Chroma query cost 2 ms embedded and a round trip to a server; larger ones
# are searched by Chroma's HNSW index.
MEMORY_SEARCH_CHUNKS = 10_000


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. `text` and `title` are masked. `score` is the dense cosine similarity (-1..1),
    whatever the order: the bot compares it with `min_confidence`, and a keyword match alone must not
    make it sure of an answer. Passages are ordered by the fused score."""

    vector_id: str
    document_id: int
    title: str
    text: str
    score: float


@dataclass(frozen=True)
class Candidate:
    """A chunk found by either path, with its scores."""

    vector_id: str
    text: str
    metadata: dict[str, Any]
    similarity: float  # dense cosine to the question
    lexical: float  # normalised BM25, 0..1
    focused: float  # dense cosine to the question without its topic words (`similarity` if it has none)


# Split after each run of sentence ends ("?!", "..."); the pieces join back into the exact text.
_SENTENCE_END = re.compile(r"(?<=[.!?\n])(?=[^.!?\n])")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
# Greetings, thanks and introductions: a sentence of these words and placeholders alone ("Hi, I'm <PERSON_1>,
# my number is <PHONE_NUMBER_1>.") is about the sender, not the topic, and only pulls the vector off it.
_SMALL_TALK = frozenset(
    tokenize(
        """hi hello hey hiya dear greetings good morning afternoon evening thanks thank thx cheers regards kind
        best ok okay yes yeah sure great name called number phone mobile whatsapp email mail address contact
        card live living born birthday"""
    )
)


def search_query(masked_text: str) -> str:
    """What to search for: the message without its placeholders and without the sentences that only greet,
    thank or introduce the sender ("Hi, I'm <PERSON_1>, my number is <PHONE_NUMBER_1>. Do you deliver?" ->
    "Do you deliver?"). Every other sentence stays, question or not: in "I shared an album on fb with a
    friend who is not on facebook. Is this possible?" the question alone says nothing."""
    kept = "".join(piece for piece in _SENTENCE_END.split(masked_text) if not _is_small_talk(piece))
    text = without_placeholders(kept)
    if not _LETTER_OR_DIGIT.search(text):
        # Small talk alone ("Thanks!") is searched whole: there is nothing better to go on.
        text = without_placeholders(masked_text)
    return " ".join(text.split())


def _is_small_talk(sentence: str) -> bool:
    words = tokenize(sentence)
    topical = [word for word in words if word not in _SMALL_TALK]
    if PLACEHOLDER.search(sentence) is not None and "?" not in sentence:
        # A statement of the sender's details with one word besides ("My card is <CREDIT_CARD_1> and I live
        # at <LOCATION_1>, London."); "My order <ID_NUMBER_1> hasn't arrived." says more and stays.
        return len(topical) <= 1
    # "How much?" has no content word either, but it is a question about the topic: keep it.
    return not topical and len(words) > 0


def current_passages(session: Session, business_id: int, passages: list[Passage]) -> list[Passage]:
    """The passages whose chunk the database still holds, in a document still enabled, in order.

    The database is what a delete, a disable or a new version of a document has changed for every process
    by the time its request returned; another process's in-memory index can lag by `version_check_s`, and
    Chroma holds a new version's vectors beside the old ones until its chunk rows are committed. So an
    answer never quotes a document deleted or disabled a moment ago, nor two versions of one."""
    if not passages:
        return []
    live = set(
        session.exec(
            select(KnowledgeChunk.vector_id)
            .join(KnowledgeDocument, col(KnowledgeDocument.id) == KnowledgeChunk.document_id)
            .where(
                col(KnowledgeChunk.vector_id).in_([p.vector_id for p in passages]),
                KnowledgeDocument.business_id == business_id,
                col(KnowledgeDocument.enabled).is_(True),
            )
        ).all()
    )
    return [p for p in passages if p.vector_id in live]


@dataclass(frozen=True)
class _CachedIndexes:
    """What the Retriever keeps per business beside Chroma, with the collection version it was built from."""

    version: str
    lexicon: ChunkLexicon
    profile: TopicProfile
    vocabulary: frozenset[str]
    memory: _MemoryChunks | None  # None over `memory_search_chunks`: Chroma searches it


class _MemoryChunks:
    """A knowledge base's enabled chunks as stored (masked text, metadata, unit vector), searched exactly."""

    def __init__(self, stored: StoredChunks, keep: list[int]) -> None:
        self.ids = [stored.ids[i] for i in keep]
        self.texts = [stored.texts[i] for i in keep]
        self.metadatas = [stored.metadatas[i] for i in keep]
        self.vectors = stored.vectors[keep] if keep else np.zeros((0, 0), dtype=np.float32)
        self._norms = np.maximum(np.linalg.norm(self.vectors, axis=1), 1e-12)
        self.position = {vector_id: i for i, vector_id in enumerate(self.ids)}

    def nearest(self, vector: np.ndarray, n: int) -> list[Hit]:
        """The n chunks of highest cosine similarity to `vector`, best first (as a Chroma query would)."""
        if not self.ids:
            return []
        similarity = (self.vectors @ vector) / (self._norms * max(float(np.linalg.norm(vector)), 1e-12))
        if n < len(similarity):
            top = np.argpartition(-similarity, n)[:n]
            best = top[np.argsort(-similarity[top], kind="stable")]
        else:
            best = np.argsort(-similarity, kind="stable")
        return [self._hit(int(i), float(similarity[i])) for i in best]

    def hits(self, vector_ids: list[str], vector: np.ndarray) -> list[Hit]:
        """These chunks as `nearest` would give them (ids not here are left out)."""
        rows = [self.position[v] for v in vector_ids if v in self.position]
        if not rows:
            return []
        similarity = cosines(self.vectors[rows], vector)
        return [self._hit(row, float(s)) for row, s in zip(rows, similarity, strict=True)]

    def _hit(self, row: int, similarity: float) -> Hit:
        return Hit(self.ids[row], self.texts[row], self.metadatas[row], similarity, self.vectors[row])


class Retriever:
    """Hybrid retrieval over one business's collection, best passage first, one passage per document.

    Lexical candidates come from a BM25 index of the collection's masked chunks, dense ones from an exact
    search of the same chunks' vectors in memory, or from Chroma's index for a knowledge base over
    `memory_search_chunks`. What is held in memory (chunks, BM25 index, topic profile) is read from Chroma
    per business and rebuilt when the collection's version token changes: at once in the process that wrote,
    within the index's `version_check_s` (1 s) in every other API and worker process that shares Chroma. So
    a deleted or disabled chunk is out of every search a second after the change at most.
    """

    def __init__(
        self,
        embeddings: Embeddings,
        index: KnowledgeIndex,
        *,
        top_k: int = 4,
        lexical_weight: float = LEXICAL_WEIGHT,
        title_share: float = TITLE_SHARE,
        focus_share: float = FOCUS_SHARE,
        candidates: int = 30,
        cached_businesses: int = 64,
        memory_search_chunks: int = MEMORY_SEARCH_CHUNKS,
    ) -> None:
        self.embeddings = embeddings
        self.index = index
        self.top_k = top_k
        self.lexical_weight = lexical_weight
        self.title_share = title_share
        self.focus_share = focus_share
        self.candidates = candidates
        self._cached_businesses = cached_businesses
        self._memory_search_chunks = memory_search_chunks
        self._cache: OrderedDict[int, _CachedIndexes] = OrderedDict()
        self._lock = threading.Lock()

    def search(self, business_id: int, query: str, k: int | None = None) -> list[Passage]:
        """The k best passages (`top_k` by default) for a masked message, by fused score."""
        if not query.strip():
            return []
        k = k or self.top_k
        found = self.scored_candidates(business_id, query, max(k * 3, self.candidates))
        found.sort(key=lambda c: (self.fused(c), c.similarity), reverse=True)
        passages: list[Passage] = []
        seen_documents: set[int] = set()
        for candidate in found:
            document_id = int(candidate.metadata.get("document_id", -1))
            if document_id in seen_documents:
                continue
            seen_documents.add(document_id)
            title = str(candidate.metadata.get("title", ""))
            passages.append(
                Passage(candidate.vector_id, document_id, title, candidate.text, candidate.similarity)
            )
            if len(passages) == k:
                break
        return passages

    def fused(self, candidate: Candidate) -> float:
        """The score passages are ordered by: dense (as asked and focused) plus weighted BM25."""
        dense = (1.0 - self.focus_share) * candidate.similarity + self.focus_share * candidate.focused
        return dense + self.lexical_weight * candidate.lexical

    def scored_candidates(self, business_id: int, query: str, n: int) -> list[Candidate]:
        """The n best chunks by dense score and the n best by BM25, enabled ones only, with all scores."""
        text = search_query(query)
        asked = np.asarray(self.embeddings.embed_query(text), dtype=np.float32)
        cached = self._indexes(business_id)
        focused = asked
        if self.focus_share > 0:
            without = cached.profile.without_topic_words(text, self.embeddings)
            if without is not None:
                focused = np.asarray(self.embeddings.embed_query(without), dtype=np.float32)
        # The nearest chunks to the mean of the two unit vectors are the best by the mix of their cosines.
        searched = (1.0 - self.focus_share) * asked + self.focus_share * focused
        memory = cached.memory
        hits = memory.nearest(searched, n) if memory else self.index.query(business_id, searched.tolist(), n)
        lexicon = cached.lexicon
        lexical = lexicon.scores(text)

        def lexical_of(vector_id: str) -> float:
            position = lexicon.position.get(vector_id)
            return float(lexical[position]) if position is not None else 0.0

        best = np.argsort(-lexical, kind="stable")[: min(n, int(np.count_nonzero(lexical)))]
        dense_ids = {hit.vector_id for hit in hits}
        missing = [lexicon.ids[i] for i in best if lexicon.ids[i] not in dense_ids]
        hits += (
            memory.hits(missing, asked) if memory else self.index.score(business_id, asked.tolist(), missing)
        )
        if not hits:
            return []
        vectors = np.stack([hit.vector for hit in hits])
        similarity = cosines(vectors, asked)
        focus = similarity if focused is asked else cosines(vectors, focused)
        found = [
            Candidate(
                hit.vector_id,
                hit.text,
                hit.metadata,
                float(similarity[i]),
                lexical_of(hit.vector_id),
                float(focus[i]),
            )
            for i, hit in enumerate(hits)
        ]
        # Chroma's answers include chunks disabled since the BM25 index was built: those are out too.
        return [c for c in found if c.metadata.get("enabled", True)]

    def lexicon(self, business_id: int) -> ChunkLexicon:
        """The business's BM25 index, rebuilt when its collection's version token has moved."""
        return self._indexes(business_id).lexicon

    def term_weights(self, business_id: int) -> Mapping[str, float]:
        """How rare each word is among the business's chunks (idf): what an answer's choice of sentence
        weighs question words by."""
        return self._indexes(business_id).lexicon.idf

    def vocabulary(self, business_id: int) -> frozenset[str]:
        """The words (lower case) that at least `VOCABULARY_CHUNKS` of the business's chunks use."""
        return self._indexes(business_id).vocabulary

    def profile(self, business_id: int) -> TopicProfile:
        """What the business's knowledge base as a whole is about, rebuilt with the lexicon."""
        return self._indexes(business_id).profile

    def _indexes(self, business_id: int) -> _CachedIndexes:
        version = self.index.version(business_id)
        with self._lock:
            cached = self._cache.get(business_id)
            if cached is not None and cached.version == version:
                self._cache.move_to_end(business_id)
                return cached
        stored = self.index.documents(business_id)
        keep = [i for i, meta in enumerate(stored.metadatas) if meta.get("enabled", True)]
        lexicon = ChunkLexicon(
            [stored.ids[i] for i in keep], [stored.texts[i] for i in keep], title_share=self.title_share
        )
        profile = TopicProfile(stored.vectors[keep] if keep else stored.vectors[:0])
        memory = _MemoryChunks(stored, keep) if len(keep) <= self._memory_search_chunks else None
        cached = _CachedIndexes(
            stored.version, lexicon, profile, lexicon.vocabulary(VOCABULARY_CHUNKS), memory
        )
        with self._lock:
            self._cache[business_id] = cached
            self._cache.move_to_end(business_id)
            while len(self._cache) > self._cached_businesses:
                self._cache.popitem(last=False)
        return cached
