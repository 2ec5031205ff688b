"""The agent's desk: queues of conversations, one conversation's masked transcript and notes, claiming,
resolving, canned replies, and revealing the originals (audited). The console is a face over these."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from bot.channel.templates import TEMPLATE_KIND, TemplateSend
from bot.models import (
    CannedReply,
    Contact,
    Conversation,
    ConversationNote,
    ConversationStatus,
    Direction,
    Message,
    policy_for,
)
from bot.turn.policies import within_service_window
from bot.turn.satisfaction import ask_after_agent
from core.audit_trail import record_action
from core.db import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.staff import StaffUser
from privacy.masker import Masker, placeholders_in
from privacy.vault import Vault, VaultScope

SNIPPET_CHARS = 120


class Queue(StrEnum):
    WAITING = "waiting"  # handed to a person, nobody has claimed it
    MINE = "mine"  # claimed by me and not resolved
    OPEN = "open"  # everything not resolved, the bot's included
    RESOLVED = "resolved"


@dataclass(frozen=True)
class InboxRow:
    conversation_id: int
    contact_id: int
    status: str
    handoff_reason: str | None
    assigned_user_id: int | None
    last_text: str  # masked
    last_at: datetime | None
    resolved: bool


@dataclass(frozen=True)
class TranscriptLine:
    message_id: int
    direction: str
    kind: str
    text: str  # masked, or the original once revealed
    status: str
    at: datetime
    approved_answer_id: int | None = None  # the bot sent this approved answer
    by_agent: bool = False  # a person's free-text reply (it can be saved as an approved answer)
    # A bot answer: the passages it came from (document, section, score), its confidence, whether an agent
    # flagged it as wrong.
    sources: list[dict[str, object]] = field(default_factory=list)
    confidence: float | None = None
    flagged_wrong: bool = False


@dataclass(frozen=True)
class NoteLine:
    author_user_id: int
    text: str
    at: datetime


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    lines: list[TranscriptLine]
    notes: list[NoteLine]
    window_open: bool  # inside the 24-hour service window: free text may be sent
    customer: str  # "Customer 12", or the profile name and number once revealed
    revealed: bool


def _resolved_clause():  # type: ignore[no-untyped-def]
    """Resolved, and the customer has not written since."""
    return and_(
        col(Conversation.resolved_at).is_not(None),
        or_(
            col(Conversation.last_inbound_at).is_(None),
            col(Conversation.last_inbound_at) <= col(Conversation.resolved_at),
        ),
    )


def list_inbox(
    session: Session,
    *,
    business_id: int,
    user_id: int,
    queue: Queue,
    search: str | None = None,
    reason: str | None = None,
    limit: int = 100,
) -> list[InboxRow]:
    """One queue, newest activity first; `search` looks in the masked text of the conversation's messages."""
    query = select(Conversation).where(Conversation.business_id == business_id)
    waiting = Conversation.status == ConversationStatus.WAITING_FOR_AGENT
    match queue:
        case Queue.WAITING:
            query = query.where(waiting, col(Conversation.assigned_user_id).is_(None))
        case Queue.MINE:
            query = query.where(waiting, Conversation.assigned_user_id == user_id)
        case Queue.OPEN:
            query = query.where(~_resolved_clause())
        case Queue.RESOLVED:
            query = query.where(_resolved_clause())
        case _:
            raise InvalidInput(f"unknown queue {queue!r}")
    if reason:
        query = query.where(Conversation.handoff_reason == reason)
    if search:
        term = search.strip()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        hits = select(Message.conversation_id).where(
            Message.business_id == business_id, col(Message.text_masked).ilike(f"%{term}%", escape="\\")
        )
        query = query.where(col(Conversation.id).in_(hits))
    order = func.coalesce(Conversation.last_inbound_at, Conversation.created_at)
    conversations = session.exec(query.order_by(order.desc(), col(Conversation.id).desc()).limit(limit)).all()
    return [_row(session, c) for c in conversations]


def _row(session: Session, conversation: Conversation) -> InboxRow:
    assert conversation.id is not None
    last = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation.id, col(Message.text_masked).is_not(None))
        .order_by(col(Message.id).desc())
    ).first()
    text = shown_text(last) if last else ""
    resolved = conversation.resolved_at is not None and (
        conversation.last_inbound_at is None or conversation.last_inbound_at <= conversation.resolved_at
    )
    return InboxRow(
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        status=conversation.status,
        handoff_reason=conversation.handoff_reason,
        assigned_user_id=conversation.assigned_user_id,
        last_text=text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…",
        last_at=last.created_at if last else conversation.created_at,
        resolved=resolved,
    )


def inbox_signature(session: Session, *, business_id: int) -> str:
    """Changes whenever a queue could have: a new message or status, a claim, a hand-back, a resolution."""
    newest = session.exec(select(func.max(Message.id)).where(Message.business_id == business_id)).one()
    updated = session.exec(
        select(func.max(Message.updated_at)).where(Message.business_id == business_id)
    ).one()
    states = session.exec(
        select(
            Conversation.status,
            Conversation.assigned_user_id,
            func.count(),
            func.max(Conversation.resolved_at),
        )
        .where(Conversation.business_id == business_id)
        .group_by(col(Conversation.status), col(Conversation.assigned_user_id))
        .order_by(col(Conversation.status), col(Conversation.assigned_user_id))
    ).all()
    notes = session.exec(
        select(func.max(ConversationNote.id))
        .join(Conversation, col(Conversation.id) == ConversationNote.conversation_id)
        .where(Conversation.business_id == business_id)
    ).one()
    return json.dumps([newest, str(updated), [list(map(str, s)) for s in states], notes])


def get_conversation(session: Session, *, business_id: int, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.business_id != business_id:
        raise NotFound(f"no conversation {conversation_id} for this business")
    return conversation


def conversation_view(
    session: Session,
    *,
    business_id: int,
    conversation_id: int,
    reveal_with: Vault | None = None,
    viewer: StaffUser | None = None,
) -> ConversationView:
    """The transcript, masked; with `reveal_with` (a vault) the originals are put back and the reveal is
    written to the audit log under `viewer`."""
    conversation = get_conversation(session, business_id=business_id, conversation_id=conversation_id)
    messages = session.exec(
        select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.id))
    ).all()
    notes = session.exec(
        select(ConversationNote)
        .where(ConversationNote.conversation_id == conversation_id)
        .order_by(col(ConversationNote.id))
    ).all()
    texts = [shown_text(m) for m in messages]
    note_texts = [n.text_masked for n in notes]
    customer = f"Customer {conversation.contact_id}"
    if reveal_with is not None:
        if viewer is None:
            raise InvalidInput("a reveal needs the person who asked for it")
        scope = VaultScope.conversation(conversation_id)
        wanted = (
            set().union(*(placeholders_in(t) for t in [*texts, *note_texts]))
            if texts or note_texts
            else set()
        )
        originals = reveal_with.originals(session, [scope], wanted)
        texts = [_restore(t, originals) for t in texts]
        note_texts = [_restore(t, originals) for t in note_texts]
        contact = session.get(Contact, conversation.contact_id)
        if contact is not None:
            box = reveal_with.box
            name = box.open(contact.profile_name_sealed) if contact.profile_name_sealed else None
            customer = (
                f"{name} (+{box.open(contact.wa_id_sealed)})"
                if name
                else f"+{box.open(contact.wa_id_sealed)}"
            )
        record_action(
            session,
            business_id=business_id,
            actor=actor_label(viewer),
            action="conversation.reveal",
            target=f"conversation:{conversation_id}",
            detail={"values": len(originals), "contact": True},
        )
    lines = [
        TranscriptLine(
            message_id=m.id or 0,
            direction=m.direction,
            kind=m.kind,
            text=text,
            status=m.status,
            at=m.created_at,
            approved_answer_id=m.approved_answer_id,
            by_agent=m.direction == Direction.OUTBOUND and m.kind == "text" and m.in_reply_to_id is None,
            sources=_sources(m.evidence),
            confidence=m.confidence if m.direction == Direction.OUTBOUND and m.in_reply_to_id else None,
            flagged_wrong=m.flagged_wrong_at is not None,
        )
        for m, text in zip(messages, texts, strict=True)
    ]
    note_lines = [
        NoteLine(n.author_user_id, text, n.created_at) for n, text in zip(notes, note_texts, strict=True)
    ]
    return ConversationView(
        conversation=conversation,
        lines=lines,
        notes=note_lines,
        window_open=within_service_window(conversation.last_inbound_at, utcnow()),
        customer=customer,
        revealed=reveal_with is not None,
    )


def shown_text(message: Message) -> str:
    """A message's masked text as a person reads it: a template send as its name, language and body."""
    if message.kind == TEMPLATE_KIND:
        try:
            return TemplateSend.from_json(message.text_masked).display()
        except (ValueError, KeyError, TypeError):
            return message.text_masked or ""
    return message.text_masked or ""


def _restore(text: str, originals: dict[str, str]) -> str:
    """Like `masker.restore`, but a placeholder without an original stays visible (a reader must see that
    something was there: an erased value, or one from another scope)."""
    for placeholder, value in originals.items():
        text = text.replace(placeholder, value)
    return text


def actor_label(user: StaffUser) -> str:
    return f"user:{user.id} {user.email}"


def _sources(evidence: str | None) -> list[dict[str, object]]:
    try:
        parsed = json.loads(evidence) if evidence else []
    except ValueError:
        return []
    return [row for row in parsed if isinstance(row, dict)] if isinstance(parsed, list) else []


def flag_wrong(session: Session, *, business_id: int, conversation_id: int, message_id: int) -> Message:
    """An agent marks a bot reply as wrong: its question then counts among those the bot could not answer
    (analytics' clusters, the admin's suggestions)."""
    get_conversation(session, business_id=business_id, conversation_id=conversation_id)
    message = session.get(Message, message_id)
    if (
        message is None
        or message.conversation_id != conversation_id
        or message.direction != Direction.OUTBOUND
        or message.in_reply_to_id is None
    ):
        raise NotFound("no such bot reply in this conversation")
    message.flagged_wrong_at = message.flagged_wrong_at or utcnow()
    session.add(message)
    session.flush()
    return message


def claim(session: Session, *, business_id: int, conversation_id: int, user: StaffUser) -> Conversation:
    """Take a conversation: the bot stays silent, and it moves to the agent's own queue."""
    conversation = get_conversation(session, business_id=business_id, conversation_id=conversation_id)
    if conversation.assigned_user_id not in (None, user.id):
        raise Conflict("another agent has claimed this conversation")
    conversation.status = ConversationStatus.WAITING_FOR_AGENT
    conversation.handoff_reason = conversation.handoff_reason or "agent_claimed"
    conversation.assigned_user_id = user.id
    conversation.resolved_at = None
    session.add(conversation)
    session.flush()
    return conversation


def resolve(
    session: Session, *, business_id: int, conversation_id: int, agent_user_id: int | None = None
) -> Conversation:
    """Done: the bot answers the customer's next message, and the conversation leaves the open queues. The
    customer may be asked for a rating of the agent who resolved it (`agent_user_id`, else whoever had
    claimed it)."""
    conversation = get_conversation(session, business_id=business_id, conversation_id=conversation_id)
    agent = agent_user_id if agent_user_id is not None else conversation.assigned_user_id
    conversation.status = ConversationStatus.BOT
    conversation.assigned_user_id = None
    conversation.failed_turns = 0
    conversation.resolved_at = utcnow()
    session.add(conversation)
    session.flush()
    ask_after_agent(session, conversation, policy_for(session, business_id), agent_user_id=agent)
    return conversation


def add_note(
    session: Session, *, business_id: int, conversation_id: int, user: StaffUser, text: str, masker: Masker
) -> ConversationNote:
    """A private note; personal data in it is masked into the conversation's vault like a message."""
    get_conversation(session, business_id=business_id, conversation_id=conversation_id)
    if not text.strip():
        raise InvalidInput("a note needs some text")
    if len(text) > 4000:
        raise InvalidInput("a note is limited to 4,000 characters")
    assert user.id is not None
    policy = masker.policy_for(session, business_id)
    masked = masker.mask(session, text.strip(), VaultScope.conversation(conversation_id), policy=policy).text
    note = ConversationNote(
        conversation_id=conversation_id, author_user_id=user.id, text_masked=masked[:8000]
    )
    session.add(note)
    session.flush()
    return note


def canned_replies(session: Session, *, business_id: int) -> Sequence[CannedReply]:
    query = select(CannedReply).where(CannedReply.business_id == business_id).order_by(col(CannedReply.title))
    return session.exec(query).all()


def add_canned_reply(session: Session, *, business_id: int, title: str, body: str) -> CannedReply:
    if not title.strip() or not body.strip():
        raise InvalidInput("a canned reply needs a title and a text")
    if len(title) > 100 or len(body) > 4000:
        raise InvalidInput("a canned reply's title is limited to 100 characters and its text to 4,000")
    reply = CannedReply(business_id=business_id, title=title.strip(), body=body.strip())
    session.add(reply)
    session.flush()
    return reply


def delete_canned_reply(session: Session, *, business_id: int, reply_id: int) -> None:
    reply = session.get(CannedReply, reply_id)
    if reply is None or reply.business_id != business_id:
        raise NotFound("no such canned reply")
    session.delete(reply)


def handoff_reasons(session: Session, *, business_id: int) -> list[str]:
    rows = session.exec(
        select(Conversation.handoff_reason)
        .where(Conversation.business_id == business_id, col(Conversation.handoff_reason).is_not(None))
        .distinct()
    ).all()
    return sorted(r for r in rows if r)


def inbound_count(session: Session, *, conversation_id: int) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id, Message.direction == Direction.INBOUND)
        ).one()
    )
