"""A business's knowledge base over HTTP: upload (as background jobs), list, show, enable, disable, delete,
re-index, and the retrieval playground. Every route needs the business's API key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import CurrentBusiness, ObjectId, RuntimeDep
from api.uploads import read_uploads
from bot.desk.playground import SearchResultPublic
from ingest.models import IngestJobPublic
from retrieval.models import KnowledgeDocumentPublic

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


class DeletedPublic(BaseModel):
    document_id: int
    chunks_removed: int


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=4, ge=1, le=20)


def _business_id(business: CurrentBusiness) -> int:
    assert business.id is not None
    return business.id


# The multipart body is parsed in the route, after the API key and the declared size are checked: a
# `File(...)` parameter would make FastAPI read (and spool to disk) the whole body of any caller first.
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more documents",
                        }
                    },
                }
            }
        },
    }
}


@router.post("/documents", status_code=202, response_model=IngestJobPublic, openapi_extra=_UPLOAD_BODY)
async def upload_documents(
    request: Request, runtime: RuntimeDep, business: CurrentBusiness
) -> IngestJobPublic:
    """Stage the files and start an ingest job; poll `GET /v1/knowledge/jobs/{id}` for its progress."""
    uploads, _fields = await read_uploads(request, runtime.settings.max_upload_bytes)
    return await run_in_threadpool(runtime.ingest_jobs.submit_upload, _business_id(business), uploads)


@router.get("/jobs/{job_id}", response_model=IngestJobPublic)
def get_job(job_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness) -> IngestJobPublic:
    return runtime.ingest_jobs.get(_business_id(business), job_id)


@router.get("/documents", response_model=list[KnowledgeDocumentPublic])
def list_documents(runtime: RuntimeDep, business: CurrentBusiness) -> list[KnowledgeDocumentPublic]:
    return runtime.knowledge.list_documents(_business_id(business))


@router.get("/documents/{document_id}", response_model=KnowledgeDocumentPublic)
def get_document(
    document_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness
) -> KnowledgeDocumentPublic:
    return runtime.knowledge.get_document(_business_id(business), document_id)


@router.post("/documents/{document_id}/disable", response_model=KnowledgeDocumentPublic)
def disable_document(
    document_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness
) -> KnowledgeDocumentPublic:
    """The document stays stored but is never retrieved until enabled again."""
    return runtime.knowledge.set_enabled(_business_id(business), document_id, False)


@router.post("/documents/{document_id}/enable", response_model=KnowledgeDocumentPublic)
def enable_document(
    document_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness
) -> KnowledgeDocumentPublic:
    return runtime.knowledge.set_enabled(_business_id(business), document_id, True)


@router.delete("/documents/{document_id}", response_model=DeletedPublic)
def delete_document(document_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness) -> DeletedPublic:
    removed = runtime.knowledge.delete_document(_business_id(business), document_id)
    return DeletedPublic(document_id=document_id, chunks_removed=removed)


@router.post("/documents/{document_id}/reindex", status_code=202, response_model=IngestJobPublic)
def reindex_document(
    document_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness
) -> IngestJobPublic:
    return runtime.ingest_jobs.submit_reindex(_business_id(business), document_id)


@router.post("/reindex", status_code=202, response_model=IngestJobPublic)
def reindex_all(runtime: RuntimeDep, business: CurrentBusiness) -> IngestJobPublic:
    """Embed every indexed document's stored chunks again (a new model, a new or restored vector store)."""
    return runtime.ingest_jobs.submit_reindex(_business_id(business))


@router.post("/search", response_model=SearchResultPublic)
def search(body: SearchRequest, runtime: RuntimeDep, business: CurrentBusiness) -> SearchResultPublic:
    """The retrieval playground: the ranked passages the bot would answer from, with scores and sources."""
    return runtime.knowledge_search.search(_business_id(business), body.query, body.k)
