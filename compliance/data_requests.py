"""Closing a customer's data request: a compliance officer, having checked who asked, fulfils it (the export,
or the erasure through the same service as `wepos dsar erase`) or rejects it."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.models import Contact
from compliance.data_rights import erase_contact_data, export_contact_data
from core.crypto import SecretBox
from core.db import session_scope
from core.errors import Conflict
from privacy.data_requests import (
    DataRequestPublic,
    RequestKind,
    RequestStatus,
    get_data_request,
    mark_closed,
    to_public,
)
from privacy.models import DataSubjectRequest, ErasureRecord

log = logging.getLogger(__name__)


class ErasureSummary(BaseModel):
    """What an erasure deleted: counts only (the API's answer to an erasure, and a closed request's)."""

    erasure_id: int
    messages: int
    conversations: int
    vault_entries: int
    redaction_events: int
    consent_records: int

    @classmethod
    def of(cls, record: ErasureRecord) -> ErasureSummary:
        assert record.id is not None
        return cls(
            erasure_id=record.id,
            messages=record.messages,
            conversations=record.conversations,
            vault_entries=record.vault_entries,
            redaction_events=record.redaction_events,
            consent_records=record.consent_records,
        )


class ClosedDataRequest(BaseModel):
    request: DataRequestPublic
    export: dict[str, Any] | None = None  # an export request done: what to hand the customer
    erasure: ErasureSummary | None = None  # an erasure request done: what was deleted (counts)


def close_data_request(
    engine: Engine,
    box: SecretBox,
    *,
    business_id: int,
    request_id: int,
    status: RequestStatus,
    closed_by: str,
) -> ClosedDataRequest:
    """Close an open request as done (an export is returned, an erasure is carried out) or rejected."""
    with session_scope(engine) as session:
        request = _open_request(session, business_id, request_id)
        done = status is RequestStatus.DONE
        contact = session.get(Contact, request.contact_id) if request.contact_id is not None else None
        # None: the customer was erased already (by `wepos dsar erase` or an earlier request).
        phone = box.open(contact.wa_id_sealed) if done and contact is not None else None
        if not (done and request.kind == RequestKind.ERASURE):
            export = None
            if done:
                if phone is None:
                    raise Conflict("this customer's data was erased: there is nothing to export; reject it")
                export = export_contact_data(session, box, business_id=business_id, phone=phone)
            mark_closed(request, status=status, closed_by=closed_by)
            session.add(request)
            _log(request.id, request.kind, status)
            return ClosedDataRequest(request=to_public(request), export=export)

    # Erasure runs in its own unit of work (it rebuilds the SQLite file afterwards); the request is closed after.
    erasure = None
    if phone is not None:
        record = erase_contact_data(engine, box, business_id=business_id, phone=phone)
        assert record.id is not None
        erasure = ErasureSummary.of(record)
    with session_scope(engine) as session:
        request = _open_request(session, business_id, request_id)
        mark_closed(request, status=status, closed_by=closed_by)
        session.add(request)
        _log(request.id, request.kind, status)
        return ClosedDataRequest(request=to_public(request), erasure=erasure)


def _open_request(session: Session, business_id: int, request_id: int) -> DataSubjectRequest:
    request = get_data_request(session, business_id=business_id, request_id=request_id)
    if request.status != RequestStatus.OPEN:
        raise Conflict(f"data request {request_id} is already closed ({request.status})")
    return request


def _log(request_id: int | None, kind: str, status: RequestStatus) -> None:
    log.info("data request closed", extra={"request_id": request_id, "kind": kind, "status": status.value})
