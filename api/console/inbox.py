"""The agent's inbox: queues, a conversation, and what an agent does to it. Live updates by server-sent events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlmodel import Session

from api.console.auth import AgentDep, CheckedForm, Staff, record_staff_action
from api.console.pages import back_to, render
from api.deps import ObjectId, RuntimeDep, SessionDep
from api.runtime import Runtime
from bot.desk import inbox
from bot.desk.conversations import hand_back_to_bot, queue_agent_reply, queue_template_reply
from bot.desk.inbox import Queue
from core.db import session_scope
from core.errors import ChannelError, InvalidInput, NotFound
from core.staff import list_users
from core.tenants import Business

router = APIRouter()

EVENTS_POLL_S = 1.0
MAX_TEMPLATE_VALUES = 50  # more variables than any template body holds
# An event stream ends after this long and the browser reconnects (EventSource does so by itself): a
# server shutting down never waits on a console left open.
EVENTS_MAX_S = 25.0


@dataclass(frozen=True)
class InboxQuery:
    """Which queue, and the search and filter on it (the page and its live list take the same)."""

    queue: Queue = Queue.WAITING
    q: str | None = None
    reason: str | None = None


def inbox_query(
    queue: Annotated[Queue, Query()] = Queue.WAITING,
    q: Annotated[str | None, Query(max_length=100)] = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
) -> InboxQuery:
    return InboxQuery(queue, q or None, reason or None)


InboxQueryDep = Annotated[InboxQuery, Depends(inbox_query)]


def _inbox_context(session: Session, staff: Staff, query: InboxQuery) -> dict[str, Any]:
    rows = inbox.list_inbox(
        session,
        business_id=staff.business_id,
        user_id=staff.user_id,
        queue=query.queue,
        search=query.q,
        reason=query.reason,
    )
    reasons = inbox.handoff_reasons(session, business_id=staff.business_id)
    agents = {u.id: u.email for u in list_users(session, business_id=staff.business_id)}
    return {
        "rows": rows,
        "queue": query.queue,
        "queues": list(Queue),
        "reasons": reasons,
        "agents": agents,
        "query": {"queue": query.queue.value, "q": query.q or "", "reason": query.reason or ""},
    }


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, session: SessionDep, staff: AgentDep, query: InboxQueryDep) -> Response:
    return render(request, "inbox.html", _inbox_context(session, staff, query))


@router.get("/inbox/list", response_class=HTMLResponse)
def inbox_list(request: Request, session: SessionDep, staff: AgentDep, query: InboxQueryDep) -> Response:
    """The list alone, for the page to swap in when an event says something changed."""
    return render(request, "_inbox_list.html", _inbox_context(session, staff, query))


@router.get("/events")
async def events(request: Request, runtime: RuntimeDep, staff: AgentDep) -> StreamingResponse:
    """`event: inbox` whenever a queue of this business may have changed (new message, claim, status)."""

    # The stream runs after the route has returned (SessionDep is closed by then): one short session per poll.
    def signature() -> str:
        with session_scope(runtime.engine) as session:
            return inbox.inbox_signature(session, business_id=staff.business_id)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        last = await run_in_threadpool(signature)
        yield "event: ready\ndata: {}\n\n"
        deadline = time.monotonic() + EVENTS_MAX_S
        while time.monotonic() < deadline and not await request.is_disconnected():
            await asyncio.sleep(EVENTS_POLL_S)
            current = await run_in_threadpool(signature)
            if current != last:
                last = current
                yield f"event: inbox\ndata: {json.dumps({'at': time.time()})}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


def _conversation_context(
    runtime: Runtime,
    session: Session,
    staff: Staff,
    conversation_id: int,
    reveal: bool = False,
    offer_templates: bool = False,
) -> dict[str, Any]:
    view = inbox.conversation_view(
        session,
        business_id=staff.business_id,
        conversation_id=conversation_id,
        reveal_with=runtime.vault if reveal else None,
        viewer=staff.user,
    )
    agents = {u.id: u.email for u in list_users(session, business_id=staff.business_id)}
    canned = list(inbox.canned_replies(session, business_id=staff.business_id))
    context: dict[str, Any] = {"view": view, "agents": agents, "canned": canned}
    if offer_templates and not view.window_open:
        context.update(_templates_offered(runtime, session, staff))
    return context


def _templates_offered(runtime: Runtime, session: Session, staff: Staff) -> dict[str, Any]:
    """The approved templates an agent can send, or why there are none: the page says so, it never fails."""
    business = session.get(Business, staff.business_id)
    if business is None:
        raise NotFound("this business no longer exists")
    try:
        approved = runtime.templates.approved(business)
    except (InvalidInput, ChannelError) as exc:
        return {"templates": [], "templates_error": exc.message}
    return {
        "templates": [t for t in approved if t.unsupported is None],
        "templates_unsupported": [t for t in approved if t.unsupported is not None],
        "templates_error": None,
    }


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, staff: AgentDep, conversation_id: ObjectId
) -> Response:
    context = _conversation_context(runtime, session, staff, conversation_id, offer_templates=True)
    return render(request, "conversation.html", context)


@router.get("/conversations/{conversation_id}/transcript", response_class=HTMLResponse)
def transcript(
    request: Request, runtime: RuntimeDep, session: SessionDep, staff: AgentDep, conversation_id: ObjectId
) -> Response:
    return render(
        request, "_transcript.html", _conversation_context(runtime, session, staff, conversation_id)
    )


@router.post("/conversations/{conversation_id}/reveal", response_class=HTMLResponse)
def reveal(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    staff: AgentDep,
    conversation_id: ObjectId,
    _form: CheckedForm,
) -> Response:
    """The originals, for this page view only (never cached), written to the audit log."""
    context = _conversation_context(
        runtime, session, staff, conversation_id, reveal=True, offer_templates=True
    )
    return render(request, "conversation.html", context)


def _here(conversation_id: int) -> str:
    return f"/console/conversations/{conversation_id}"


@router.post("/conversations/{conversation_id}/messages/{message_id}/flag")
def flag_wrong(
    session: SessionDep, staff: AgentDep, conversation_id: ObjectId, message_id: ObjectId, _form: CheckedForm
) -> Response:
    """The agent says a bot reply was wrong; audited, and its question feeds the admin's suggestions."""
    inbox.flag_wrong(
        session, business_id=staff.business_id, conversation_id=conversation_id, message_id=message_id
    )
    record_staff_action(session, staff, "reply.flag_wrong", f"message:{message_id}")
    return back_to(_here(conversation_id))


@router.post("/conversations/{conversation_id}/claim")
def claim(session: SessionDep, staff: AgentDep, conversation_id: ObjectId, _form: CheckedForm) -> Response:
    inbox.claim(session, business_id=staff.business_id, conversation_id=conversation_id, user=staff.user)
    return back_to(_here(conversation_id))


@router.post("/conversations/{conversation_id}/handback")
def handback(
    request: Request, runtime: RuntimeDep, staff: AgentDep, conversation_id: ObjectId, _form: CheckedForm
) -> Response:
    # Its own unit of work, like a reply: the rating question it may queue is committed before the worker
    # is woken.
    with session_scope(runtime.engine) as session:
        hand_back_to_bot(
            session,
            business_id=staff.business_id,
            conversation_id=conversation_id,
            agent_user_id=staff.user_id,
        )
    _wake_worker(request, runtime)
    return back_to(_here(conversation_id))


@router.post("/conversations/{conversation_id}/resolve")
def resolve(
    request: Request, runtime: RuntimeDep, staff: AgentDep, conversation_id: ObjectId, _form: CheckedForm
) -> Response:
    with session_scope(runtime.engine) as session:
        inbox.resolve(
            session,
            business_id=staff.business_id,
            conversation_id=conversation_id,
            agent_user_id=staff.user_id,
        )
    _wake_worker(request, runtime)
    return back_to("/console/inbox?queue=mine")


def _wake_worker(request: Request, runtime: Runtime) -> None:
    if request.app.state.run_worker:
        runtime.worker.notify()  # the outbox is delivered by this process's worker thread


@router.post("/conversations/{conversation_id}/reply")
def reply(
    request: Request, runtime: RuntimeDep, staff: AgentDep, conversation_id: ObjectId, form: CheckedForm
) -> Response:
    """Free text inside the 24-hour window, an approved template (its variables filled in) at any time; sent
    through the outbox."""
    text = str(form.get("text") or "").strip()
    name = str(form.get("template") or "").strip()
    language = str(form.get("language") or "").strip()
    values = [str(v) for v in form.getlist("value")]
    if len(text) > 4096 or len(name) > 512 or len(language) > 16 or len(values) > MAX_TEMPLATE_VALUES:
        raise InvalidInput("the reply is too long for WhatsApp")
    if text and name:
        raise InvalidInput("send either a text or a template, not both")
    template = None
    if name:
        # Looked up before the reply's unit of work: a cold cache reads the Graph API, with no transaction open.
        with session_scope(runtime.engine) as session:
            inbox.get_conversation(session, business_id=staff.business_id, conversation_id=conversation_id)
            business = session.get(Business, staff.business_id)
            if business is None:
                raise NotFound("this business no longer exists")
            session.expunge(business)
        template = runtime.templates.find(business, name, language)
    # Its own unit of work, not SessionDep's: the reply must be committed before the worker is woken.
    with session_scope(runtime.engine) as session:
        inbox.get_conversation(session, business_id=staff.business_id, conversation_id=conversation_id)
        if template is not None:
            queue_template_reply(
                session,
                business_id=staff.business_id,
                conversation_id=conversation_id,
                template=template,
                values=values,
                masker=runtime.masker,
            )
        else:
            queue_agent_reply(
                session,
                business_id=staff.business_id,
                conversation_id=conversation_id,
                text=text,
                masker=runtime.masker,
            )
    if request.app.state.run_worker:
        runtime.worker.notify()  # the outbox is delivered by this process's worker thread
    return back_to(_here(conversation_id))


@router.post("/conversations/{conversation_id}/templates/refresh")
def refresh_templates(
    runtime: RuntimeDep, session: SessionDep, staff: AgentDep, conversation_id: ObjectId, _form: CheckedForm
) -> Response:
    """Read the business's approved templates again (one approved a moment ago shows up at once)."""
    inbox.get_conversation(session, business_id=staff.business_id, conversation_id=conversation_id)
    runtime.templates.forget(staff.business_id)
    return back_to(_here(conversation_id))


@router.post("/conversations/{conversation_id}/note")
def note(
    runtime: RuntimeDep, session: SessionDep, staff: AgentDep, conversation_id: ObjectId, form: CheckedForm
) -> Response:
    inbox.add_note(
        session,
        business_id=staff.business_id,
        conversation_id=conversation_id,
        user=staff.user,
        text=str(form.get("text") or ""),
        masker=runtime.masker,
    )
    return back_to(_here(conversation_id))
