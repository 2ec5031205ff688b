"""What the privacy policy promises, as console pages: the data-subject request queue, the record of
processing, the access review and the audit export (compliance), and the de-identified analytics (admin)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import AdminDep, CheckedForm, ComplianceDep, record_staff_action
from api.console.pages import back_to, render
from api.deps import ObjectId, RuntimeDep, SessionDep
from bot.desk.inbox import actor_label
from compliance.analytics import business_analytics
from compliance.data_requests import close_data_request
from compliance.processing_record import processing_record
from core.audit_trail import activity_by_actor, export_entries, verify_chain
from core.errors import InvalidInput
from core.staff import list_users, to_public
from privacy.data_requests import RequestStatus, list_data_requests
from privacy.data_requests import to_public as request_public

router = APIRouter()


@router.get("/compliance/requests", response_class=HTMLResponse)
def requests_page(
    request: Request,
    session: SessionDep,
    staff: ComplianceDep,
    status: Annotated[RequestStatus | None, Query()] = RequestStatus.OPEN,
) -> Response:
    rows = list_data_requests(session, business_id=staff.business_id, status=status)
    return render(request, "requests.html", {"requests": [request_public(r) for r in rows], "status": status})


@router.post("/compliance/requests/{request_id}/close", response_class=HTMLResponse)
def close_request(
    runtime: RuntimeDep, session: SessionDep, staff: ComplianceDep, request_id: ObjectId, form: CheckedForm
) -> Response:
    """Done (an export is downloaded, an erasure carried out) or rejected; an erasure needs ERASE typed."""
    outcome = str(form.get("status") or "")
    if outcome not in (RequestStatus.DONE, RequestStatus.REJECTED):
        raise InvalidInput("close a request as done or rejected")
    if form.get("kind") == "erasure" and outcome == RequestStatus.DONE and form.get("confirm") != "ERASE":
        raise InvalidInput("type ERASE to confirm the erasure")
    # Closing runs its own transactions (an erasure's deletes and scrub among them); the audit entry is
    # written once it is done.
    closed = close_data_request(
        runtime.engine,
        runtime.box,
        business_id=staff.business_id,
        request_id=request_id,
        status=RequestStatus(outcome),
        closed_by=actor_label(staff.user),
    )
    detail = {"kind": closed.request.kind.value}
    record_staff_action(session, staff, f"request.{outcome}", f"request:{request_id}", detail)
    if closed.export is not None:
        return Response(
            json.dumps(closed.export, indent=2, default=str),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="wepos-request-{request_id}.json"'},
        )
    return back_to("/console/compliance/requests")


@router.get("/compliance/processing-record", response_class=HTMLResponse)
def processing_record_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, staff: ComplianceDep
) -> Response:
    record = processing_record(session, runtime.settings, staff.business)
    return render(request, "processing_record.html", {"record": record})


@router.get("/compliance/access", response_class=HTMLResponse)
def access_review(request: Request, session: SessionDep, staff: ComplianceDep) -> Response:
    """Who has which role, when they last signed in, and how often and when last they revealed data."""
    users = list_users(session, business_id=staff.business_id)
    reveals = activity_by_actor(session, business_id=staff.business_id, action="conversation.reveal")
    rows = [(to_public(u), reveals.get(actor_label(u))) for u in users]
    return render(request, "access_review.html", {"rows": rows})


@router.get("/compliance/audit/export")
def audit_export(session: SessionDep, staff: ComplianceDep) -> Response:
    """The whole audit log with its hashes and the chain check, for an auditor (the download is audited)."""
    record_staff_action(session, staff, "audit.export", f"business:{staff.business_id}")
    session.flush()
    breaks = verify_chain(session, business_id=staff.business_id)
    body = {
        "business": staff.business.name,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "chain_intact": not breaks,
        "breaks": [{"seq": b.seq, "reason": b.reason} for b in breaks],
        "hash": "sha256 over JSON [business_id, seq, actor, action, target, detail, created_at, prev_hash]",
        "entries": export_entries(session, business_id=staff.business_id),
    }
    return Response(
        json.dumps(body, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="wepos-audit-log.json"'},
    )


@router.get("/admin/analytics", response_class=HTMLResponse)
def analytics_page(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    staff: AdminDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    """Counts and rates only, small counts suppressed: the same service as `GET /v1/analytics`."""
    since = datetime.now(UTC) - timedelta(days=days)
    report = business_analytics(
        session, business_id=staff.business_id, k=runtime.settings.analytics_k, since=since
    )
    agents = {u.id: u.email for u in list_users(session, business_id=staff.business_id)}
    context = {"report": report, "days": days, "charts": _charts(report), "agents": agents}
    return render(request, "analytics.html", context)


def _charts(report: Any) -> dict[str, Any]:
    """Bar heights for the SVG charts; a suppressed count ("<k") is drawn as an outlined bar at k."""

    def value(count: int | str) -> int:
        return count if isinstance(count, int) else report.k

    daily = [(d.day.isoformat(), value(d.messages_in), value(d.messages_out), d) for d in report.daily]
    top = max([1, *(max(i, o) for _, i, o, _ in daily)])
    reasons = [(r.name, value(r.count), r.count) for r in report.escalation_reasons]
    documents = [(d.name, value(d.count), d.count) for d in report.top_documents]
    return {
        "daily": daily,
        "daily_max": top,
        "reasons": reasons,
        "reasons_max": max([1, *(v for _, v, _ in reasons)]),
        "documents": documents,
        "documents_max": max([1, *(v for _, v, _ in documents)]),
    }
