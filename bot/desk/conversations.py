"""Conversation and policy management shared by the CLI (and, later, the agent console)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import Session, col, select

from bot.channel.templates import TEMPLATE_KIND, MessageTemplate, TemplateSend, check_values, render
from bot.models import (
    AssistantPolicy,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    OutboundStatus,
    policy_for,
)
from bot.turn.policies import BusinessHours, within_service_window
from bot.turn.satisfaction import ask_after_agent
from bot.turn.transparency import validate_contact, validate_notice
from core.db import utcnow
from core.errors import InvalidInput, NotFound
from privacy.masker import Masker
from privacy.vault import VaultScope


def hand_back_to_bot(
    session: Session, *, business_id: int, conversation_id: int, agent_user_id: int | None = None
) -> Conversation:
    """An agent is done: the bot answers this conversation again, and the customer may be asked for a
    rating of the agent (`agent_user_id`, else whoever had claimed it)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.business_id != business_id:
        raise NotFound(f"no conversation {conversation_id} for this business")
    agent = agent_user_id if agent_user_id is not None else conversation.assigned_user_id
    conversation.status = ConversationStatus.BOT
    conversation.assigned_user_id = None
    conversation.handoff_reason = None
    conversation.failed_turns = 0
    session.add(conversation)
    ask_after_agent(session, conversation, policy_for(session, business_id), agent_user_id=agent)
    return conversation


def queue_agent_reply(
    session: Session,
    *,
    business_id: int,
    conversation_id: int,
    text: str,
    masker: Masker,
) -> Message:
    """A person's free-text reply, through the same outbox as the bot's, masked like everything stored (and
    restored when sent). Outside the 24-hour window only an approved template may go (`queue_template_reply`)."""
    conversation = _conversation(session, business_id, conversation_id)
    if not text.strip():
        raise InvalidInput("give a text to send")
    if not within_service_window(conversation.last_inbound_at, utcnow()):
        raise InvalidInput("outside the 24-hour window: only an approved template can be sent")
    policy = masker.policy_for(session, business_id)
    body = masker.mask(session, text, VaultScope.conversation(conversation_id), policy=policy).text
    return _queue(session, business_id, conversation_id, "text", body)


def queue_template_reply(
    session: Session,
    *,
    business_id: int,
    conversation_id: int,
    template: MessageTemplate,
    values: Sequence[str],
    masker: Masker,
) -> Message:
    """An approved template (looked up by `TemplateCatalogue.find`), allowed at any time, with one value a
    variable. The values are what an agent typed: masked like an agent's reply, restored when sent."""
    _conversation(session, business_id, conversation_id)
    checked = check_values(template, values)
    policy = masker.policy_for(session, business_id)
    scope = VaultScope.conversation(conversation_id)
    masked = [masker.mask(session, value, scope, policy=policy).text for value in checked]
    send = TemplateSend(
        name=template.name,
        language=template.language,
        variables=template.variables,
        values=tuple(masked),
        named=template.named,
        body=render(template, masked),
    )
    return _queue(session, business_id, conversation_id, TEMPLATE_KIND, send.to_json())


def _conversation(session: Session, business_id: int, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.business_id != business_id:
        raise NotFound(f"no conversation {conversation_id} for this business")
    return conversation


def _queue(session: Session, business_id: int, conversation_id: int, kind: str, body: str) -> Message:
    message = Message(
        business_id=business_id,
        conversation_id=conversation_id,
        direction=Direction.OUTBOUND,
        kind=kind,
        text_masked=body,
        status=OutboundStatus.QUEUED,
    )
    session.add(message)
    session.flush()
    return message


def list_conversations(
    session: Session, *, business_id: int, waiting_only: bool = False
) -> list[Conversation]:
    query = select(Conversation).where(Conversation.business_id == business_id)
    if waiting_only:
        query = query.where(Conversation.status == ConversationStatus.WAITING_FOR_AGENT)
    return list(session.exec(query.order_by(col(Conversation.id).desc())).all())


def configure_policy(
    session: Session,
    *,
    business_id: int,
    instructions: str | None = None,
    hours_spec: str | None = None,
    timezone: str | None = None,
    escalation_keywords: Sequence[str] | None = None,
    refuse_topics: Sequence[str] | None = None,
    retention_days: int | None = None,
    privacy_notice_enabled: bool | None = None,
    privacy_notice: str | None = None,
    compliance_contact: str | None = None,
    not_sure_hands_over: bool | None = None,
    satisfaction_survey_enabled: bool | None = None,
) -> AssistantPolicy:
    """Change what is given; validate hours and time zone before anything is stored."""
    policy = policy_for(session, business_id)
    if instructions is not None:
        if len(instructions) > 4000:
            raise InvalidInput("instructions are limited to 4,000 characters")
        policy.instructions = instructions
    zone = timezone or policy.timezone
    if hours_spec is not None:
        policy.business_hours = BusinessHours.from_spec(hours_spec, zone).to_json()
    if timezone is not None:
        BusinessHours.parse(policy.business_hours, timezone)
        policy.timezone = timezone
    if escalation_keywords is not None:
        policy.escalation_keywords = json.dumps([k.strip() for k in escalation_keywords if k.strip()])
    if refuse_topics is not None:
        policy.refuse_topics = json.dumps([t.strip() for t in refuse_topics if t.strip()])
    if retention_days is not None:
        if not 1 <= retention_days <= 3650:
            raise InvalidInput("retention days must be between 1 and 3650")
        policy.retention_days = retention_days
    if privacy_notice is not None:
        policy.privacy_notice = validate_notice(privacy_notice)  # empty: back to the default text
    if compliance_contact is not None:
        policy.compliance_contact = validate_contact(compliance_contact)
    if privacy_notice_enabled is not None:
        policy.privacy_notice_enabled = privacy_notice_enabled
    if not_sure_hands_over is not None:
        policy.not_sure_hands_over = not_sure_hands_over
    if satisfaction_survey_enabled is not None:
        policy.satisfaction_survey_enabled = satisfaction_survey_enabled
    policy.updated_at = utcnow()
    session.add(policy)
    session.flush()
    return policy
