"""What the business can show customers and auditors: the queue of data-subject requests customers made in
the chat, and the record of processing generated from the live configuration. API key, own business only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.deps import CurrentBusiness, ObjectId, RuntimeDep, SessionDep
from compliance.data_requests import ClosedDataRequest, close_data_request
from compliance.processing_record import HTML_CSP, ProcessingRecord, processing_record, render_html
from privacy.data_requests import DataRequestPublic, RequestStatus, list_data_requests, to_public

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


class CloseRequest(BaseModel):
    status: Literal["done", "rejected"] = Field(
        description="done: an export is returned, an erasure is carried out; rejected: nothing happens"
    )
    closed_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Who decided, for the record (after 'api: ')",
    )


def _business_id(business: CurrentBusiness) -> int:
    assert business.id is not None
    return business.id


@router.get("/requests", response_model=list[DataRequestPublic])
def data_requests(
    session: SessionDep, business: CurrentBusiness, status: RequestStatus | None = None
) -> list[DataRequestPublic]:
    """Customers' requests for a copy or the erasure of their data: open ones first, by deadline."""
    rows = list_data_requests(session, business_id=_business_id(business), status=status)
    return [to_public(row) for row in rows]


@router.post("/requests/{request_id}/close", response_model=ClosedDataRequest)
def close_request(
    request_id: ObjectId, body: CloseRequest, runtime: RuntimeDep, business: CurrentBusiness
) -> ClosedDataRequest:
    """Close an open request once the customer's identity is checked: done (export returned, or erasure
    carried out) or rejected."""
    # Its own transactions: an erasure commits, then scrubs the database file.
    return close_data_request(
        runtime.engine,
        runtime.box,
        business_id=_business_id(business),
        request_id=request_id,
        status=RequestStatus(body.status),
        closed_by=f"api: {body.closed_by}" if body.closed_by else "api",
    )


@router.get(
    "/processing-record",
    response_model=ProcessingRecord,
    responses={
        200: {"content": {"text/html": {}}, "description": "JSON, or with format=html a printable page"}
    },
)
def get_processing_record(
    runtime: RuntimeDep,
    session: SessionDep,
    business: CurrentBusiness,
    output: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
) -> ProcessingRecord | HTMLResponse:
    """The record of processing (GDPR art. 30 style) of the running configuration."""
    record = processing_record(session, runtime.settings, business)
    if output == "html":
        # Its own policy: the page's one style block is allowed by its hash; still no script, no loads.
        return HTMLResponse(render_html(record), headers={"Content-Security-Policy": HTML_CSP})
    return record
