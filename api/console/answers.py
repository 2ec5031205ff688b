"""Approved answers in the console: the admin's list (with suggestions from unanswered questions), and the
form an admin or an agent saves an answer with: written by hand, from a suggestion, or from a handed-over
conversation (its question and the agent's reply, masked, for the agent to put in the business's words).

A refused save (a customer's placeholder left, undeclared personal data) shows the form again with the
reason and the texts as typed, so nothing is lost."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from api.console.auth import AdminDep, AgentDep, CheckedForm, Staff, record_staff_action
from api.console.pages import back_to, render
from api.deps import ObjectId, RuntimeDep, SessionDep
from api.runtime import Runtime
from bot.desk.inbox import get_conversation
from bot.models import Direction, Message
from compliance.analytics import answer_suggestions
from core.errors import InvalidInput, NotFound
from ingest.answers import ApprovedAnswerCreate, ApprovedAnswerUpdate
from retrieval.approved import MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, AnswerOrigin

router = APIRouter()

LIST = "/console/admin/answers"


def _form_page(request: Request, draft: dict[str, Any], error: str | None = None) -> HTMLResponse:
    context = {
        "draft": draft,
        "error": error,
        "max_question": MAX_QUESTION_CHARS,
        "max_answer": MAX_ANSWER_CHARS,
    }
    return render(request, "answer_form.html", context, 400 if error else 200)


def _draft(
    question: str = "",
    answer: str = "",
    origin: AnswerOrigin = AnswerOrigin.WRITTEN,
    answer_id: int | None = None,
    conversation_id: int | None = None,
) -> dict[str, Any]:
    return {
        "question": question,
        "answer": answer,
        "origin": origin.value,
        "answer_id": answer_id,
        "conversation_id": conversation_id,
        "keep_business_details": False,
    }


# --- the admin's list -------------------------------------------------------------------------------------
@router.get("/admin/answers", response_class=HTMLResponse)
def answers_page(request: Request, runtime: RuntimeDep, session: SessionDep, staff: AdminDep) -> Response:
    answers = runtime.approved_answers.list_answers(staff.business_id)
    k = runtime.settings.analytics_k
    suggestions = answer_suggestions(session, business_id=staff.business_id, k=k)
    return render(request, "answers.html", {"answers": answers, "suggestions": suggestions, "k": k})


@router.post("/admin/answers/draft", response_class=HTMLResponse)
async def draft_from_suggestion(request: Request, staff: AdminDep, form: CheckedForm) -> Response:
    """ "Answer this" on a suggestion: the form, its question filled in (a POST: the masked question stays
    out of URLs and access logs)."""
    question = str(form.get("question") or "")[:MAX_QUESTION_CHARS]
    return _form_page(request, _draft(question=question))


@router.get("/admin/answers/{answer_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, runtime: RuntimeDep, staff: AdminDep, answer_id: ObjectId) -> Response:
    saved = runtime.approved_answers.get_answer(staff.business_id, answer_id)
    origin = AnswerOrigin(saved.origin)
    return _form_page(request, _draft(saved.question, saved.answer, origin, answer_id=answer_id))


@router.post("/admin/answers/{answer_id}/{action}")
def answer_action(
    runtime: RuntimeDep,
    session: SessionDep,
    staff: AdminDep,
    answer_id: ObjectId,
    action: str,
    _form: CheckedForm,
) -> Response:
    # The answers service runs its own transactions; the audit entry is written after it succeeded.
    match action:
        case "enable" | "disable":
            runtime.approved_answers.set_enabled(staff.business_id, answer_id, action == "enable")
        case "delete":
            runtime.approved_answers.delete(staff.business_id, answer_id)
        case _:
            raise InvalidInput("the action is one of enable, disable, delete")
    record_staff_action(session, staff, f"answer.{action}", f"approved_answer:{answer_id}")
    return back_to(LIST)


# --- from a conversation ----------------------------------------------------------------------------------
def _question_before(session: Session, conversation_id: int, message_id: int) -> str:
    """The customer's last masked message before the agent's reply."""
    text = session.exec(
        select(Message.text_masked)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.INBOUND,
            col(Message.id) < message_id,
            col(Message.text_masked).is_not(None),
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    ).first()
    return text or ""


@router.get("/conversations/{conversation_id}/messages/{message_id}/approve", response_class=HTMLResponse)
def approve_from_conversation(
    request: Request, session: SessionDep, staff: AgentDep, conversation_id: ObjectId, message_id: ObjectId
) -> Response:
    """The form, filled with the customer's question and the agent's reply (both masked)."""
    get_conversation(session, business_id=staff.business_id, conversation_id=conversation_id)
    message = session.get(Message, message_id)
    if (
        message is None
        or message.conversation_id != conversation_id
        or message.direction != Direction.OUTBOUND
    ):
        raise NotFound(f"no reply {message_id} in conversation {conversation_id}")
    draft = _draft(
        _question_before(session, conversation_id, message_id),
        message.text_masked or "",
        AnswerOrigin.CONVERSATION,
        conversation_id=conversation_id,
    )
    return _form_page(request, draft)


# --- saving -----------------------------------------------------------------------------------------------
@router.post("/admin/answers", response_class=HTMLResponse)
def save_answer(
    request: Request, runtime: RuntimeDep, session: SessionDep, staff: AdminDep, form: CheckedForm
) -> Response:
    """Add or edit an approved answer; a refused one comes back with the reason."""
    return _save(request, runtime, session, staff, form, None)


@router.post("/conversations/{conversation_id}/answers", response_class=HTMLResponse)
def save_from_conversation(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    staff: AgentDep,
    conversation_id: ObjectId,
    form: CheckedForm,
) -> Response:
    """An agent approves an answer drafted from the conversation (refused while the customer's data stays)."""
    get_conversation(session, business_id=staff.business_id, conversation_id=conversation_id)
    return _save(request, runtime, session, staff, form, conversation_id)


def _save(
    request: Request,
    runtime: Runtime,
    session: Session,
    staff: Staff,
    form: FormData,
    conversation_id: int | None,
) -> Response:
    question, answer = str(form.get("question") or "").strip(), str(form.get("answer") or "").strip()
    keep = form.get("keep_business_details") == "on"
    origin = AnswerOrigin.WRITTEN if conversation_id is None else AnswerOrigin.CONVERSATION
    answer_id = _int(form.get("answer_id")) if conversation_id is None else None
    draft = {**_draft(question, answer, origin, answer_id, conversation_id), "keep_business_details": keep}
    if not question or not answer or len(question) > MAX_QUESTION_CHARS or len(answer) > MAX_ANSWER_CHARS:
        return _form_page(request, draft, "write both the question and the answer (within the limits)")
    # The answers service runs its own transactions; the audit entry is written after it succeeded.
    try:
        if answer_id is None:
            body = ApprovedAnswerCreate(question=question, answer=answer, keep_business_details=keep)
            saved = runtime.approved_answers.add(staff.business_id, body, origin)
        else:
            change = ApprovedAnswerUpdate(question=question, answer=answer, keep_business_details=keep)
            saved = runtime.approved_answers.update(staff.business_id, answer_id, change)
    except InvalidInput as exc:
        return _form_page(request, draft, exc.message)
    action = "answer.add" if answer_id is None else "answer.edit"
    record_staff_action(session, staff, action, f"approved_answer:{saved.id}")
    return back_to(LIST if conversation_id is None else f"/console/conversations/{conversation_id}")


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and 0 < len(value) < 12 else None
