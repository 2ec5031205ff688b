"""Compliance over HTTP: the redaction log, data-subject export and erasure, and the consent ledger. Every
route needs the business's API key, and sees that business's data only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import MAX_ROW_ID, CurrentBusiness, ObjectId, RuntimeDep, SessionDep
from compliance.data_requests import ErasureSummary
from compliance.data_rights import (
    change_contact_consent,
    contact_consent,
    erase_contact_data,
    export_contact_data,
    review_redaction_event,
)
from privacy.consent import ConsentStatePublic, Purpose
from privacy.models import RedactionPage
from privacy.policy import PolicyChange, PrivacyPolicyPublic, change_policy, deny_value
from privacy.policy import to_public as policy_public
from privacy.redaction import list_redactions

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


class ErasureRequest(BaseModel):
    phone: str = Field(min_length=1, max_length=40, description="The customer's WhatsApp number")


class ConsentLookup(BaseModel):
    # In the body, not the URL: a number must never reach an access log.
    phone: str = Field(min_length=1, max_length=40, description="The customer's WhatsApp number")


class ConsentChange(BaseModel):
    phone: str = Field(min_length=1, max_length=40, description="The customer's WhatsApp number")
    purpose: Purpose
    granted: bool = Field(description="true: the customer agrees to this purpose; false: they withdraw")
    source: Literal["api", "agent"] = Field(
        default="api", description="agent: a person of the business, on the customer's word"
    )


def _business_id(business: CurrentBusiness) -> int:
    assert business.id is not None
    return business.id


@router.get("/redactions", response_model=RedactionPage)
def redactions(
    session: SessionDep,
    business: CurrentBusiness,
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    recognizer: Annotated[str | None, Query(max_length=100)] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> RedactionPage:
    """What was masked (type, offsets, score, recogniser; never a value), newest first."""
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


@router.get("/dsar/export")
def dsar_export(
    runtime: RuntimeDep,
    session: SessionDep,
    business: CurrentBusiness,
    phone: Annotated[str, Query(min_length=1, max_length=40)],
) -> dict[str, Any]:
    """Everything held about one customer, with their original values restored (for their eyes only)."""
    return export_contact_data(session, runtime.box, business_id=_business_id(business), phone=phone)


@router.post("/dsar/erase", response_model=ErasureSummary)
def dsar_erase(runtime: RuntimeDep, business: CurrentBusiness, request: ErasureRequest) -> ErasureSummary:
    """Erase one customer's data for good; keeps an erasure record without personal data."""
    # The erasure runs its own transactions (the deletes, then the scrub of the database file).
    record = erase_contact_data(
        runtime.engine, runtime.box, business_id=_business_id(business), phone=request.phone
    )
    return ErasureSummary.of(record)


class ReviewRequest(BaseModel):
    false_positive: bool = Field(
        description="true: the span was no personal data (its word is allowed from now on)"
    )


class ReviewPublic(BaseModel):
    id: int
    review: str


class MissedRequest(BaseModel):
    entity_type: str = Field(min_length=2, max_length=64, examples=["PERSON"])
    value: str = Field(
        min_length=2, max_length=200, description="A value the detector missed; always masked from now on"
    )


class MissedPublic(BaseModel):
    deny_list_size: int


@router.get("/policy", response_model=PrivacyPolicyPublic)
def get_policy(runtime: RuntimeDep, session: SessionDep, business: CurrentBusiness) -> PrivacyPolicyPublic:
    """Which entity types are masked and kept, the allow list, and the deny list's types (never its values)."""
    return policy_public(session, runtime.box, _business_id(business))


@router.patch("/policy", response_model=PrivacyPolicyPublic)
def change_policy_route(
    change: PolicyChange, runtime: RuntimeDep, session: SessionDep, business: CurrentBusiness
) -> PrivacyPolicyPublic:
    """Mask or keep entity types; allow words (product, staff or business names) or take them back."""
    return change_policy(session, runtime.box, _business_id(business), change)


@router.post("/redactions/{event_id}/review", response_model=ReviewPublic)
def review(
    event_id: ObjectId,
    body: ReviewRequest,
    runtime: RuntimeDep,
    session: SessionDep,
    business: CurrentBusiness,
) -> ReviewPublic:
    """Confirm a masked span, or mark it a false positive (its word joins the business's allow list)."""
    event = review_redaction_event(
        session,
        runtime.box,
        business_id=_business_id(business),
        event_id=event_id,
        false_positive=body.false_positive,
    )
    assert event.id is not None and event.review is not None
    return ReviewPublic(id=event.id, review=event.review)


@router.post("/missed", response_model=MissedPublic)
def report_missed(
    body: MissedRequest, runtime: RuntimeDep, session: SessionDep, business: CurrentBusiness
) -> MissedPublic:
    """Report a value the detector missed: it is masked wherever it appears from now on (stored sealed)."""
    size = deny_value(
        session, runtime.box, _business_id(business), entity_type=body.entity_type, value=body.value
    )
    return MissedPublic(deny_list_size=size)


@router.post("/consent/lookup", response_model=ConsentStatePublic)
def consent_lookup(
    body: ConsentLookup, runtime: RuntimeDep, session: SessionDep, business: CurrentBusiness
) -> ConsentStatePublic:
    """One customer's consent per purpose now (defaults included) and every record behind it."""
    return contact_consent(session, runtime.box, business_id=_business_id(business), phone=body.phone)


@router.post("/consent", response_model=ConsentStatePublic)
def consent_change(
    body: ConsentChange, runtime: RuntimeDep, session: SessionDep, business: CurrentBusiness
) -> ConsentStatePublic:
    """Record a customer's grant or withdrawal made outside the chat; answers the state that results."""
    return change_contact_consent(
        session,
        runtime.box,
        business_id=_business_id(business),
        phone=body.phone,
        purpose=body.purpose,
        granted=body.granted,
        source=body.source,
    )
