"""The compliance queue of data-subject requests: a customer asked for a copy of their data or its erasure.

Requests are opened from the customer's own words in the chat (bot.turn.assistant) and closed by a compliance
officer (compliance.data_requests fulfils them). Opening one never erases or exports anything by itself: whoever
writes from a number is not proven to be its owner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel
from sqlmodel import Session, col, select, update

from core.db import utcnow
from core.errors import InvalidInput, NotFound
from privacy.models import DataSubjectRequest

# GDPR art. 12(3): "without undue delay and in any event within one month"; we count a month as 30 days.
RESPONSE_DAYS = 30


class RequestKind(StrEnum):
    EXPORT = "export"  # art. 15: a copy of everything held
    ERASURE = "erasure"  # art. 17: delete it


class RequestStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    REJECTED = "rejected"


class DataRequestPublic(BaseModel):
    id: int
    contact_id: int | None
    kind: RequestKind
    status: RequestStatus
    created_at: datetime
    due_at: datetime
    overdue: bool
    closed_at: datetime | None
    closed_by: str | None


def to_public(request: DataSubjectRequest, now: datetime | None = None) -> DataRequestPublic:
    assert request.id is not None
    now = now or utcnow()
    return DataRequestPublic(
        id=request.id,
        contact_id=request.contact_id,
        kind=RequestKind(request.kind),
        status=RequestStatus(request.status),
        created_at=request.created_at,
        due_at=request.due_at,
        overdue=request.status == RequestStatus.OPEN and request.due_at < now,
        closed_at=request.closed_at,
        closed_by=request.closed_by,
    )


def open_data_request(
    session: Session, *, business_id: int, contact_id: int, kind: RequestKind, now: datetime | None = None
) -> tuple[DataSubjectRequest, bool]:
    """File a request, or find the same customer's open one of the same kind. Returns it and whether it is new."""
    existing = session.exec(
        select(DataSubjectRequest).where(
            DataSubjectRequest.business_id == business_id,
            DataSubjectRequest.contact_id == contact_id,
            DataSubjectRequest.kind == kind,
            DataSubjectRequest.status == RequestStatus.OPEN,
        )
    ).first()
    if existing is not None:
        return existing, False
    created = now or utcnow()
    request = DataSubjectRequest(
        business_id=business_id,
        contact_id=contact_id,
        kind=kind,
        status=RequestStatus.OPEN,
        created_at=created,
        due_at=created + timedelta(days=RESPONSE_DAYS),
    )
    session.add(request)
    session.flush()
    return request, True


def list_data_requests(
    session: Session, *, business_id: int, status: RequestStatus | None = None
) -> list[DataSubjectRequest]:
    """The business's requests, the most urgent first (open ones by deadline, then the closed, newest first)."""
    query = select(DataSubjectRequest).where(DataSubjectRequest.business_id == business_id)
    if status is not None:
        query = query.where(DataSubjectRequest.status == status)
    rows = list(session.exec(query.order_by(col(DataSubjectRequest.id).desc())).all())
    open_ = sorted((r for r in rows if r.status == RequestStatus.OPEN), key=lambda r: r.due_at)
    return open_ + [r for r in rows if r.status != RequestStatus.OPEN]


def get_data_request(session: Session, *, business_id: int, request_id: int) -> DataSubjectRequest:
    request = session.get(DataSubjectRequest, request_id)
    if request is None or request.business_id != business_id:
        raise NotFound(f"no data request {request_id}")
    return request


def mark_closed(
    request: DataSubjectRequest, *, status: RequestStatus, closed_by: str, now: datetime | None = None
) -> DataSubjectRequest:
    """Record the officer's decision on an open request (the caller has done what it takes)."""
    if status is RequestStatus.OPEN:
        raise InvalidInput("a request is closed as done or rejected")
    request.status = status
    request.closed_at = now or utcnow()
    request.closed_by = closed_by[:300]
    return request


def detach_contact(session: Session, contact_id: int) -> int:
    """Before a contact is erased: its requests stay, as the record of what was asked and done, unlinked."""
    result = session.exec(
        update(DataSubjectRequest)
        .where(col(DataSubjectRequest.contact_id) == contact_id)
        .values(contact_id=None)
    )
    return result.rowcount or 0
