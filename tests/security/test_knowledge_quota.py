"""The per-business knowledge quota (`WEPOS_KNOWLEDGE_QUOTA_BYTES`): an upload that would take a business past
it is a 413 with nothing stored, through the API and the console alike; other businesses are unaffected."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from api.runtime import Runtime
from core.db import session_scope
from core.staff import Role
from core.tenants import create_business
from ingest.models import IngestJob
from retrieval.models import KnowledgeDocument
from tests.conftest import make_settings
from tests.console_helpers import Browsers, add_user, csrf
from tests.helpers import HTTP, PHONE_NUMBER_ID, running_server, wait_until
from tests.security.conftest import api_key, stranger_business

pytestmark = pytest.mark.security

QUOTA = 6000
# About 3 kB of plain text: one fits the quota, two do not (chunk overlap makes the stored text a little more).
SHOP_TEXT = ("Our sourdough is proved for a full day before it is baked. " * 50)[:3000].encode()


@dataclass
class Quota:
    url: str
    runtime: Runtime
    business_id: int
    headers: dict[str, str]
    stranger_headers: dict[str, str]


@pytest.fixture
def quota(tmp_path: Path, database_url: str, analyzer, embeddings) -> Iterator[Quota]:  # type: ignore[no-untyped-def]
    """An API-only server whose businesses may keep `QUOTA` bytes of knowledge each."""
    settings = make_settings(tmp_path / "var", database_url, knowledge_quota_bytes=QUOTA)
    runtime = Runtime(settings, analyzer=analyzer, embeddings=embeddings)
    runtime.migrate()
    with session_scope(runtime.engine) as session:
        business = create_business(
            session, name="quota-shop", phone_number_id=PHONE_NUMBER_ID, box=runtime.box
        )
    assert business.id is not None
    stranger = stranger_business(runtime)
    with running_server(runtime, run_worker=False) as url:
        runtime.ingest_jobs.start()  # this test's process runs the jobs, as a `wepos worker` would
        yield Quota(url, runtime, business.id, api_key(runtime, business.id), api_key(runtime, stranger))


def _upload(q: Quota, name: str, data: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"files": (name, data, "text/markdown")}
    return HTTP.post(f"{q.url}/v1/knowledge/documents", files=files, headers=headers or q.headers, timeout=60)


def _ingested(q: Quota, response: httpx.Response, headers: dict[str, str] | None = None) -> None:
    assert response.status_code == 202, response.text
    job = f"{q.url}/v1/knowledge/jobs/{response.json()['id']}"

    def done() -> bool:
        body = HTTP.get(job, headers=headers or q.headers, timeout=10).json()
        return body["status"] == "done" and body["failed"] == 0

    assert wait_until(done, timeout=60)


def _stored(q: Quota) -> tuple[int, int, list[str]]:
    """Ingest jobs, documents and staged upload folders, all businesses together."""
    with session_scope(q.runtime.engine) as session:
        jobs = session.exec(select(func.count()).select_from(IngestJob)).one()
        documents = session.exec(select(func.count()).select_from(KnowledgeDocument)).one()
    staging = q.runtime.settings.data_dir / "uploads"
    return jobs, documents, sorted(p.name for p in staging.iterdir()) if staging.exists() else []


def test_an_api_upload_over_the_quota_is_refused_whole_and_other_businesses_are_unaffected(
    quota: Quota,
) -> None:
    _ingested(quota, _upload(quota, "sourdough.md", SHOP_TEXT))
    assert 3000 <= quota.runtime.ingest_jobs.stored_bytes(quota.business_id) < QUOTA
    before = _stored(quota)

    refused = _upload(quota, "more-sourdough.md", SHOP_TEXT)
    assert refused.status_code == 413
    assert refused.json()["error"] == "payload_too_large"
    assert "quota" in refused.json()["detail"] and "WEPOS_KNOWLEDGE_QUOTA_BYTES" in refused.json()["detail"]
    assert _stored(quota) == before  # no job, no document, no staged file

    # A new version of a stored document replaces it, so it is measured without the old one.
    _ingested(quota, _upload(quota, "sourdough.md", SHOP_TEXT.replace(b"full day", b"whole day")))
    # Another business's quota is its own.
    _ingested(
        quota, _upload(quota, "more-sourdough.md", SHOP_TEXT, quota.stranger_headers), quota.stranger_headers
    )
    listed = HTTP.get(f"{quota.url}/v1/knowledge/documents", headers=quota.headers, timeout=10).json()
    assert [d["source_name"] for d in listed] == ["sourdough.md"]


def test_a_console_upload_over_the_quota_is_refused_with_nothing_stored(quota: Quota) -> None:
    browsers = Browsers(quota.url)
    try:
        admin = browsers.sign_in(add_user(quota.runtime, quota.business_id, Role.ADMIN))
        token = csrf(admin, "/console/admin/documents")
        files = {"files": ("sourdough.md", SHOP_TEXT, "text/markdown")}
        assert admin.post("/console/admin/documents", data={"csrf": token}, files=files).status_code == 303
        assert wait_until(
            lambda: quota.runtime.ingest_jobs.stored_bytes(quota.business_id) >= 3000, timeout=60
        )
        assert wait_until(lambda: not _stored(quota)[2], timeout=60)  # the job ran and its files are gone
        before = _stored(quota)

        files = {"files": ("more-sourdough.md", SHOP_TEXT, "text/markdown")}
        refused = admin.post("/console/admin/documents", data={"csrf": token}, files=files)
        assert refused.status_code == 413
        assert "text/html" in refused.headers["content-type"] and "quota" in refused.text
        assert _stored(quota) == before
    finally:
        browsers.close()


def test_an_upload_with_a_hostile_file_name_is_refused_or_stored_and_later_uploads_still_work(
    quota: Quota,
) -> None:
    # httpx escapes a NUL in a file name; a hostile client sends the byte itself.
    boundary = "wepos-test-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="nul\x00.md"\r\n'
        f"Content-Type: text/markdown\r\n\r\nOpening hours: 8 to 4.\r\n--{boundary}--\r\n"
    ).encode()
    refused = HTTP.post(
        f"{quota.url}/v1/knowledge/documents",
        content=body,
        headers={**quota.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert refused.status_code == 400, refused.text
    assert "control character" in refused.json()["detail"]
    assert _stored(quota) == (0, 0, [])  # no job, no staged folder left behind

    # 300 bytes of UTF-8 (100 characters): over a file system's 255-byte name, within the database's column.
    long_name = "é" * 150 + ".md"
    _ingested(quota, _upload(quota, long_name, SHOP_TEXT[:500]))
    _ingested(
        quota,
        _upload(quota, "after.md", b"Opening hours: 8 to 4 every day.", quota.stranger_headers),
        quota.stranger_headers,
    )
    listed = HTTP.get(f"{quota.url}/v1/knowledge/documents", headers=quota.headers, timeout=10).json()
    assert [d["source_name"] for d in listed] == [long_name]
    assert _stored(quota)[2] == []  # staged files go once their job has run


def test_a_job_that_fails_leaves_no_uploaded_file_behind(quota: Quota) -> None:
    # A file whose Markdown is fine but whose job cannot finish: its document was deleted from under it
    # is hard to time, so the job fails on a staged file removed while it waited (the runner is stopped).
    quota.runtime.ingest_jobs.stop()
    response = _upload(
        quota, "price-list.md", b"Puncture repair: 12 pounds a wheel. Call Maria on 07700 900123."
    )
    assert response.status_code == 202
    staged = quota.runtime.settings.data_dir / "uploads" / f"job-{response.json()['id']}"
    (staged / ".manifest.json").unlink()
    quota.runtime.ingest_jobs.start()
    job = f"{quota.url}/v1/knowledge/jobs/{response.json()['id']}"
    assert wait_until(lambda: HTTP.get(job, headers=quota.headers, timeout=10).json()["status"] == "failed")
    assert not staged.exists()
