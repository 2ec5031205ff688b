"""The knowledge API end to end: a real server, API keys, background ingest jobs, real Presidio, MiniLM, Chroma."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlmodel import select

from core.api_keys import issue_api_key, revoke_api_key
from core.db import session_scope
from core.tenants import create_business
from retrieval.models import KnowledgeChunk
from tests.api.conftest import Wepos
from tests.helpers import HTTP, wait_until

pytestmark = pytest.mark.e2e

RETURNS = b"# Returns\n\n## Refunds\n\nUnopened jars of our quince jam can be returned within 30 days for a full refund.\n"


def _key(wepos: Wepos, business_id: int | None = None) -> dict[str, str]:
    with session_scope(wepos.runtime.engine) as session:
        issued = issue_api_key(session, business_id=business_id or wepos.business_id, name="test")
    return {"Authorization": f"Bearer {issued.secret}"}


def _other_business(wepos: Wepos) -> int:
    with session_scope(wepos.runtime.engine) as session:
        business = create_business(
            session, name="other-shop", phone_number_id="200000000000002", box=wepos.runtime.box
        )
    assert business.id is not None
    return business.id


def _upload(wepos: Wepos, headers: dict[str, str], files: list[tuple[str, bytes]]) -> dict[str, Any]:
    response = HTTP.post(
        f"{wepos.url}/v1/knowledge/documents",
        headers=headers,
        files=[("files", (name, data)) for name, data in files],
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return _wait_for_job(wepos, headers, job["id"])


def _wait_for_job(wepos: Wepos, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def finished() -> bool:
        seen.update(HTTP.get(f"{wepos.url}/v1/knowledge/jobs/{job_id}", headers=headers, timeout=10).json())
        return seen["status"] in ("done", "failed")

    assert wait_until(finished, 120, 0.2), seen
    return seen


def _search(wepos: Wepos, headers: dict[str, str], query: str, k: int = 4) -> dict[str, Any]:
    response = HTTP.post(
        f"{wepos.url}/v1/knowledge/search", headers=headers, json={"query": query, "k": k}, timeout=30
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _pdf(*, text_layer: bool = False, password: str | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)  # a page with no text: what a scan without OCR gives
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_every_route_refuses_a_missing_or_wrong_key(wepos: Wepos) -> None:
    routes = [
        ("GET", "/v1/knowledge/documents"),
        ("GET", "/v1/knowledge/documents/1"),
        ("POST", "/v1/knowledge/documents/1/disable"),
        ("POST", "/v1/knowledge/documents/1/enable"),
        ("DELETE", "/v1/knowledge/documents/1"),
        ("POST", "/v1/knowledge/documents/1/reindex"),
        ("POST", "/v1/knowledge/reindex"),
        ("GET", "/v1/knowledge/jobs/1"),
        ("POST", "/v1/knowledge/search"),
    ]
    revoked = _key(wepos)
    with session_scope(wepos.runtime.engine) as session:
        revoke_api_key(
            session, business_id=wepos.business_id, lookup_id=revoked["Authorization"].split("_")[1]
        )
    wrong = {"Authorization": "Bearer wpk_000000000000_not-a-real-key"}
    for method, path in routes:
        for headers in ({}, wrong, revoked, {"X-API-Key": "nonsense"}):
            response = HTTP.request(method, f"{wepos.url}{path}", headers=headers, json={"query": "x"})
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error"] == "unauthenticated"


def test_a_batch_upload_ingests_good_files_and_reports_each_bad_one(wepos: Wepos) -> None:
    headers = _key(wepos)
    faq = _xlsx(
        [
            ["Question", "Answer"],
            ["Do you ship quince jam abroad?", "We ship quince jam to the EU and the UK only."],
            ["", "a row without a question is skipped"],
        ]
    )
    job = _upload(
        wepos,
        headers,
        [
            ("returns.md", RETURNS),
            ("shipping-faq.xlsx", faq),
            ("scan.pdf", _pdf()),
            ("locked.pdf", _pdf(password="secret")),
            ("broken.docx", b"PK\x03\x04 this is not really a docx"),
            ("empty.txt", b""),
            ("notes.exe", b"MZ"),
        ],
    )
    assert job["status"] == "done"
    assert (job["total"], job["processed"], job["failed"], job["progress"]) == (7, 7, 5, 1.0)
    by_name = {r["source_name"]: r for r in job["results"]}
    assert by_name["returns.md"]["status"] == "added" and by_name["returns.md"]["chunks"] >= 1
    assert by_name["shipping-faq.xlsx"]["status"] == "added" and by_name["shipping-faq.xlsx"]["chunks"] == 1
    assert "no extractable text" in by_name["scan.pdf"]["error"]
    assert "password-protected" in by_name["locked.pdf"]["error"]
    assert "damaged or not a valid docx" in by_name["broken.docx"]["error"]
    assert "empty" in by_name["empty.txt"]["error"]
    assert "unsupported file type .exe" in by_name["notes.exe"]["error"]

    listed = HTTP.get(f"{wepos.url}/v1/knowledge/documents", headers=headers).json()
    statuses = {d["source_name"]: d["status"] for d in listed}
    assert statuses["returns.md"] == "indexed"
    assert statuses["scan.pdf"] == "no_text"
    assert statuses["locked.pdf"] == "failed"

    top = _search(wepos, headers, "can I send quince jam back for my money?")["passages"][0]
    assert top["source_name"] == "returns.md"
    assert "30 days" in top["text"]
    assert top["score"] > 0.3
    faq_hit = _search(wepos, headers, "do you deliver jam to France?")["passages"][0]
    assert faq_hit["source_name"] == "shipping-faq.xlsx"

    # Staged uploads are gone once the job has run: the knowledge base keeps masked chunks only.
    assert not any((wepos.data_dir / "uploads").rglob("*.md"))


def test_disable_enable_delete_and_reindex_change_what_is_retrieved(wepos: Wepos) -> None:
    headers = _key(wepos)
    job = _upload(wepos, headers, [("returns.md", RETURNS)])
    document_id = job["results"][0]["document_id"]
    question = "can I return a jar of quince jam?"
    assert _search(wepos, headers, question)["passages"][0]["document_id"] == document_id

    disabled = HTTP.post(f"{wepos.url}/v1/knowledge/documents/{document_id}/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert document_id not in [p["document_id"] for p in _search(wepos, headers, question, k=10)["passages"]]

    assert HTTP.post(f"{wepos.url}/v1/knowledge/documents/{document_id}/enable", headers=headers).json()[
        "enabled"
    ]
    assert _search(wepos, headers, question)["passages"][0]["document_id"] == document_id

    # Re-index from the stored masked chunks: the vectors come back after the vector store lost them.
    with session_scope(wepos.runtime.engine) as session:
        vector_ids = list(
            session.exec(
                select(KnowledgeChunk.vector_id).where(KnowledgeChunk.document_id == document_id)
            ).all()
        )
    wepos.runtime.index.delete(wepos.business_id, vector_ids)
    assert document_id not in [p["document_id"] for p in _search(wepos, headers, question, k=10)["passages"]]
    response = HTTP.post(f"{wepos.url}/v1/knowledge/documents/{document_id}/reindex", headers=headers)
    assert response.status_code == 202
    reindexed = _wait_for_job(wepos, headers, response.json()["id"])
    assert reindexed["results"] == [
        {"document_id": document_id, "status": "reindexed", "chunks": len(vector_ids)}
    ]
    assert _search(wepos, headers, question)["passages"][0]["document_id"] == document_id

    everything = HTTP.post(f"{wepos.url}/v1/knowledge/reindex", headers=headers)
    all_done = _wait_for_job(wepos, headers, everything.json()["id"])
    assert all_done["status"] == "done" and all_done["failed"] == 0 and all_done["total"] == 6

    before = wepos.runtime.index.count(wepos.business_id)
    deleted = HTTP.delete(f"{wepos.url}/v1/knowledge/documents/{document_id}", headers=headers)
    assert deleted.json() == {"document_id": document_id, "chunks_removed": len(vector_ids)}
    assert wepos.runtime.index.count(wepos.business_id) == before - len(vector_ids)
    assert document_id not in [p["document_id"] for p in _search(wepos, headers, question, k=10)["passages"]]
    assert HTTP.get(f"{wepos.url}/v1/knowledge/documents/{document_id}", headers=headers).status_code == 404


def test_one_business_never_sees_or_changes_anothers_knowledge(wepos: Wepos) -> None:
    mine = _key(wepos)
    other_id = _other_business(wepos)
    theirs = _key(wepos, other_id)
    job = _upload(wepos, mine, [("returns.md", RETURNS)])
    document_id = job["results"][0]["document_id"]

    assert HTTP.get(f"{wepos.url}/v1/knowledge/documents", headers=theirs).json() == []
    for method, path in [
        ("GET", f"/v1/knowledge/documents/{document_id}"),
        ("POST", f"/v1/knowledge/documents/{document_id}/disable"),
        ("DELETE", f"/v1/knowledge/documents/{document_id}"),
        ("POST", f"/v1/knowledge/documents/{document_id}/reindex"),
        ("GET", f"/v1/knowledge/jobs/{job['id']}"),
    ]:
        response = HTTP.request(method, f"{wepos.url}{path}", headers=theirs)
        assert response.status_code == 404, (method, path, response.text)
    assert _search(wepos, theirs, "can I return quince jam?")["passages"] == []
    # ... and nothing of mine changed.
    assert (
        HTTP.get(f"{wepos.url}/v1/knowledge/documents/{document_id}", headers=mine).json()["enabled"] is True
    )


def test_the_playground_masks_the_question_and_says_when_it_is_not_sure(wepos: Wepos) -> None:
    headers = _key(wepos)
    result = _search(
        wepos, headers, "Hi, I'm Maria Lopez (maria.lopez@example.com). When are you open on Sunday?"
    )
    assert "Maria" not in result["masked_query"] and "maria.lopez" not in result["masked_query"]
    assert {m["type"] for m in result["masked"]} >= {"PERSON", "EMAIL_ADDRESS"}
    assert result["confident"] is True
    assert result["passages"][0]["source_name"] == "opening-hours.md"
    assert [p["rank"] for p in result["passages"]] == list(range(1, len(result["passages"]) + 1))

    unrelated = _search(wepos, headers, "what is the airspeed of an unladen swallow")
    assert unrelated["confident"] is False


def test_an_oversize_upload_is_refused_and_nothing_is_stored(wepos: Wepos) -> None:
    headers = _key(wepos)
    limit = 64 * 1024
    wepos.runtime.settings.max_upload_bytes = limit  # read per request; a small cap keeps the test light
    response = HTTP.post(
        f"{wepos.url}/v1/knowledge/documents",
        headers=headers,
        files=[("files", ("big.txt", b"a" * (limit + 1)))],
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    names = [
        d["source_name"] for d in HTTP.get(f"{wepos.url}/v1/knowledge/documents", headers=headers).json()
    ]
    assert "big.txt" not in names


def test_an_upload_without_a_key_is_refused_before_its_body_is_read(wepos: Wepos) -> None:
    big = b"x" * (2 * 1024 * 1024)
    refused = HTTP.post(
        f"{wepos.url}/v1/knowledge/documents", files=[("files", ("notes.txt", big))], timeout=30
    )
    assert refused.status_code == 401
    assert not (wepos.data_dir / "uploads").exists() or not any((wepos.data_dir / "uploads").iterdir())

    headers = _key(wepos)
    not_multipart = HTTP.post(f"{wepos.url}/v1/knowledge/documents", headers=headers, json={"files": []})
    assert not_multipart.status_code == 400 and "multipart/form-data" in not_multipart.json()["detail"]
    text_field = HTTP.post(f"{wepos.url}/v1/knowledge/documents", headers=headers, data={"files": "hello"})
    assert text_field.status_code == 400
    no_files = HTTP.post(
        f"{wepos.url}/v1/knowledge/documents", headers=headers, files=[("other", ("a.txt", b"a"))]
    )
    assert no_files.status_code == 400 and "no files" in no_files.json()["detail"]
