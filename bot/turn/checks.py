"""What a turn does before it searches the knowledge base: an ordered list of checks, each of which decides
the turn or passes it on.

The order is the policy. Consent comes first (STOP and START are honoured whatever else the message says),
then a child's statement, then data requests (a legal right, filed even while the bot stays silent), then
silence (opted out, a person has the chat, no AI processing allowed), then what the customer asked for in
so many words, and last the messages a bot must not answer. A turn that passes every check is answered
from the knowledge base (`Assistant`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from bot.models import AssistantPolicy, Contact, Conversation, ConversationStatus, Message, ResolvedBy
from bot.turn.policies import Intent, classify, mentions_topic, strongly_negative
from bot.turn.satisfaction import (
    HELPED_RATING_REPLY,
    RATING_THANKS,
    is_rating_reply,
    open_rating,
    record_rating,
)
from bot.turn.transparency import privacy_notice, request_reply
from core.tenants import Business
from privacy.consent import ConsentSource, Purpose, current_consent, record_consent
from privacy.data_requests import RequestKind, open_data_request

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
DATA_REQUESTS = {Intent.DATA_EXPORT: RequestKind.EXPORT, Intent.DATA_ERASURE: RequestKind.ERASURE}


@dataclass(frozen=True)
class Reply:
    text: str  # masked
    with_buttons: bool = False  # the answer's buttons: "That helped", "Talk to a person"
    offers_person: bool = False  # "Talk to a person" alone, under a "not sure"
    asks_rating: bool = False  # the 1-5 rating list (bot.turn.satisfaction)


@dataclass
class TurnDecision:
    replies: list[Reply] = field(default_factory=list)
    confident: bool | None = None
    sources: list[int] = field(default_factory=list)
    approved_answer_id: int | None = None  # the reply is this approved answer (retrieval.approved)
    evidence: str | None = None  # JSON: the passages the answer came from (document, section, score)
    top_score: float | None = None
    escalate: str | None = None  # the handoff reason, when the conversation goes to a person
    notify_handoff: bool = True  # add the "a person will reply" notice (unless a reply already says so)
    silent: bool = False
    informs: bool = False  # the replies are the privacy notice itself
    first_contact_notice: bool = True  # a new contact's privacy notice may go first (not after a STOP)


class Turn:
    """One masked customer message and what the checks read and record about it."""

    def __init__(
        self,
        session: Session,
        *,
        message: Message,
        conversation: Conversation,
        contact: Contact,
        business: Business,
        policy: AssistantPolicy,
        customer: str | None,
        question: str,
        minor: bool,
    ) -> None:
        assert contact.id is not None and business.id is not None
        self.session = session
        self.message, self.conversation, self.business, self.policy = message, conversation, business, policy
        self.business_id, self.contact_id = business.id, contact.id
        self.customer, self.question, self.minor = customer, question, minor
        self.name = f", {customer}" if customer else ""  # as the replies greet: "Thanks, Maria!"
        self.intent = classify(question, message.reply_id, json.loads(policy.escalation_keywords))
        self.allowed = current_consent(session, contact.id)  # every purpose in one read

    def consent(self, purpose: Purpose, granted: bool, source: ConsentSource = ConsentSource.KEYWORD) -> None:
        record_consent(
            self.session,
            business_id=self.business_id,
            contact_id=self.contact_id,
            purpose=purpose,
            granted=granted,
            source=source,
        )
        self.allowed[purpose] = granted

    @property
    def replying(self) -> bool:
        return self.allowed[Purpose.SERVICE_REPLIES]

    @property
    def silent(self) -> bool:
        """Opted out, a person has the conversation, or no AI processing allowed: record, say nothing."""
        return (
            not self.replying
            or self.conversation.status == ConversationStatus.WAITING_FOR_AGENT
            or not self.allowed[Purpose.AI_PROCESSING]
        )

    def say(self, template: str, **fields: str) -> TurnDecision:
        return TurnDecision(
            [Reply(template.format(name=self.name, business=self.business.display_name, **fields))]
        )


Check = Callable[[Turn], TurnDecision | None]


def stop(turn: Turn) -> TurnDecision | None:
    if turn.intent is not Intent.STOP:
        return None
    if not turn.replying:
        return TurnDecision(silent=True)  # confirmed once already
    turn.consent(Purpose.SERVICE_REPLIES, False)
    decision = turn.say(STOPPED_REPLY)
    decision.first_contact_notice = False
    return decision


def start(turn: Turn) -> TurnDecision | None:
    if turn.intent is not Intent.START or turn.replying:
        return None
    turn.consent(Purpose.SERVICE_REPLIES, True)
    return turn.say(STARTED_REPLY)


def minor(turn: Turn) -> TurnDecision | None:
    """A child's messages get no automated processing: a person takes over, whoever has the chat now."""
    if not (turn.minor and turn.allowed[Purpose.AI_PROCESSING]):
        return None
    turn.consent(Purpose.AI_PROCESSING, False, ConsentSource.AGE_STATEMENT)
    if turn.replying and turn.conversation.status != ConversationStatus.WAITING_FOR_AGENT:
        return TurnDecision(escalate="under_16")
    return None  # silent from now on: the next check but one says nothing


def data_request(turn: Turn) -> TurnDecision | None:
    """A legal right: filed in the compliance queue even when the bot stays silent, never carried out on the
    chat's word alone (whoever writes is not proven to own the number)."""
    kind = DATA_REQUESTS.get(turn.intent)
    if kind is None:
        return None
    request, new = open_data_request(
        turn.session, business_id=turn.business_id, contact_id=turn.contact_id, kind=kind
    )
    log.info(
        "data request filed",
        extra={"business_id": turn.business_id, "request_id": request.id, "kind": kind.value, "new": new},
    )
    return (
        TurnDecision(silent=True) if turn.silent else TurnDecision([Reply(request_reply(request, new=new))])
    )


def rating(turn: Turn) -> TurnDecision | None:
    """A tapped row of the rating list: stored (once, when it was asked for), thanked for, never answered as
    a question nor handed over; an invalid or unasked-for one is only recorded. Before `silence`: a rating
    given after STOP, or once a person has the chat, is still the customer's answer, but nothing is said."""
    if not is_rating_reply(turn.message.reply_id):
        return None
    stored = record_rating(turn.session, turn.message, turn.conversation)
    if stored is None or turn.silent:
        return TurnDecision(silent=True)
    decision = turn.say(RATING_THANKS)
    decision.first_contact_notice = False
    return decision


def silence(turn: Turn) -> TurnDecision | None:
    return TurnDecision(silent=True) if turn.silent else None


def no_text(turn: Turn) -> TurnDecision | None:
    return turn.say(UNSUPPORTED_REPLY) if not turn.question.strip() else None


def data_info(turn: Turn) -> TurnDecision | None:
    if turn.intent is not Intent.DATA_INFO:
        return None
    return TurnDecision([Reply(privacy_notice(turn.policy, turn.business.display_name))], informs=True)


def handoff(turn: Turn) -> TurnDecision | None:
    return TurnDecision(escalate="customer_request") if turn.intent is Intent.HANDOFF else None


def helped(turn: Turn) -> TurnDecision | None:
    if turn.intent is not Intent.HELPED:
        return None
    turn.conversation.failed_turns = 0
    # The bot resolved it: the customer may be asked for a rating (once, in the window, survey on).
    if open_rating(turn.session, turn.conversation, turn.policy, resolved_by=ResolvedBy.BOT) is not None:
        return TurnDecision([Reply(HELPED_RATING_REPLY.format(name=turn.name), asks_rating=True)])
    return turn.say(HELPED_REPLY)


def not_helped(turn: Turn) -> TurnDecision | None:
    """ "That didn't help": ask again once, hand over the second time."""
    if turn.intent is not Intent.NOT_HELPED:
        return None
    turn.conversation.failed_turns += 1
    if turn.conversation.failed_turns >= 2:
        return TurnDecision(escalate="failed_twice")
    return turn.say(NOT_HELPED_REPLY)


def negative(turn: Turn) -> TurnDecision | None:
    return TurnDecision(escalate="negative_sentiment") if strongly_negative(turn.question) else None


def restricted_topic(turn: Turn) -> TurnDecision | None:
    refused = json.loads(turn.policy.refuse_topics)
    return TurnDecision(escalate="restricted_topic") if mentions_topic(turn.question, refused) else None


CHECKS: tuple[Check, ...] = (
    stop,
    start,
    minor,
    data_request,
    rating,
    silence,
    no_text,
    data_info,
    handoff,
    helped,
    not_helped,
    negative,
    restricted_topic,
)


def first_decision(turn: Turn, checks: tuple[Check, ...] = CHECKS) -> TurnDecision | None:
    """The decision of the first check that takes the turn; None when the knowledge base should answer."""
    for check in checks:
        if (decision := check(turn)) is not None:
            return decision
    return None
