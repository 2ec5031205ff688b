"""Ingest of every supported format through real Presidio, MiniLM and Chroma."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from sqlmodel import select

from api.runtime import Runtime
from core.db import session_scope
from core.tenants import create_business
from ingest.chunking import Chunk, split_document
from ingest.loaders import load_document
from ingest.pipeline import MASK_BATCH, IngestStatus
from privacy.vault import VaultScope
from retrieval.models import DocumentStatus, KnowledgeChunk, KnowledgeDocument
from retrieval.search import Retriever, current_passages
from retrieval.store import KnowledgeIndex
from tests.conftest import make_settings
from tests.helpers import hand_written_pdf


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a real text layer: `lines` one under the other in 12-point type."""
    return hand_written_pdf(
        "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    )


def make_docx(path: Path) -> None:
    document = docx.Document()
    document.add_heading("Returns", level=1)
    document.add_paragraph("Sofas can be returned within 30 days of delivery for a full refund.")
    document.save(str(path))


@pytest.fixture
def runtime(
    tmp_path: Path, database_url: str, chroma_mode: dict[str, str], analyzer, embeddings
) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path / "var", database_url, **chroma_mode)
    rt = Runtime(settings, analyzer=analyzer, embeddings=embeddings)
    rt.migrate()
    yield rt
    rt.close()


def _business(runtime: Runtime, name: str, phone: str) -> int:
    with session_scope(runtime.engine) as session:
        business_id = create_business(session, name=name, phone_number_id=phone, box=runtime.box).id
    assert business_id is not None
    return business_id


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "shipping.md").write_text(
        "# Shipping\n\n## Europe\n\nWe ship sofas to Ireland and France in 10 working days.\n"
    )
    (folder / "care.txt").write_text(
        "Sofa care\nClean the cushions weekly with a vacuum cleaner and keep them out of direct sunlight.\n"
    )
    (folder / "stores.html").write_text(
        "<html><head><title>Our stores</title></head><body><nav>Home | Shop | Cart</nav>"
        "<main><h1>Our stores</h1><p>The Leeds showroom opens at 10 am every day.</p></main>"
        "<footer>Cookie settings</footer></body></html>"
    )
    (folder / "faq.csv").write_text(
        "Question,Answer\nDo you assemble sofas?,Yes: assembly is free with delivery.\n"
    )
    (folder / "warranty.pdf").write_bytes(minimal_pdf(["Every frame has a 15 year warranty."]))
    make_docx(folder / "returns.docx")
    return folder


def test_every_format_is_ingested_and_found(runtime: Runtime, docs: Path) -> None:
    business = _business(runtime, "sofa-shop", "201")
    outcomes = runtime.pipeline.ingest_paths(business, sorted(docs.iterdir()))
    assert {o.source_name: (o.status, o.chunks) for o in outcomes} == {
        "care.txt": (IngestStatus.ADDED, 1),
        "faq.csv": (IngestStatus.ADDED, 1),
        "returns.docx": (IngestStatus.ADDED, 1),
        "shipping.md": (IngestStatus.ADDED, 1),
        "stores.html": (IngestStatus.ADDED, 1),
        "warranty.pdf": (IngestStatus.ADDED, 1),
    }
    expectations = {
        "How long is the warranty on the frame?": "15 year warranty",
        "Can I return a sofa?": "30 days",
        "Do you ship to France?": "Ireland and France",
        "When does the Leeds showroom open?": "10 am",
        "Will you assemble my sofa?": "assembly is free",
        "How do I clean the cushions?": "vacuum cleaner",
    }
    for question, fact in expectations.items():
        top = runtime.retriever.search(business, question)[0]
        assert fact in top.text, question
    html = next(p for p in runtime.retriever.search(business, "Leeds showroom") if "Leeds" in p.text)
    assert "Cookie" not in html.text and "Cart" not in html.text  # boilerplate stripped
    assert html.text.startswith("Our stores\n")  # title travels with the chunk
    md = runtime.retriever.search(business, "ship to France")[0]
    assert md.text.startswith("Shipping > Europe\n")  # heading path travels with the chunk


def test_reingest_is_idempotent_and_a_changed_file_replaces_its_chunks(runtime: Runtime, docs: Path) -> None:
    business = _business(runtime, "sofa-shop", "201")
    path = docs / "care.txt"
    first = runtime.pipeline.ingest_paths(business, [path])[0]
    again = runtime.pipeline.ingest_paths(business, [path])[0]
    assert (first.status, again.status) == (IngestStatus.ADDED, IngestStatus.UNCHANGED)
    assert runtime.index.count(business) == 1
    path.write_text("Sofa care\nUse a damp cloth on leather. Never use bleach.\n\n" + "Keep pets off. " * 80)
    changed = runtime.pipeline.ingest_paths(business, [path])[0]
    assert changed.status == IngestStatus.UPDATED and changed.document_id == first.document_id
    assert changed.chunks >= 2
    assert runtime.index.count(business) == changed.chunks  # the old chunk left the index
    with session_scope(runtime.engine) as session:
        chunks = session.exec(select(KnowledgeChunk)).all()
    assert len(chunks) == changed.chunks
    assert all("vacuum" not in p.text for p in runtime.retriever.search(business, "vacuum the cushions"))


def test_a_document_disabled_or_deleted_a_moment_ago_is_never_answered_from(
    runtime: Runtime, docs: Path
) -> None:
    business = _business(runtime, "sofa-shop", "203")
    runtime.pipeline.ingest_paths(business, [docs / "care.txt", docs / "shipping.md"])
    # Another process: its in-memory index is read once and checked again only after version_check_s.
    elsewhere = Retriever(
        runtime.embeddings,
        KnowledgeIndex(runtime.chroma, runtime.settings.chroma_collection_prefix, version_check_s=3600),
    )

    def answerable(question: str) -> list[str]:
        with session_scope(runtime.engine) as session:
            found = current_passages(session, business, elsewhere.search(business, question))
        return [p.text for p in found]

    assert any("vacuum" in text for text in answerable("How do I clean the cushions?"))
    care, shipping = (d.id for d in runtime.knowledge.list_documents(business))
    runtime.knowledge.set_enabled(business, shipping, enabled=False)
    runtime.knowledge.delete_document(business, care)

    # The stale index still holds both documents' chunks: the database says they are gone.
    stale = [p.text for p in elsewhere.search(business, "How do I clean the cushions?", k=4)]
    assert any("vacuum" in text for text in stale) and any("Ireland" in text for text in stale)
    assert answerable("How do I clean the cushions?") == []
    assert answerable("Do you ship to Ireland?") == []
    runtime.knowledge.set_enabled(business, shipping, enabled=True)
    assert any("Ireland" in text for text in answerable("Do you ship to Ireland?"))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "damaged or not a valid pdf"),
        ("broken.docx", b"PK\x03\x04 not a zip", "damaged or not a valid docx"),
        ("empty.txt", b"   \n", "the file is empty"),
        ("scan.pdf", minimal_pdf([]), "no extractable text"),
        ("sheet.csv", b"name,price\nsofa,100\n", "needs a 'question' and an 'answer' column"),
        ("photo.jpg", b"\xff\xd8\xff", "unsupported file type .jpg"),
    ],
)
def test_a_bad_file_gets_a_clear_error_and_the_others_still_ingest(
    runtime: Runtime, docs: Path, name: str, data: bytes, message: str
) -> None:
    business = _business(runtime, "sofa-shop", "201")
    (docs / name).write_bytes(data)
    outcomes = {o.source_name: o for o in runtime.pipeline.ingest_paths(business, sorted(docs.iterdir()))}
    assert outcomes[name].status == IngestStatus.FAILED
    assert outcomes[name].error is not None and message in outcomes[name].error
    assert sum(o.status == IngestStatus.ADDED for o in outcomes.values()) == 6
    with session_scope(runtime.engine) as session:
        failed = session.exec(select(KnowledgeDocument).where(KnowledgeDocument.source_name == name)).one()
    expected = DocumentStatus.NO_TEXT if name == "scan.pdf" else DocumentStatus.FAILED
    assert failed.status == expected and failed.error == outcomes[name].error


def test_personal_data_in_documents_is_masked_before_indexing(runtime: Runtime, tmp_path: Path) -> None:
    business = _business(runtime, "sofa-shop", "201")
    path = tmp_path / "contact.md"
    path.write_text(
        "# Contact\n\nFor trade orders ask Johanna Whitfield on +44 7700 900456 or "
        "johanna.whitfield@example.com.\n"
    )
    outcome = runtime.pipeline.ingest_paths(business, [path])[0]
    assert outcome.masked_spans == 3
    passage = runtime.retriever.search(business, "trade orders")[0]
    assert "Johanna" not in passage.text and "900456" not in passage.text and "whitfield@" not in passage.text
    assert "<DOC_PERSON_1>" in passage.text and "<DOC_EMAIL_ADDRESS_1>" in passage.text
    for file in (tmp_path / "var").rglob("*"):
        if file.is_file():
            assert b"Johanna" not in file.read_bytes() and b"900456" not in file.read_bytes()


def test_the_documents_own_product_names_stay_readable_and_a_persons_name_is_still_masked(
    runtime: Runtime, tmp_path: Path
) -> None:
    business = _business(runtime, "tv-shop", "202")
    sections = "\n\n".join(
        f"## Ambient Mode {topic}\n\nAmbient Mode {text}. Open Smart Hub to change it."
        for topic, text in [
            ("basics", "shows art while the TV rests"),
            ("brightness", "follows the light in the room"),
            ("sleep", "turns off after four hours"),
        ]
    )
    path = tmp_path / "manual.md"
    path.write_text(f"# Returns, refunds and exchanges\n\n{sections}\n\nQuestions? Ask Johanna Whitfield.\n")
    runtime.pipeline.ingest_paths(business, [path])
    stored = " ".join(
        p.text for p in runtime.retriever.search(business, "ambient mode smart hub returns", k=10)
    )
    assert "Ambient Mode" in stored and "Smart Hub" in stored and "Returns, refunds" in stored
    assert "Johanna" not in stored and "Whitfield" not in stored


def test_one_business_never_retrieves_anothers_chunks(runtime: Runtime, tmp_path: Path) -> None:
    a, b = _business(runtime, "shop-a", "301"), _business(runtime, "shop-b", "302")
    (tmp_path / "a.txt").write_text("Shop A secret\nOur staff discount code is ALPHA-2291.\n")
    (tmp_path / "b.txt").write_text("Shop B hours\nShop B opens at 9 am.\n")
    runtime.pipeline.ingest_paths(a, [tmp_path / "a.txt"])
    runtime.pipeline.ingest_paths(b, [tmp_path / "b.txt"])
    results = runtime.retriever.search(b, "staff discount code", k=10)
    assert results and all("ALPHA" not in p.text for p in results)
    assert runtime.index.collection_name(a) != runtime.index.collection_name(b)


def test_a_long_document_is_masked_in_batches_exactly_as_chunk_by_chunk(
    runtime: Runtime, tmp_path: Path
) -> None:
    business = _business(runtime, "sofa-shop", "401")
    rows = [
        f"Order {i}?,Call +44 7700 9001{i:02d} and ask Maria Lopez about order {i}."
        for i in range(2 * MASK_BATCH + 5)
    ]
    path = tmp_path / "orders.csv"
    path.write_text("question,answer\n" + "\n".join(rows) + "\n")
    outcome = runtime.pipeline.ingest_paths(business, [path])[0]
    assert outcome.chunks == len(rows)
    stored = runtime.index.documents(business)
    assert len(stored.ids) == len(rows)
    originals = {text.partition("\n")[0]: text for text in (c.text for c in _chunks_of(runtime, path))}
    scope = VaultScope.knowledge(business)
    with session_scope(runtime.engine) as session:
        policy = runtime.masker.policy_for(session, business)
        for vector_id, text in zip(stored.ids, stored.texts, strict=True):
            original = originals[text.partition("\n")[0]]
            one = runtime.masker.mask(session, original, scope, remember=False, policy=policy)
            assert text == one.text
            assert "Maria" not in text and "7700" not in text and "<DOC_PERSON_1>" in text
            # The vector stored with each chunk is the one of its own text, whichever batch embedded it.
            [hit] = runtime.index.score(business, runtime.embeddings.embed_query(text), [vector_id])
            assert hit.similarity == pytest.approx(1.0, abs=1e-4)
    assert len({text.partition("\n")[2] for text in stored.texts}) == len(rows)


def _chunks_of(runtime: Runtime, path: Path) -> list[Chunk]:
    document = load_document(path.name, path.read_bytes())
    return split_document(
        document, chunk_size=runtime.settings.chunk_size, chunk_overlap=runtime.settings.chunk_overlap
    )
