"""Compliance over HTTP: the redaction log, and data-subject export and erasure. Every route needs the
business's API key, and sees that business's data only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import CurrentBusiness, RuntimeDep
from bot.data_rights import erase_contact_data, export_contact_data
from core.db import session_scope
from privacy.models import RedactionPage
from privacy.redaction import list_redactions

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


class ErasureRequest(BaseModel):
    phone: str = Field(min_length=1, max_length=40, description="The customer's WhatsApp number")


class ErasurePublic(BaseModel):
    erasure_id: int
    messages: int
    conversations: int
    vault_entries: int
    redaction_events: int
    consent_records: int


def _business_id(business: CurrentBusiness) -> int:
    assert business.id is not None
    return business.id


@router.get("/redactions", response_model=RedactionPage)
async def redactions(
    runtime: RuntimeDep,
    business: CurrentBusiness,
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    recognizer: Annotated[str | None, Query(max_length=100)] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RedactionPage:
    """What was masked (type, offsets, score, recogniser; never a value), newest first."""

    def page() -> RedactionPage:
        with session_scope(runtime.engine) as session:
            return list_redactions(
                session,
                business_id=_business_id(business),
                entity_type=entity_type,
                recognizer=recognizer,
                min_score=min_score,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )

    return await run_in_threadpool(page)


@router.get("/dsar/export")
async def dsar_export(
    runtime: RuntimeDep, business: CurrentBusiness, phone: Annotated[str, Query(min_length=1, max_length=40)]
) -> dict[str, Any]:
    """Everything held about one customer, with their original values restored (for their eyes only)."""

    def export() -> dict[str, Any]:
        with session_scope(runtime.engine) as session:
            return export_contact_data(session, runtime.box, business_id=_business_id(business), phone=phone)

    return await run_in_threadpool(export)


@router.post("/dsar/erase", response_model=ErasurePublic)
async def dsar_erase(
    runtime: RuntimeDep, business: CurrentBusiness, request: ErasureRequest
) -> ErasurePublic:
    """Erase one customer's data for good; keeps an erasure record without personal data."""
    record = await run_in_threadpool(
        erase_contact_data,
        runtime.engine,
        runtime.box,
        business_id=_business_id(business),
        phone=request.phone,
    )
    assert record.id is not None
    return ErasurePublic(
        erasure_id=record.id,
        messages=record.messages,
        conversations=record.conversations,
        vault_entries=record.vault_entries,
        redaction_events=record.redaction_events,
        consent_records=record.consent_records,
    )
