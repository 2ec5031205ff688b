"""The business admin's pages: knowledge documents, business settings, users and canned replies."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from api.console.auth import AdminDep, CheckedForm, Staff, check_origin, record_staff_action
from api.console.pages import back_to, render
from api.deps import ObjectId, RuntimeDep, SessionDep
from api.uploads import read_uploads
from bot.desk.conversations import configure_policy
from bot.desk.inbox import add_canned_reply, canned_replies, delete_canned_reply
from bot.models import policy_for
from core.errors import Forbidden, InvalidInput, NotFound
from core.staff import Role, create_user, list_users, set_active, to_public
from core.tenants import Business, set_waba_id
from privacy.policy import KNOWN_ENTITIES, PolicyChange, change_policy
from privacy.policy import to_public as privacy_public

router = APIRouter(prefix="/admin")


@router.get("/", response_class=HTMLResponse)
async def admin_home(staff: AdminDep) -> Response:
    return back_to("/console/admin/documents")


# --- knowledge documents ---------------------------------------------------------------------------------
@router.get("/documents", response_class=HTMLResponse)
def documents(request: Request, runtime: RuntimeDep, staff: AdminDep) -> Response:
    docs = runtime.knowledge.list_documents(staff.business_id)
    return render(request, "documents.html", {"documents": docs})


@router.post("/documents", response_class=HTMLResponse)
async def upload(request: Request, runtime: RuntimeDep, session: SessionDep, staff: AdminDep) -> Response:
    """Files become an ingest job; the page lists them as they are processed."""
    # Async: the route reads the multipart body itself (a Form or File parameter would spool any body first).
    check_origin(request)
    uploads, fields = await read_uploads(request, runtime.settings.max_upload_bytes)
    if not secrets.compare_digest(fields.get("csrf", ""), staff.csrf_token):
        raise Forbidden("the form expired or did not come from this console: reload the page and try again")
    if not uploads:
        raise InvalidInput("choose at least one file")
    job = await run_in_threadpool(runtime.ingest_jobs.submit_upload, staff.business_id, uploads)
    detail = {"files": len(uploads)}
    await run_in_threadpool(record_staff_action, session, staff, "knowledge.upload", f"job:{job.id}", detail)
    return back_to("/console/admin/documents")


@router.post("/documents/{document_id}/{action}")
def document_action(
    runtime: RuntimeDep,
    session: SessionDep,
    staff: AdminDep,
    document_id: ObjectId,
    action: str,
    _form: CheckedForm,
) -> Response:
    # The knowledge service runs its own transactions; the audit entry is written after it succeeded.
    match action:
        case "enable" | "disable":
            runtime.knowledge.set_enabled(staff.business_id, document_id, action == "enable")
        case "delete":
            runtime.knowledge.delete_document(staff.business_id, document_id)
        case _:
            raise InvalidInput("the action is one of enable, disable, delete")
    record_staff_action(session, staff, f"knowledge.{action}", f"document:{document_id}")
    return back_to("/console/admin/documents")


# --- settings ---------------------------------------------------------------------------------------------
def _hours_spec(raw: str) -> str:
    days = json.loads(raw or "{}")
    return ", ".join(f"{day} {span[0]}-{span[1]}" for day, span in days.items())


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, runtime: RuntimeDep, session: SessionDep, staff: AdminDep) -> Response:
    policy = policy_for(session, staff.business_id)
    masking = privacy_public(session, runtime.box, staff.business_id)
    business = session.get(Business, staff.business_id)
    context = {
        "waba_id": (business.waba_id if business else None) or "",
        "policy": policy,
        "hours": _hours_spec(policy.business_hours),
        "keywords": ", ".join(json.loads(policy.escalation_keywords)),
        "masking": masking,
        "entities": sorted(KNOWN_ENTITIES),
    }
    return render(request, "settings.html", context)


def _text(form: FormData, name: str, limit: int) -> str:
    value = str(form.get(name) or "")
    if len(value) > limit:
        raise InvalidInput(f"`{name}` is limited to {limit} characters")
    return value.strip()


@router.post("/settings")
def save_settings(runtime: RuntimeDep, session: SessionDep, staff: AdminDep, form: CheckedForm) -> Response:
    retention = _text(form, "retention_days", 5)
    if not retention.isdigit():
        raise InvalidInput("retention days must be a whole number")
    masked = {str(v) for v in form.getlist("mask")}
    unknown = masked - KNOWN_ENTITIES
    if unknown:
        raise InvalidInput(f"unknown entity types: {', '.join(sorted(unknown))}")

    waba_id = form.get("waba_id")  # absent from an older form: left as it is
    if waba_id is not None:
        business = session.get(Business, staff.business_id)
        if business is not None:
            set_waba_id(session, business, _text(form, "waba_id", 64))
    configure_policy(
        session,
        business_id=staff.business_id,
        instructions=_text(form, "instructions", 4000),
        hours_spec=_text(form, "hours", 1000),
        timezone=_text(form, "timezone", 64) or "UTC",
        escalation_keywords=_text(form, "keywords", 4000).split(","),
        retention_days=int(retention),
        not_sure_hands_over=form.get("not_sure_hands_over") == "on",
        satisfaction_survey_enabled=form.get("satisfaction_survey") == "on",
    )
    change = PolicyChange(mask=sorted(masked), keep=sorted(KNOWN_ENTITIES - masked))
    change_policy(session, runtime.box, staff.business_id, change)
    detail = {
        "masked": sorted(masked),
        "retention_days": int(retention),
        "satisfaction_survey": form.get("satisfaction_survey") == "on",
        "waba_id": bool(waba_id),
    }
    record_staff_action(session, staff, "settings.change", f"business:{staff.business_id}", detail)
    return back_to("/console/admin/settings")


# --- users ------------------------------------------------------------------------------------------------
def _users_context(session: Session, staff: Staff) -> dict[str, Any]:
    return {
        "users": [to_public(u) for u in list_users(session, business_id=staff.business_id)],
        "roles": list(Role),
    }


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, session: SessionDep, staff: AdminDep) -> Response:
    return render(request, "users.html", _users_context(session, staff))


@router.post("/users", response_class=HTMLResponse)
def add_user(request: Request, session: SessionDep, staff: AdminDep, form: CheckedForm) -> Response:
    """A new user with a generated password, shown once on this page for the admin to hand over."""
    email, role = str(form.get("email") or ""), str(form.get("role") or "")
    if role not in {r.value for r in Role}:
        raise InvalidInput("choose a role: admin, agent or compliance")
    password = secrets.token_urlsafe(12)
    user = create_user(
        session, business_id=staff.business_id, email=email, role=Role(role), password=password
    )
    record_staff_action(session, staff, "user.create", f"user:{user.id}", {"role": role})
    context = {**_users_context(session, staff), "created": {"email": user.email, "password": password}}
    return render(request, "users.html", context)


@router.post("/users/{user_id}/{action}")
def user_action(
    session: SessionDep, staff: AdminDep, user_id: ObjectId, action: str, _form: CheckedForm
) -> Response:
    if action not in ("enable", "disable"):
        raise InvalidInput("the action is enable or disable")
    if user_id == staff.user_id:
        raise InvalidInput("you cannot disable yourself; ask another admin")
    target = next((u for u in list_users(session, business_id=staff.business_id) if u.id == user_id), None)
    if target is None:
        raise NotFound("no such user in this business")
    set_active(session, target, action == "enable")
    record_staff_action(session, staff, f"user.{action}", f"user:{user_id}")
    return back_to("/console/admin/users")


# --- canned replies ---------------------------------------------------------------------------------------
@router.get("/canned", response_class=HTMLResponse)
def canned(request: Request, session: SessionDep, staff: AdminDep) -> Response:
    replies = list(canned_replies(session, business_id=staff.business_id))
    return render(request, "canned.html", {"replies": replies})


@router.post("/canned")
def add_canned(session: SessionDep, staff: AdminDep, form: CheckedForm) -> Response:
    add_canned_reply(
        session,
        business_id=staff.business_id,
        title=str(form.get("title") or ""),
        body=str(form.get("body") or ""),
    )
    return back_to("/console/admin/canned")


@router.post("/canned/{reply_id}/delete")
def remove_canned(session: SessionDep, staff: AdminDep, reply_id: ObjectId, _form: CheckedForm) -> Response:
    delete_canned_reply(session, business_id=staff.business_id, reply_id=reply_id)
    return back_to("/console/admin/canned")
