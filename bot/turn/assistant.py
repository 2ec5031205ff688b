"""One turn of the conversation: unseal -> mask -> decide -> retrieve -> answer -> queue the reply.

Runs without FastAPI: it takes its parts in the constructor. Replies are queued masked; the outbox
unmasks them at the moment of sending.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from functools import cache

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from bot.models import (
    OFFER_KIND,
    AssistantPolicy,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
)
from bot.turn.checks import HANDOFF_REPLY, Reply, Turn, TurnDecision, first_decision
from bot.turn.crosslingual import CrossLingualRequest, CrossLingualResponder
from bot.turn.language import IN_ENGLISH, NOT_COVERED, detect_language
from bot.turn.message_limits import MAX_INTERACTIVE_BODY, split_text
from bot.turn.policies import BusinessHours, is_follow_up
from bot.turn.responders import AnswerRequest, Responder
from bot.turn.satisfaction import RATING_REQUEST_KIND
from bot.turn.transparency import privacy_notice
from core.crypto import SecretBox
from core.db import session_scope, utcnow
from core.metrics import HANDOFFS, TURN_SECONDS
from core.settings import ANSWER_CONFIDENCE
from core.tenants import Business
from privacy.consent import Purpose, current_consent, states_under_age
from privacy.detect import KnownValue
from privacy.masker import MaskedSpan, Masker
from privacy.models import PrivacyPolicy
from privacy.policy import MaskingPolicy
from privacy.redaction import record_redactions
from privacy.vault import PlaceholderPlan, VaultScope
from retrieval.approved import ApprovedAnswerIndex
from retrieval.multilingual import MultilingualIndex
from retrieval.search import Passage, Retriever, current_passages, search_query

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"
MAX_PLAN_ATTEMPTS = 3


class _PlaceholderTaken(Exception):
    """A placeholder the turn planned was given to another value meanwhile: roll back and plan again."""


@dataclass(frozen=True)
class TurnOutcome:
    message_id: int
    replies: list[int]
    confident: bool | None = None
    handoff_reason: str | None = None


# A "not sure" offers a person this many times in a row; the next one hands the conversation over.
NOT_SURE_OFFERS = 2
NOT_SURE_OFFER = (
    "Could you put it another way? Or tap 'Talk to a person' and a member of our team will reply."
)


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
        answer_confidence: float = ANSWER_CONFIDENCE,
        history_turns: int = 6,
        approved_answers: ApprovedAnswerIndex | None = None,
        multilingual: tuple[MultilingualIndex, CrossLingualResponder] | None = None,
    ) -> None:
        self._engine = engine
        self._box = box
        self._masker = masker
        self._retriever = retriever
        self._responder = responder
        self._min_confidence = min_confidence
        self._answer_confidence = answer_confidence
        self._history_turns = history_turns
        self._approved_answers = approved_answers
        # Questions in another language than the knowledge base's (None: they are handed over).
        self._multilingual = multilingual

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

        turn = Turn(
            session,
            message=message,
            conversation=conversation,
            contact=contact,
            business=business,
            policy=policy,
            customer=customer,
            question=question,
            minor=minor,
        )
        decision = first_decision(turn)
        if decision is None:  # no check took the turn: the knowledge base answers it
            decision = self._answer(session, turn)
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

    def _answer(self, session: Session, turn: Turn) -> TurnDecision:
        """The knowledge base's answer to a turn no check took."""
        message, conversation, business, question = (
            turn.message,
            turn.conversation,
            turn.business,
            turn.question,
        )
        language = detect_language(question)

        assert conversation.id is not None and message.id is not None and business.id is not None
        approved = self._approved_answer(session, turn)
        if approved is not None:
            return approved
        history = self._history(session, conversation.id, before=message.id)
        search_for = question
        passages = self._retriever.search(business.id, question)
        previous = [text for role, text in history if role == "customer"]
        if previous and is_follow_up(question):
            # A follow-up is searched with the previous question too, and the search that matches better
            # wins: "what about Sundays?" needs its context, a short new question ("Do you sell vegan
            # cakes?" after an unrelated one) does not.
            with_context = f"{previous[-1]} {question}"
            found = self._retriever.search(business.id, with_context)
            if _best(found) > _best(passages):
                search_for, passages = with_context, found
        passages = current_passages(session, business.id, passages)
        if language != DEFAULT_LANGUAGE and not (passages and detect_language(passages[0].text) == language):
            # The knowledge base does not speak the customer's language: the multilingual index may still
            # find the answer; if not, say so in the customer's language, and get a person.
            crosslingual = self._crosslingual(session, turn, language)
            if crosslingual is not None:
                return crosslingual
            return TurnDecision(
                [Reply(NOT_COVERED[language])], confident=False, escalate="language", notify_handoff=False
            )
        answer = self._responder.answer(
            AnswerRequest(
                question=question,
                passages=passages,
                business_name=business.display_name,
                customer=turn.customer,
                history=history,
                min_confidence=self._min_confidence,
                answer_confidence=self._answer_confidence,
                instructions=turn.policy.instructions,
                search_text=search_for,
                term_weights=self._retriever.term_weights(business.id),
            )
        )
        decision = TurnDecision(
            confident=answer.confident,
            sources=[p.document_id for p in answer.sources],
            # The answer's calibrated confidence where it has one (the extractive evidence), else the best
            # passage's cosine: what the console shows an agent beside the reply.
            top_score=answer.evidence.confidence
            if answer.evidence is not None
            else max((p.score for p in passages), default=None),
            evidence=_evidence_json(answer.sources or passages[:1]),
        )
        if not answer.confident:
            return self._not_sure(turn, answer.text, decision)
        conversation.failed_turns = 0
        decision.replies.append(Reply(answer.text, with_buttons=True))
        return decision

    def _crosslingual(self, session: Session, turn: Turn, language: str) -> TurnDecision | None:
        """A confident answer quoted from the documents for a question in another language, or None."""
        business_id = turn.business.id
        if self._multilingual is None or language not in IN_ENGLISH or business_id is None:
            return None
        index, responder = self._multilingual
        vector, passages = index.search(business_id, search_query(turn.question))
        passages = current_passages(session, business_id, passages)
        answer = responder.answer(CrossLingualRequest(turn.question, language, vector, passages))
        if answer is None:
            return None
        turn.conversation.failed_turns = 0
        return TurnDecision(
            [Reply(answer.text, with_buttons=True)],
            confident=True,
            sources=[p.document_id for p in answer.sources],
            top_score=answer.evidence.confidence if answer.evidence is not None else None,
            evidence=_evidence_json(answer.sources),
        )

    def _approved_answer(self, session: Session, turn: Turn) -> TurnDecision | None:
        """An approved answer, when the customer's question asks an approved question: it wins over the
        documents' passages (an agent or admin wrote it for this question)."""
        if self._approved_answers is None or turn.business.id is None:
            return None
        match = self._approved_answers.match(session, turn.business.id, turn.question)
        if match is None:
            return None
        turn.conversation.failed_turns = 0
        return TurnDecision(
            [Reply(match.answer, with_buttons=True)],
            confident=True,
            approved_answer_id=match.answer_id,
            top_score=match.score,
        )

    def _not_sure(self, turn: Turn, text: str, decision: TurnDecision) -> TurnDecision:
        """A "not sure" offers a person and keeps the bot answering the next question; the business's
        stricter setting, or the `NOT_SURE_OFFERS`-th "not sure" in a row, hands the conversation over."""
        conversation = turn.conversation
        if turn.policy.not_sure_hands_over or conversation.failed_turns >= NOT_SURE_OFFERS:
            decision.replies.append(Reply(text))
            decision.escalate = "low_confidence"
            return decision
        conversation.failed_turns += 1
        decision.replies.append(Reply(f"{text} {NOT_SURE_OFFER}", offers_person=True))
        return decision

    def _queue(
        self, session: Session, message: Message, conversation_id: int, reply: Reply, decision: TurnDecision
    ) -> Message:
        row = Message(
            business_id=message.business_id,
            conversation_id=conversation_id,
            direction=Direction.OUTBOUND,
            kind=RATING_REQUEST_KIND
            if reply.asks_rating
            else "interactive"
            if reply.with_buttons
            else OFFER_KIND
            if reply.offers_person
            else "text",
            text_masked=reply.text,
            status=OutboundStatus.QUEUED,
            in_reply_to_id=message.id,
            sources=json.dumps(decision.sources) if decision.sources else None,
            approved_answer_id=decision.approved_answer_id,
            evidence=decision.evidence,
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


def _best(passages: list[Passage]) -> float:
    return max((p.score for p in passages), default=-1.0)


def _evidence_json(passages: list[Passage]) -> str | None:
    """The passages an answer came from as the console shows them: document, section (the masked context
    line of its chunk), cosine."""
    if not passages:
        return None
    return json.dumps(
        [
            {
                "document_id": p.document_id,
                "section": p.text.partition("\n")[0][:200],
                "score": round(p.score, 3),
            }
            for p in passages
        ]
    )


def _fit(reply: Reply) -> list[Reply]:
    """WhatsApp limits: 1,024 characters for a message with buttons or a list, 4,096 for text (split
    cleanly)."""
    buttons = reply.with_buttons or reply.offers_person or reply.asks_rating
    if buttons and len(reply.text) <= MAX_INTERACTIVE_BODY:
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
