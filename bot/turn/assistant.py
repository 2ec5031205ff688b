"""One turn of the conversation: unseal -> mask -> decide -> retrieve -> answer -> queue the reply.

Runs without FastAPI: it takes its parts in the constructor. Replies are queued masked; the outbox
unmasks them at the moment of sending.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from functools import cache

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from bot.models import (
    AssistantPolicy,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
)
from bot.turn.language import NOT_COVERED, detect_language
from bot.turn.message_limits import MAX_INTERACTIVE_BODY, split_text
from bot.turn.policies import BusinessHours, Intent, classify, is_follow_up, mentions_topic, strongly_negative
from bot.turn.responders import AnswerRequest, Responder
from bot.turn.transparency import privacy_notice, request_reply
from core.crypto import SecretBox
from core.db import session_scope, utcnow
from core.metrics import HANDOFFS, TURN_SECONDS
from core.tenants import Business
from privacy.consent import ConsentSource, Purpose, current_consent, record_consent, states_under_age
from privacy.data_requests import RequestKind, open_data_request
from privacy.detect import KnownValue
from privacy.masker import MaskedSpan, Masker
from privacy.models import PrivacyPolicy
from privacy.policy import MaskingPolicy
from privacy.redaction import record_redactions
from privacy.vault import PlaceholderPlan, VaultScope
from retrieval.search import Retriever, current_passages

log = logging.getLogger(__name__)

UNSUPPORTED_REPLY = (
    "Thanks{name}! I can only read text messages for now. "
    "Please type your question and I'll answer from {business}'s information."
)
HANDOFF_REPLY = "I've asked a member of our team to take over; they will reply here."
STOPPED_REPLY = "You won't get any more messages from {business}. Send START if you want to talk to us again."
STARTED_REPLY = "Welcome back{name}! How can I help?"
HELPED_REPLY = "Glad that helped{name}! Anything else?"
NOT_HELPED_REPLY = (
    "Sorry about that{name}. Could you say it another way? You can also tap 'Talk to a person' at any time."
)
DEFAULT_LANGUAGE = "en"
DATA_REQUESTS = {Intent.DATA_EXPORT: RequestKind.EXPORT, Intent.DATA_ERASURE: RequestKind.ERASURE}
MAX_PLAN_ATTEMPTS = 3


class _PlaceholderTaken(Exception):
    """A placeholder the turn planned was given to another value meanwhile: roll back and plan again."""


@dataclass(frozen=True)
class Reply:
    text: str  # masked
    with_buttons: bool = False


@dataclass
class TurnDecision:
    replies: list[Reply] = field(default_factory=list)
    confident: bool | None = None
    sources: list[int] = field(default_factory=list)
    top_score: float | None = None
    escalate: str | None = None  # the handoff reason, when the conversation goes to a person
    notify_handoff: bool = True  # add the "a person will reply" notice (unless a reply already says so)
    silent: bool = False
    informs: bool = False  # the replies are the privacy notice itself
    first_contact_notice: bool = True  # a new contact's privacy notice may go first (not after a STOP)


@dataclass(frozen=True)
class TurnOutcome:
    message_id: int
    replies: list[int]
    confident: bool | None = None
    handoff_reason: str | None = None


class Assistant:
    """Handles one stored inbound message and queues its reply in the outbox (sent by `Outbox`)."""

    def __init__(
        self,
        *,
        engine: Engine,
        box: SecretBox,
        masker: Masker,
        retriever: Retriever,
        responder: Responder,
        min_confidence: float,
        history_turns: int = 6,
    ) -> None:
        self._engine = engine
        self._box = box
        self._masker = masker
        self._retriever = retriever
        self._responder = responder
        self._min_confidence = min_confidence
        self._history_turns = history_turns

    def handle(self, message_id: int) -> TurnOutcome | None:
        """Answer one inbound message. Returns None when there was nothing (more) to do."""
        started = time.perf_counter()
        for _attempt in range(MAX_PLAN_ATTEMPTS):
            try:
                with session_scope(self._engine) as session:
                    turn = self._turn(session, message_id)
            except _PlaceholderTaken:
                continue  # rolled back: plan again over the scope as it is now
            except (StaleDataError, IntegrityError):
                if self._exists(message_id):
                    raise
                # Erased while the turn ran (a data-subject request): rolled back, nothing of it written.
                log.info("message erased during its turn", extra={"message_id": message_id})
                return None
            break
        else:
            raise RuntimeError("the conversation's vault kept changing under the turn")
        if turn is None:
            return None
        conversation_id, decision, reply_ids = turn
        TURN_SECONDS.observe(time.perf_counter() - started)
        if decision.escalate:
            HANDOFFS.labels(decision.escalate).inc()
        log.info(
            "turn handled",
            extra={
                "message_id": message_id,
                "conversation_id": conversation_id,
                "replies": len(reply_ids),
                "confident": decision.confident,
                "handoff_reason": decision.escalate,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return TurnOutcome(message_id, reply_ids, decision.confident, decision.escalate)

    def _exists(self, message_id: int) -> bool:
        with session_scope(self._engine) as session:
            return session.get(Message, message_id) is not None

    def hand_over_failed(self, message_id: int, reason: str = "bot_error") -> TurnOutcome | None:
        """A turn that could not be completed after its last attempt: the message is marked failed and its
        conversation goes to a person (shown in the inbox with `reason`); the customer is told once that a
        person will reply, unless they sent STOP or a person has the conversation already."""
        with session_scope(self._engine) as session:
            message = session.get(Message, message_id)
            if message is None or message.status not in (InboundStatus.RECEIVED, InboundStatus.PROCESSING):
                return None
            conversation = session.get(Conversation, message.conversation_id)
            if conversation is None or conversation.id is None:
                return None
            message.status = InboundStatus.FAILED
            message.handoff_reason = reason
            message.claimed_at = None
            message.updated_at = utcnow()
            session.add(message)
            queued: list[Message] = []
            if conversation.status != ConversationStatus.WAITING_FOR_AGENT:
                conversation.status = ConversationStatus.WAITING_FOR_AGENT
                conversation.handoff_reason = reason
                session.add(conversation)
                if current_consent(session, conversation.contact_id)[Purpose.SERVICE_REPLIES]:
                    queued.append(
                        self._queue(session, message, conversation.id, Reply(HANDOFF_REPLY), TurnDecision())
                    )
            session.flush()
            conversation_id, reply_ids = conversation.id, [r.id for r in queued if r.id is not None]
        HANDOFFS.labels(reason).inc()
        log.warning(
            "turn failed for good; handed to a person",
            extra={"message_id": message_id, "conversation_id": conversation_id, "handoff_reason": reason},
        )
        return TurnOutcome(message_id, reply_ids, None, reason)

    def _turn(self, session: Session, message_id: int) -> tuple[int, TurnDecision, list[int]] | None:
        """Compute the turn with reads only, then write it all in the transaction's last moments.

        On SQLite the first write takes the database's one write lock until commit, and webhooks wait on it;
        on PostgreSQL the conversation's row lock blocks its next webhook. So masking plans its placeholders
        (`PlaceholderPlan`), nothing is changed before retrieval and the answer, and the vault entries,
        redactions, message and replies are written last.
        """
        row = session.exec(_turn_rows(), params={"message_id": message_id}).first()
        if row is None:
            return None
        message, conversation, business, contact, assistant_policy, privacy_policy = row
        if message.status not in (InboundStatus.RECEIVED, InboundStatus.PROCESSING):
            return None
        assert conversation.id is not None and message.id is not None and business.id is not None
        policy = assistant_policy or AssistantPolicy(business_id=business.id)
        plan = self._masker.vault.planner(session, VaultScope.conversation(conversation.id))
        customer, known = self._known_values(plan, contact)

        question, minor = "", False
        spans: tuple[MaskedSpan, ...] = ()
        if message.text_sealed is not None:
            plain = self._box.open(message.text_sealed)
            # On the plain text: a masker may well take "15 years old" for a date.
            minor = states_under_age(plain)
            masking = question_policy(self._masker.policy_from(privacy_policy), self._retriever, business.id)
            mask = self._masker.plan(session, plain, plan, known=known, policy=masking)
            question, spans = mask.text, mask.spans

        decision = self._decide(
            session, message, conversation, contact, business, policy, customer, question, minor
        )
        # Writes from here on.
        if not plan.keep(session):
            raise _PlaceholderTaken
        if message.text_sealed is not None:
            message.text_masked = question
            message.text_sealed = None
            record_redactions(
                session, business_id=business.id, source_kind="message", source_id=message.id, spans=spans
            )
        if decision.escalate:
            conversation.status = ConversationStatus.WAITING_FOR_AGENT
            conversation.handoff_reason = decision.escalate
            message.handoff_reason = decision.escalate
            if decision.notify_handoff:
                notice = _handoff_notice(BusinessHours.parse(policy.business_hours, policy.timezone))
                last = decision.replies.pop().text + " " if decision.replies else ""
                decision.replies.append(Reply(last + notice))
        session.add(conversation)
        session.add(contact)

        first = _first_contact_notice(contact, business, policy, decision)
        parts = [(part, TurnDecision()) for part in _fit(first)] if first else []
        parts += [(part, decision) for reply in decision.replies for part in _fit(reply)]
        queued = [self._queue(session, message, conversation.id, part, why) for part, why in parts]
        message.status = InboundStatus.RECORDED if decision.silent else InboundStatus.ANSWERED
        message.updated_at = utcnow()
        session.add(message)
        session.flush()
        return conversation.id, decision, [r.id for r in queued if r.id is not None]

    def _decide(
        self,
        session: Session,
        message: Message,
        conversation: Conversation,
        contact: Contact,
        business: Business,
        policy: AssistantPolicy,
        customer: str | None,
        question: str,
        minor: bool,
    ) -> TurnDecision:
        name = f", {customer}" if customer else ""
        intent = classify(question, message.reply_id, json.loads(policy.escalation_keywords))
        assert contact.id is not None and business.id is not None
        business_id, contact_id = business.id, contact.id

        allowed = current_consent(session, contact_id)  # every purpose in one read

        def consent(purpose: Purpose, granted: bool, source: ConsentSource = ConsentSource.KEYWORD) -> None:
            record_consent(
                session,
                business_id=business_id,
                contact_id=contact_id,
                purpose=purpose,
                granted=granted,
                source=source,
            )
            allowed[purpose] = granted

        replying = allowed[Purpose.SERVICE_REPLIES]
        if intent is Intent.STOP:
            if not replying:
                return TurnDecision(silent=True)  # confirmed once already
            consent(Purpose.SERVICE_REPLIES, False)
            return TurnDecision(
                [Reply(STOPPED_REPLY.format(business=business.display_name))], first_contact_notice=False
            )
        if intent is Intent.START and not replying:
            consent(Purpose.SERVICE_REPLIES, True)
            return TurnDecision([Reply(STARTED_REPLY.format(name=name))])
        if minor and allowed[Purpose.AI_PROCESSING]:
            # A child's messages get no automated processing: a person takes over, whoever has the chat now.
            consent(Purpose.AI_PROCESSING, False, ConsentSource.AGE_STATEMENT)
            if replying and conversation.status != ConversationStatus.WAITING_FOR_AGENT:
                return TurnDecision(escalate="under_16")
        # Opted out, a person has the conversation, or no AI processing allowed: record, stay silent.
        silent = (
            not replying
            or conversation.status == ConversationStatus.WAITING_FOR_AGENT
            or not allowed[Purpose.AI_PROCESSING]
        )
        kind = DATA_REQUESTS.get(intent)
        if kind is not None:
            # A legal right: filed in the compliance queue even when the bot stays silent, never carried out
            # on the chat's word alone (whoever writes is not proven to own the number).
            request, new = open_data_request(
                session, business_id=business_id, contact_id=contact_id, kind=kind
            )
            log.info(
                "data request filed",
                extra={"business_id": business_id, "request_id": request.id, "kind": kind.value, "new": new},
            )
            return (
                TurnDecision(silent=True)
                if silent
                else TurnDecision([Reply(request_reply(request, new=new))])
            )
        if silent:
            return TurnDecision(silent=True)
        if not question.strip():
            return TurnDecision([Reply(UNSUPPORTED_REPLY.format(name=name, business=business.display_name))])
        if intent is Intent.DATA_INFO:
            return TurnDecision([Reply(privacy_notice(policy, business.display_name))], informs=True)
        if intent is Intent.HANDOFF:
            return TurnDecision(escalate="customer_request")
        if intent is Intent.HELPED:
            conversation.failed_turns = 0
            return TurnDecision([Reply(HELPED_REPLY.format(name=name))])
        if intent is Intent.NOT_HELPED:
            conversation.failed_turns += 1
            if conversation.failed_turns >= 2:
                return TurnDecision(escalate="failed_twice")
            return TurnDecision([Reply(NOT_HELPED_REPLY.format(name=name))])
        if strongly_negative(question):
            return TurnDecision(escalate="negative_sentiment")
        if mentions_topic(question, json.loads(policy.refuse_topics)):
            return TurnDecision(escalate="restricted_topic")
        language = detect_language(question)

        assert conversation.id is not None and message.id is not None and business.id is not None
        history = self._history(session, conversation.id, before=message.id)
        search_for = question
        previous = [text for role, text in history if role == "customer"]
        if previous and is_follow_up(question):
            search_for = f"{previous[-1]} {question}"
        passages = current_passages(session, business.id, self._retriever.search(business.id, search_for))
        if language != DEFAULT_LANGUAGE and not (passages and detect_language(passages[0].text) == language):
            # The knowledge base does not speak the customer's language: say so in it, and get a person.
            return TurnDecision(
                [Reply(NOT_COVERED[language])], confident=False, escalate="language", notify_handoff=False
            )
        answer = self._responder.answer(
            AnswerRequest(
                question=question,
                passages=passages,
                business_name=business.display_name,
                customer=customer,
                history=history,
                min_confidence=self._min_confidence,
                instructions=policy.instructions,
                search_text=search_for,
            )
        )
        decision = TurnDecision(
            confident=answer.confident,
            sources=[p.document_id for p in answer.sources],
            top_score=max((p.score for p in passages), default=None),
        )
        if not answer.confident:
            decision.replies.append(Reply(answer.text))
            decision.escalate = "low_confidence"
            return decision
        conversation.failed_turns = 0
        decision.replies.append(Reply(answer.text, with_buttons=True))
        return decision

    def _queue(
        self, session: Session, message: Message, conversation_id: int, reply: Reply, decision: TurnDecision
    ) -> Message:
        row = Message(
            business_id=message.business_id,
            conversation_id=conversation_id,
            direction=Direction.OUTBOUND,
            kind="interactive" if reply.with_buttons else "text",
            text_masked=reply.text,
            status=OutboundStatus.QUEUED,
            in_reply_to_id=message.id,
            sources=json.dumps(decision.sources) if decision.sources else None,
            confidence=round(decision.top_score, 4) if decision.top_score is not None else None,
        )
        session.add(row)
        return row

    def _known_values(self, plan: PlaceholderPlan, contact: Contact) -> tuple[str | None, list[KnownValue]]:
        """The sender's number and profile name are personal data wherever they appear."""
        known = [KnownValue("PHONE_NUMBER", self._box.open(contact.wa_id_sealed))]
        customer = None
        if contact.profile_name_sealed:
            name = self._box.open(contact.profile_name_sealed).strip()
            if name:
                customer = plan.placeholder_for("PERSON", name)
                known.append(KnownValue("PERSON", name))
                # "I'm Maria" from a "Maria Lopez": each name part on its own is the person too.
                known.extend(
                    KnownValue("PERSON", part) for part in name.split() if len(part) >= 3 and part.isalpha()
                )
        return customer, known

    def _history(self, session: Session, conversation_id: int, *, before: int) -> list[tuple[str, str]]:
        # Two columns, not whole rows: nothing here is changed, so nothing needs the ORM's bookkeeping.
        rows = session.exec(
            select(Message.direction, Message.text_masked)
            .where(Message.conversation_id == conversation_id, col(Message.id) < before)
            .where(col(Message.text_masked).is_not(None))
            .order_by(col(Message.id).desc())
            .limit(self._history_turns)
        ).all()
        return [
            ("customer" if direction == Direction.INBOUND else "assistant", text_masked or "")
            for direction, text_masked in reversed(rows)
        ]


@cache
def _turn_rows() -> Select[
    Message, Conversation, Business, Contact, AssistantPolicy | None, PrivacyPolicy | None
]:
    """An inbound message with its conversation, business, contact and the business's assistant and privacy
    policies (none where it never set one): one statement where six lookups were six round trips, built once
    (building it cost about as much CPU as running it)."""
    return (
        # sqlmodel types select() for up to four entities.
        select(Message, Conversation, Business, Contact, AssistantPolicy, PrivacyPolicy)  # type: ignore[call-overload,no-any-return]
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .join(Business, col(Business.id) == col(Message.business_id))
        .join(Contact, col(Contact.id) == col(Conversation.contact_id))
        .outerjoin(AssistantPolicy, col(AssistantPolicy.business_id) == col(Message.business_id))
        .outerjoin(PrivacyPolicy, col(PrivacyPolicy.business_id) == col(Message.business_id))
        .where(col(Message.id) == bindparam("message_id"))
    )


def question_policy(policy: MaskingPolicy, retriever: Retriever, business_id: int) -> MaskingPolicy:
    """The masking policy a customer's question is read under: the business's, plus the words its knowledge
    base keeps using (a lone one is its subject, not a customer's name). The turn, the knowledge playground
    and `wepos ask` mask alike."""
    return replace(policy, vocabulary=retriever.vocabulary(business_id))


def _first_contact_notice(
    contact: Contact, business: Business, policy: AssistantPolicy, decision: TurnDecision
) -> Reply | None:
    """The privacy notice a contact gets once, before the first reply it is sent (when the business turned
    the notice on). Erasure deletes the contact, so whoever writes from the number afterwards is told again."""
    told = contact.privacy_notice_at is not None
    if told or not (policy.privacy_notice_enabled and decision.first_contact_notice and decision.replies):
        return None
    contact.privacy_notice_at = utcnow()
    return None if decision.informs else Reply(privacy_notice(policy, business.display_name))


def _fit(reply: Reply) -> list[Reply]:
    """WhatsApp limits: 1,024 characters for a message with buttons, 4,096 for text (split cleanly)."""
    if reply.with_buttons and len(reply.text) <= MAX_INTERACTIVE_BODY:
        return [reply]
    return [Reply(part) for part in split_text(reply.text)]


def _handoff_notice(hours: BusinessHours) -> str:
    notice = HANDOFF_REPLY
    now = utcnow()
    if not hours.is_open(now):
        opening = hours.next_opening(now)
        if opening is not None:
            notice += f" Our team is away right now and will be back {opening.strftime('%A at %H:%M')}."
    return notice
