"""The compliance officer's pages: the redaction log and its review, consent and data-subject requests per
customer, and the audit log with its chain check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import CheckedForm, ComplianceDep, record_staff_action
from api.console.pages import back_to, render
from api.deps import MAX_ROW_ID, ObjectId, RuntimeDep, SessionDep
from compliance.data_rights import (
    erase_contact_data,
    export_contact_data,
    find_contact,
    review_redaction_event,
)
from core.audit_trail import list_entries, to_public, verify_chain
from core.errors import InvalidInput
from privacy.consent import consent_history, current_consent
from privacy.policy import deny_value
from privacy.redaction import list_redactions

router = APIRouter(prefix="/compliance")
PAGE = 50


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = str(form.get(name) or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"`{name}` is limited to {limit} characters")
    return value


def _number(raw: str | None, name: str) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"`{name}` must be a number between 0 and 1") from None
    if not 0 <= value <= 1:
        raise InvalidInput(f"`{name}` must be a number between 0 and 1")
    return value


def _day(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"`{name}` must be a date like 2026-11-25") from None


@router.get("/redactions", response_class=HTMLResponse)
def redactions(
    request: Request,
    session: SessionDep,
    staff: ComplianceDep,
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    recognizer: Annotated[str | None, Query(max_length=100)] = None,
    min_score: Annotated[str | None, Query(max_length=10)] = None,
    since: Annotated[str | None, Query(max_length=32)] = None,
    until: Annotated[str | None, Query(max_length=32)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> Response:
    # A filter form sends its empty fields too: empty means "any", not an invalid value.
    score = _number(min_score, "min_score")
    start, end = _day(since, "since"), _day(until, "until")
    page = list_redactions(
        session,
        business_id=staff.business_id,
        entity_type=entity_type or None,
        recognizer=recognizer or None,
        min_score=score,
        since=start,
        until=end + timedelta(days=1) if end else None,  # the whole of the last day
        limit=PAGE,
        offset=offset,
    )
    filters = {
        "entity_type": entity_type or "",
        "recognizer": recognizer or "",
        "min_score": "" if score is None else score,
        "since": start.date().isoformat() if start else "",
        "until": end.date().isoformat() if end else "",
    }
    return render(request, "redactions.html", {"page": page, "filters": filters, "step": PAGE})


@router.post("/redactions/{event_id}/review")
def review(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    staff: ComplianceDep,
    event_id: ObjectId,
    form: CheckedForm,
) -> Response:
    verdict = _field(form, "verdict", 32)
    if verdict not in ("false_positive", "confirmed"):
        raise InvalidInput("choose `false_positive` or `confirmed`")
    review_redaction_event(
        session,
        runtime.box,
        business_id=staff.business_id,
        event_id=event_id,
        false_positive=verdict == "false_positive",
    )
    record_staff_action(session, staff, "redaction.review", f"redaction:{event_id}", {"verdict": verdict})
    return back_to(
        request.headers.get("referer", "") if _same_site(request) else "/console/compliance/redactions"
    )


def _same_site(request: Request) -> bool:
    referer = request.headers.get("referer", "")
    return referer.startswith(f"{request.url.scheme}://{request.url.netloc}/console/compliance/redactions")


@router.post("/missed")
def missed(runtime: RuntimeDep, session: SessionDep, staff: ComplianceDep, form: CheckedForm) -> Response:
    entity_type, value = _field(form, "entity_type", 64).upper(), _field(form, "value", 200)
    if len(entity_type) < 2 or len(value) < 2:
        raise InvalidInput("give the kind of data and the value that was missed")
    deny_value(session, runtime.box, staff.business_id, entity_type=entity_type, value=value)
    record_staff_action(session, staff, "redaction.missed", f"entity:{entity_type}")
    return back_to("/console/compliance/redactions")


@router.get("/contacts", response_class=HTMLResponse)
async def contacts(request: Request, staff: ComplianceDep) -> Response:
    return render(request, "contact.html", {"found": None})


# The customer's number travels in form bodies only, never in a URL that proxies and access logs keep.
@router.post("/contacts", response_class=HTMLResponse)
def contact(
    request: Request, runtime: RuntimeDep, session: SessionDep, staff: ComplianceDep, form: CheckedForm
) -> Response:
    phone = _field(form, "phone", 40)
    found = find_contact(session, runtime.box, business_id=staff.business_id, phone=phone)
    assert found.id is not None
    context = {
        "found": {"contact_id": found.id, "created_at": found.created_at},
        "phone": phone,
        "consent": current_consent(session, found.id),
        "history": consent_history(session, found.id),
    }
    return render(request, "contact.html", context)


@router.post("/contacts/export")
def export(runtime: RuntimeDep, session: SessionDep, staff: ComplianceDep, form: CheckedForm) -> Response:
    """The customer's data as a JSON download, for their request; written to the audit log."""
    phone = _field(form, "phone", 40)
    data = export_contact_data(session, runtime.box, business_id=staff.business_id, phone=phone)
    contact = find_contact(session, runtime.box, business_id=staff.business_id, phone=phone)
    record_staff_action(session, staff, "dsar.export", f"contact:{contact.id}")
    return Response(
        json.dumps(data, indent=2, default=str),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="wepos-export.json"'},
    )


@router.post("/contacts/erase", response_class=HTMLResponse)
def erase(
    request: Request, runtime: RuntimeDep, session: SessionDep, staff: ComplianceDep, form: CheckedForm
) -> Response:
    """Erasure for good, once the officer typed ERASE to confirm."""
    phone = _field(form, "phone", 40)
    if _field(form, "confirm", 10) != "ERASE":
        raise InvalidInput("type ERASE to confirm the erasure")
    # The erasure runs its own transactions (the deletes, then the scrub of the database file); the audit
    # entry is written once it is done.
    record = erase_contact_data(runtime.engine, runtime.box, business_id=staff.business_id, phone=phone)
    detail = {"messages": record.messages, "conversations": record.conversations}
    record_staff_action(session, staff, "dsar.erase", f"erasure:{record.id}", detail)
    return render(request, "contact.html", {"found": None, "erased": record})


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    session: SessionDep,
    staff: ComplianceDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> Response:
    rows, total = list_entries(
        session, business_id=staff.business_id, action=action or None, limit=PAGE, offset=offset
    )
    breaks = verify_chain(session, business_id=staff.business_id)
    context = {
        "entries": [to_public(r) for r in rows],
        "total": total,
        "breaks": breaks,
        "action": action or "",
        "offset": offset,
        "step": PAGE,
    }
    return render(request, "audit.html", context)
