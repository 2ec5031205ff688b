"""Hybrid search over real Chroma collections: fusion, tenants, disabled chunks, the cross-process cache."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from retrieval.search import LEXICAL_WEIGHT, Retriever, search_query
from retrieval.store import IndexedChunk, KnowledgeIndex, build_chroma_client, close_chroma_client

Row = tuple[str, int, str, str]  # vector id, document id, title, body


def chunks(embeddings: Embeddings, rows: list[Row], *, enabled: bool = True) -> list[IndexedChunk]:
    texts = [f"{title}\n{body}" for _id, _doc, title, body in rows]
    return [
        IndexedChunk(
            vector_id,
            text,
            vector,
            {"document_id": document_id, "title": title, "ordinal": 0, "enabled": enabled},
        )
        for (vector_id, document_id, title, _body), text, vector in zip(
            rows, texts, embeddings.embed_documents(texts), strict=True
        )
    ]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[KnowledgeIndex]:
    client = build_chroma_client(url=None, path=tmp_path / "chroma")
    yield KnowledgeIndex(client)
    close_chroma_client(client)


def test_a_write_larger_than_chromas_batch_limit_is_sent_in_batches(index: KnowledgeIndex) -> None:
    # The embedded store refuses one write of more than 5,461 items.
    many = [
        IndexedChunk(
            f"v{i}",
            f"passage {i}",
            [float(i % 7), 1.0, 0.5],
            {"document_id": 1, "ordinal": i, "enabled": True},
        )
        for i in range(6_000)
    ]
    index.add(1, many)
    assert index.count(1) == 6_000
    index.delete(1, [c.vector_id for c in many])
    assert index.count(1) == 0


BAKERY: list[Row] = [
    ("hours", 1, "Opening hours", "We open 8am to 6pm, Monday to Saturday, and close on Sundays."),
    ("refunds", 2, "Refunds", "Refunds are paid to your card within 14 days of the return reaching us."),
    ("delivery", 3, "Delivery", "We deliver within 5 miles; delivery is free over 30 pounds."),
    ("allergens", 4, "Allergens", "Gluten free loaves are baked on Tuesdays in a separate oven."),
    ("trade", 5, "Trade accounts", "Cafes can order wholesale with trade code XR-2291 for 20% off."),
]


def test_hybrid_search_finds_exact_words_and_keeps_the_cosine_as_score(
    index: KnowledgeIndex, embeddings: Embeddings
) -> None:
    index.add(1, chunks(embeddings, BAKERY))
    retriever = Retriever(embeddings, index, top_k=3)

    passages = retriever.search(1, "Hi, I'm <PERSON_1>. Is XR-2291 still valid?")

    assert passages[0].vector_id == "trade"
    assert [p.document_id for p in passages] == list(dict.fromkeys(p.document_id for p in passages))
    assert len(passages) == 3
    query = embeddings.embed_query("Is XR-2291 still valid?")
    for passage in passages:
        stored = embeddings.embed_documents([passage.text])[0]
        assert passage.score == pytest.approx(
            sum(a * b for a, b in zip(query, stored, strict=True)), abs=1e-4
        )


@pytest.mark.parametrize(
    ("message", "searched"),
    [
        ("Hi, I'm <PERSON_1>, my number is <PHONE_NUMBER_1>. Do you deliver?", "Do you deliver?"),
        ("I'm <PERSON_1> (<EMAIL_ADDRESS_1>, <PHONE_NUMBER_1>). Do you deliver?", "Do you deliver?"),
        (
            "Good morning!\nMy name is <PERSON_1>\nI ordered a cake for Saturday. Can I change it?",
            "I ordered a cake for Saturday. Can I change it?",
        ),
        # The context before a question is the topic; the question alone would say nothing.
        (
            "I'd like to share an album on fb with a friend who is not on facebook. Is this possible?",
            "I'd like to share an album on fb with a friend who is not on facebook. Is this possible?",
        ),
        ("A cake for 20 people. How much?", "A cake for 20 people. How much?"),
        (
            "Great. My card is <CREDIT_CARD_1> and I live at <LOCATION_1>, London. Do you sell vegan cakes?",
            "Do you sell vegan cakes?",
        ),
        ("My order <ID_NUMBER_1> hasn't arrived. Where is it?", "My order hasn't arrived. Where is it?"),
        ("Can <PERSON_1> collect my order?", "Can collect my order?"),
        ("Is version 2.0 out... already?", "Is version 2.0 out... already?"),
        ("Thanks!!", "Thanks!!"),
        ("<PERSON_1>", ""),
    ],
)
def test_search_query_drops_small_talk_and_placeholders_and_keeps_every_sentence_on_the_topic(
    message: str, searched: str
) -> None:
    assert search_query(message) == searched


class TableEmbeddings(Embeddings):
    """Fixed vectors for known texts, so the fusion can be checked to the digit. A single word not in the
    table (the retriever embeds a question's words to find the knowledge base's topic words) is orthogonal
    to every chunk, so it is never one; any other text must be in the table."""

    def __init__(self, table: dict[str, list[float]], off_topic: list[float] | None = None) -> None:
        self.table = table
        self.off_topic = off_topic or OFF_TOPIC

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[text] if " " in text else self.table.get(text, self.off_topic) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


OFF_TOPIC = [0.0, 0.0, 1.0]


def unit(cosine: float) -> list[float]:
    """A unit vector with this cosine to (1, 0, 0)."""
    return [cosine, math.sqrt(1.0 - cosine * cosine), 0.0]


def test_fusion_never_drops_a_strong_dense_hit(index: KnowledgeIndex) -> None:
    question = "When can I collect my cake?"
    strong = "Pick-ups\nOrders are ready from noon the day after you place them."
    keyword_rich = [
        f"Cake {n}\nCollect your cake: cake collection, cake tins, cakes to collect {n}." for n in range(6)
    ]
    # The keyword-rich texts sit just more than LEXICAL_WEIGHT below the strong hit in cosine.
    low = 0.97 - LEXICAL_WEIGHT
    table = {question: [1.0, 0.0, 0.0], strong: unit(0.97), **{text: unit(low) for text in keyword_rich}}
    embeddings = TableEmbeddings(table)
    rows = [("strong", 1, "Pick-ups", strong.split("\n")[1])]
    rows += [(f"cake{n}", 10 + n, f"Cake {n}", text.split("\n")[1]) for n, text in enumerate(keyword_rich)]
    index.add(1, chunks(embeddings, rows))

    passages = Retriever(embeddings, index, top_k=4).search(1, question)

    assert passages[0].vector_id == "strong"
    assert passages[0].score == pytest.approx(0.97, abs=1e-5)
    assert [p.score for p in passages[1:]] == pytest.approx([low] * 3, abs=1e-5)
    # Among equals in cosine, BM25 decides: the fused order is not the insertion order by accident.
    assert all(p.vector_id.startswith("cake") for p in passages[1:])


def test_bm25_lifts_a_close_second_over_the_dense_first(index: KnowledgeIndex) -> None:
    question = "Do you sell sourdough?"
    table = {
        question: [1.0, 0.0, 0.0],
        "Breads\nOur loaves are baked fresh every morning.": unit(0.80),
        "Sourdough\nSourdough is sold on Fridays only.": unit(0.78),
    }
    embeddings = TableEmbeddings(table)
    index.add(
        1,
        chunks(
            embeddings,
            [
                ("breads", 1, "Breads", "Our loaves are baked fresh every morning."),
                ("sourdough", 2, "Sourdough", "Sourdough is sold on Fridays only."),
            ],
        ),
    )

    passages = Retriever(embeddings, index).search(1, question)

    assert [(p.vector_id, round(p.score, 4)) for p in passages] == [("sourdough", 0.78), ("breads", 0.8)]


def test_the_sentence_before_a_question_decides_what_is_searched(index: KnowledgeIndex) -> None:
    # Only the texts in the table can be embedded: searching "Can I change it?" alone would fail.
    searched = "I ordered a birthday cake for Saturday. Can I change it?"
    table = {
        searched: [1.0, 0.0, 0.0],
        "Cake orders\nCake orders can be changed until two days before collection.": unit(0.8),
        "Account\nChange your password in the app settings.": unit(0.3),
    }
    embeddings = TableEmbeddings(table)
    index.add(
        1,
        chunks(
            embeddings,
            [
                ("cakes", 1, "Cake orders", "Cake orders can be changed until two days before collection."),
                ("account", 2, "Account", "Change your password in the app settings."),
            ],
        ),
    )

    passages = Retriever(embeddings, index).search(1, f"Hello, this is <PERSON_1>. {searched}")

    assert [(p.vector_id, round(p.score, 4)) for p in passages] == [("cakes", 0.8), ("account", 0.3)]


def test_a_question_naming_the_whole_knowledge_base_subject_is_also_searched_without_it(
    index: KnowledgeIndex,
) -> None:
    # Both chunks are about sprockets; the hub names the word most, the other one answers the question.
    question, without = "Where does the sprocket come from?", "Where does the come from?"
    rows: list[Row] = [
        ("hub", 1, "Sprockets", "A sprocket is a toothed wheel; sprockets drive chains."),
        ("origin", 2, "Origins", "Ours are forged in Sheffield."),
    ]
    hub, origin = (f"{title}\n{body}" for _id, _doc, title, body in rows)
    table = {
        question: [1.0, 0.0, 0.0, 0.0, 0.0],
        without: [0.0, 1.0, 0.0, 0.0, 0.0],
        "sprocket": [0.0, 0.0, 1.0, 0.0, 0.0],  # median cosine to the chunks (0.5 + 0.3) / 2: a topic word
        # Cosines to the question as asked, without "sprocket", and to "sprocket"; the rest fills the unit.
        hub: [0.8, 0.1, 0.5, math.sqrt(1 - 0.8**2 - 0.1**2 - 0.5**2), 0.0],
        origin: [0.7, 0.6, 0.3, math.sqrt(1 - 0.7**2 - 0.6**2 - 0.3**2), 0.0],
    }
    embeddings = TableEmbeddings(table, off_topic=[0.0, 0.0, 0.0, 0.0, 1.0])  # "come"
    index.add(1, chunks(embeddings, rows))

    focused = Retriever(embeddings, index).search(1, question)
    as_asked = Retriever(embeddings, index, focus_share=0.0).search(1, question)

    # Focused: origin 0.5 x 0.7 + 0.5 x 0.6 = 0.65 beats hub 0.5 x 0.8 + 0.5 x 0.1 + BM25 ("sprocket") 0.15 at
    # most. The score stays the cosine to the question as asked.
    assert [(p.vector_id, round(p.score, 4)) for p in focused] == [("origin", 0.7), ("hub", 0.8)]
    assert [(p.vector_id, round(p.score, 4)) for p in as_asked] == [("hub", 0.8), ("origin", 0.7)]


EBIKES: list[Row] = [
    (
        "what",
        1,
        "What is an e-bike?",
        "An e-bike is a bicycle with a battery and a motor that helps you pedal.",
    ),
    ("made", 2, "Where are our e-bikes made?", "Every frame is welded in our workshop in Utrecht, by hand."),
    ("range", 3, "How far can an e-bike go on one charge?", "A full battery lasts 60 to 120 km."),
    (
        "charging",
        4,
        "How do I charge the battery?",
        "Plug the charger into any wall socket; it takes 4 hours.",
    ),
    ("service", 5, "Do you offer e-bike servicing?", "Yes: we check brakes, motor and battery once a year."),
    ("price", 6, "What does an e-bike cost?", "Our e-bikes start at 1,900 euros; the cargo e-bike is 3,400."),
    ("test", 7, "Can I test ride an e-bike?", "Book a free test ride of any e-bike, Tuesday to Saturday."),
]


@pytest.mark.parametrize(
    ("question", "as_asked", "focused"),
    [
        ("where do the e-bikes come from", ["what", "made"], ["made", "what"]),
        ("who builds the e-bike", ["what", "made"], ["made", "what"]),
        # The definition also gives up second place to the passage on what was asked.
        ("how long does an e-bike battery take to charge", ["range", "what"], ["range", "charging"]),
        # Where the definition is the best answer ("is the fast" is searched too), it stays first.
        ("is the e-bike fast", ["what", "test"], ["what", "test"]),
    ],
)
def test_the_subject_of_a_whole_knowledge_base_no_longer_pulls_questions_to_its_definition(
    index: KnowledgeIndex, embeddings: Embeddings, question: str, as_asked: list[str], focused: list[str]
) -> None:
    # A shop that sells e-bikes only: "e-bike" is in every passage, so it cannot say which one answers.
    index.add(1, chunks(embeddings, EBIKES))

    before = Retriever(embeddings, index, top_k=2, focus_share=0.0).search(1, question)
    after = Retriever(embeddings, index, top_k=2).search(1, question)

    assert [p.vector_id for p in before] == as_asked
    assert [p.vector_id for p in after] == focused


@pytest.mark.parametrize("memory_search_chunks", [10_000, 0], ids=["in-memory", "chroma"])
def test_disabled_chunks_are_never_returned(
    index: KnowledgeIndex, embeddings: Embeddings, memory_search_chunks: int
) -> None:
    hidden: list[Row] = [("staff", 9, "Staff discount", "Staff discount code STAFF50 gives 50% off.")]
    index.add(1, chunks(embeddings, BAKERY))
    index.add(1, chunks(embeddings, hidden, enabled=False))
    retriever = Retriever(embeddings, index, top_k=10, memory_search_chunks=memory_search_chunks)

    assert "staff" not in {p.vector_id for p in retriever.search(1, "staff discount code STAFF50", k=10)}
    assert "staff" not in retriever.lexicon(1).ids

    index.set_enabled(1, ["staff"], True)
    assert retriever.search(1, "staff discount code STAFF50")[0].vector_id == "staff"
    index.set_enabled(1, ["staff"], False)  # moves the version: out of both searches at once
    assert "staff" not in {p.vector_id for p in retriever.search(1, "staff discount code STAFF50", k=10)}
    if memory_search_chunks:
        return
    # Chroma's answers carry the metadata as it is now: enabled, then disabled behind the cache's back (no
    # version bump), a chunk is still never returned.
    index.add(1, chunks(embeddings, hidden))
    assert retriever.search(1, "staff discount code STAFF50")[0].vector_id == "staff"
    collection = index._collection(1)
    collection.update(
        ids=["staff"], metadatas=[{"document_id": 9, "title": "Staff discount", "enabled": False}]
    )
    assert "staff" in retriever.lexicon(1).ids  # the stale index still has it...
    assert "staff" not in {p.vector_id for p in retriever.search(1, "staff discount code STAFF50", k=10)}


def test_a_business_never_sees_another_business_chunks(index: KnowledgeIndex, embeddings: Embeddings) -> None:
    other: list[Row] = [
        ("b-trade", 50, "Trade accounts", "Cafes can order wholesale with trade code XR-2291 for 20% off."),
        (
            "b-secret",
            51,
            "Wholesale prices",
            "Wholesale flour costs 12 pounds a sack for trade code holders.",
        ),
    ]
    index.add(1, chunks(embeddings, BAKERY[:3]))
    index.add(2, chunks(embeddings, other))
    retriever = Retriever(embeddings, index, top_k=10)

    seen_by_1 = retriever.search(1, "wholesale trade code XR-2291 flour prices", k=10)
    seen_by_2 = retriever.search(2, "opening hours refunds delivery", k=10)

    assert {p.vector_id for p in seen_by_1} == {"hours", "refunds", "delivery"}
    assert {p.vector_id for p in seen_by_2} == {"b-trade", "b-secret"}
    assert retriever.search(3, "wholesale trade code") == []


def test_the_lexical_index_follows_writes_from_another_process(
    tmp_path: Path, chroma_mode: dict[str, str], embeddings: Embeddings
) -> None:
    # Two clients, as two processes would have; in server mode two HTTP clients of one Chroma server.
    prefix = chroma_mode.get("chroma_collection_prefix") or f"t{uuid.uuid4().hex[:8]}"
    clients = [build_chroma_client(url=chroma_mode.get("chroma_url"), path=tmp_path / "chroma") for _ in "rw"]
    reader, writer = (KnowledgeIndex(client, prefix, version_check_s=0) for client in clients)
    try:
        _follow_writes(Retriever(embeddings, reader), reader, writer, embeddings)
        _follow_writes(Retriever(embeddings, reader, memory_search_chunks=0), reader, writer, embeddings, 8)
    finally:
        if "chroma_url" not in chroma_mode:
            # Not HTTP clients: closing one drops Chroma's httpx session unclosed (a ResourceWarning).
            for client in clients:
                client.close()


def _follow_writes(
    retriever: Retriever,
    reader: KnowledgeIndex,
    writer: KnowledgeIndex,
    embeddings: Embeddings,
    business_id: int = 7,
) -> None:
    writer.add(business_id, chunks(embeddings, BAKERY[:2]))
    first = retriever.lexicon(business_id)
    assert sorted(first.ids) == ["hours", "refunds"]
    assert retriever.lexicon(business_id) is first  # nothing changed: no rebuild

    writer.add(business_id, chunks(embeddings, BAKERY[4:]))
    assert sorted(retriever.lexicon(business_id).ids) == ["hours", "refunds", "trade"]
    assert retriever.search(business_id, "trade code XR-2291")[0].vector_id == "trade"

    writer.delete(business_id, ["trade"])
    assert sorted(retriever.lexicon(business_id).ids) == ["hours", "refunds"]
    assert "trade" not in {p.vector_id for p in retriever.search(business_id, "trade code XR-2291")}

    # Same text again under the same id: a new version all the same, so an edit is never missed.
    before = reader.version(business_id)
    writer.add(business_id, chunks(embeddings, BAKERY[:1]))
    assert reader.version(business_id) != before


def test_another_process_writes_show_once_the_version_check_interval_has_passed(
    tmp_path: Path, embeddings: Embeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("retrieval.store.time.monotonic", lambda: now[0])
    clients = [build_chroma_client(url=None, path=tmp_path / "chroma") for _ in "rw"]
    reader = KnowledgeIndex(clients[0], "vc", version_check_s=1.0)
    writer = KnowledgeIndex(clients[1], "vc")
    try:
        retriever = Retriever(embeddings, reader)
        writer.add(7, chunks(embeddings, BAKERY[:2]))
        assert sorted(retriever.lexicon(7).ids) == ["hours", "refunds"]
        writer.add(7, chunks(embeddings, BAKERY[4:]))
        now[0] += 0.5
        assert sorted(retriever.lexicon(7).ids) == ["hours", "refunds"]  # within the interval: not asked
        now[0] += 0.6
        assert sorted(retriever.lexicon(7).ids) == ["hours", "refunds", "trade"]
        # A write through the reader's own index is seen at once.
        reader.delete(7, ["trade"])
        assert sorted(retriever.lexicon(7).ids) == ["hours", "refunds"]
    finally:
        for client in clients:
            client.close()


def test_an_empty_or_unknown_knowledge_base_returns_nothing(
    index: KnowledgeIndex, embeddings: Embeddings
) -> None:
    retriever = Retriever(embeddings, index)
    assert retriever.search(1, "opening hours") == []
    assert retriever.search(1, "   ") == []
    index.add(1, chunks(embeddings, BAKERY[:1]))
    assert [p.vector_id for p in retriever.search(1, "<PERSON_1>, what is it?")] == ["hours"]


def test_the_vocabulary_is_the_words_three_chunks_use_and_follows_the_knowledge_base(
    index: KnowledgeIndex, embeddings: Embeddings
) -> None:
    retriever = Retriever(embeddings, index)
    assert retriever.vocabulary(1) == frozenset()
    index.add(1, chunks(embeddings, BAKERY))
    # "we" is a stop word; "delivery" is in one chunk's title and body, "refunds" in one chunk only; a code
    # with a digit counts from one chunk (a SKU, a model number, here a time: no customer's identifier).
    assert retriever.vocabulary(1) == frozenset({"6pm", "8am"})
    index.add(
        1,
        chunks(
            embeddings,
            [
                (f"covid-{n}", 10 + n, f"Covid question {n}", f"Corona and Covid {topic}.")
                for n, topic in enumerate(["symptoms", "testing", "travel"])
            ],
        ),
    )
    assert {"covid", "corona", "question"} <= retriever.vocabulary(1)
    assert "symptom" not in retriever.vocabulary(1)
    assert retriever.vocabulary(2) == frozenset()  # another business's knowledge base is its own


@pytest.mark.parametrize(
    "question",
    ["When do you open on Saturday?", "Is XR-2291 still valid?", "gluten free", "Can I get my money back?"],
)
def test_the_in_memory_search_ranks_and_scores_as_chroma_does(
    index: KnowledgeIndex, embeddings: Embeddings, question: str
) -> None:
    index.add(1, chunks(embeddings, BAKERY))
    index.add(1, chunks(embeddings, [("staff", 9, "Staff discount", "Staff code STAFF50.")], enabled=False))
    in_memory = Retriever(embeddings, index, top_k=5)
    by_chroma = Retriever(embeddings, index, top_k=5, memory_search_chunks=0)
    assert in_memory._indexes(1).memory is not None and by_chroma._indexes(1).memory is None

    def found(retriever: Retriever) -> list[tuple[str, str, float, float, float]]:
        candidates = retriever.scored_candidates(1, question, 30)
        return sorted((c.vector_id, c.text, c.similarity, c.lexical, c.focused) for c in candidates)

    assert [v for v, *_ in found(in_memory)] == [v for v, *_ in found(by_chroma)]
    for memory, chroma in zip(found(in_memory), found(by_chroma), strict=True):
        assert memory[:2] == chroma[:2] and memory[2:] == pytest.approx(chroma[2:], abs=1e-5)
    memory_passages, chroma_passages = in_memory.search(1, question), by_chroma.search(1, question)
    assert [(p.vector_id, p.text) for p in memory_passages] == [
        (p.vector_id, p.text) for p in chroma_passages
    ]
    assert [p.score for p in memory_passages] == pytest.approx([p.score for p in chroma_passages], abs=1e-5)
    assert "staff" not in {c.vector_id for c in in_memory.scored_candidates(1, "staff code STAFF50", 30)}
