"""De-identified analytics of one business: counts and rates only, never a value from the vault.

Every count below k (`WEPOS_ANALYTICS_K`) is reported as the string "<k"; where a suppressed count could be
recovered from its series' total (one hidden cell among shown ones), the next smallest is hidden too. The
unanswered-question clusters are built from masked text, and a word may name a cluster only when it comes
from at least k different conversations: a word that rare could be somebody's detail the masker missed.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, or_, select

from bot.models import (
    OFFER_KIND,
    Conversation,
    ConversationRating,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
    ResolvedBy,
)
from core.errors import InvalidInput
from core.placeholders import without_placeholders
from retrieval.models import KnowledgeDocument

Count = int | str  # a number, or "<k" when it is below the threshold
Window = Callable[[Any, Any], Any]  # limits a query to the period asked for, on the given column
TOP_DOCUMENTS = 10
MAX_CLUSTERS = 20
MAX_LABEL_WORDS = 4
MAX_SUGGESTION_EXAMPLES = 3
UNANSWERED_REASONS = ("low_confidence",)  # the bot searched and found nothing it trusted
# Replies that left: sent (and then delivered or read), or printed in console mode.
LEFT = (OutboundStatus.SENT, OutboundStatus.DELIVERED, OutboundStatus.READ, OutboundStatus.PRINTED)
_WORD = re.compile(r"[a-z]+")
_STOPWORDS = frozenset(
    re.findall(
        r"[a-z]+",
        """a about above after again all also am an and any are as at be because been before being below
        between both but by can could did do does doing don down during each few for from further get got had
        has have having he her here hers him his how i if in into is it its just like me more most my no nor
        not now of off on once only or other our out over own please same she should so some such than thank
        thanks that the their them then there these they this those through to too under until up very was we
        were what when where which while who whom why will with would you your yours hello hey hi yes okay ok
        tell know want need call email mail number name""",
    )
)


class NamedCount(BaseModel):
    name: str
    count: Count


class DocumentCount(BaseModel):
    document_id: int
    name: str
    count: Count


class QuestionCluster(BaseModel):
    keywords: list[str]
    count: Count


class DailyCounts(BaseModel):
    day: date
    conversations: Count
    messages_in: Count
    messages_out: Count


class RatingGroup(BaseModel):
    """The ratings of conversations one party resolved: the bot, or one agent."""

    resolved_by: ResolvedBy
    agent_user_id: int | None  # the agent (None for the bot, or a hand-back by a command with no user)
    count: Count
    mean: float | None  # None with fewer than k ratings
    distribution: dict[str, Count]  # "1" to "5": how many gave each


class Satisfaction(BaseModel):
    asked: Count  # customers asked for a rating in the period
    rated: Count  # ratings given in the period
    mean: float | None  # of every rating given; None with fewer than k
    by_bot: RatingGroup
    by_agent: list[RatingGroup]  # one an agent, most ratings first


class Analytics(BaseModel):
    since: datetime | None
    until: datetime | None
    k: int
    conversations: Count
    messages_in: Count
    messages_out: Count
    answered_by_bot: Count  # customer turns the bot answered itself
    handed_to_agents: Count  # customer turns that went to a person
    bot_answer_rate: float | None  # None while either side is below k
    median_first_reply_s: float | None  # None with fewer than k replies
    escalation_reasons: list[NamedCount]
    top_documents: list[DocumentCount]
    unanswered: Count
    unanswered_clusters: list[QuestionCluster]
    daily: list[DailyCounts]
    satisfaction: Satisfaction


def business_analytics(
    session: Session,
    *,
    business_id: int,
    k: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Analytics:
    """Counts and rates of one business's conversations, from `since` (inclusive) to `until` (exclusive)."""
    since, until = _aware(since), _aware(until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until")

    def window(query: Any, column: Any) -> Any:
        if since is not None:
            query = query.where(column >= since)
        if until is not None:
            query = query.where(column < until)
        return query

    started = session.exec(
        window(
            select(Conversation.created_at).where(Conversation.business_id == business_id),
            Conversation.created_at,
        )
    ).all()
    messages = session.exec(
        window(
            select(Message.direction, Message.status, Message.handoff_reason, Message.created_at).where(
                Message.business_id == business_id
            ),
            Message.created_at,
        )
    ).all()
    inbound = [m for m in messages if m.direction == Direction.INBOUND]
    handed = [m for m in inbound if m.handoff_reason]
    # A "not sure" that offered a person answered nothing, though the bot stayed in the chat.
    offered = session.exec(
        window(
            select(func.count())
            .select_from(Message)
            .where(Message.business_id == business_id, Message.kind == OFFER_KIND),
            Message.created_at,
        )
    ).one()
    answered = (
        len([m for m in inbound if m.status == InboundStatus.ANSWERED and not m.handoff_reason]) - offered
    )
    show = _Suppressor(k)

    reasons = Counter(m.handoff_reason or "" for m in handed)
    reason_counts = show.series([n for _, n in reasons.most_common()])
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for moment in started:
        days[moment.date()][0] += 1
    for m in messages:
        days[m.created_at.date()][1 if m.direction == Direction.INBOUND else 2] += 1
    ordered = sorted(days)
    columns = [show.series([days[d][i] for d in ordered]) for i in range(3)]
    unanswered_total, clusters = _unanswered(session, business_id, window, show)
    not_answered = len(handed) + offered
    rate = answered / (answered + not_answered) if min(answered, not_answered) >= k else None
    return Analytics(
        since=since,
        until=until,
        k=k,
        conversations=show(len(started)),
        messages_in=show(len(inbound)),
        messages_out=show(len(messages) - len(inbound)),
        answered_by_bot=show(answered),
        handed_to_agents=show(len(handed)),
        bot_answer_rate=round(rate, 4) if rate is not None else None,
        median_first_reply_s=_median_first_reply(session, business_id, window, k),
        escalation_reasons=[
            NamedCount(name=name, count=count)
            for (name, _), count in zip(reasons.most_common(), reason_counts, strict=True)
        ],
        top_documents=_top_documents(session, business_id, window, show),
        unanswered=unanswered_total,
        unanswered_clusters=clusters,
        daily=[
            DailyCounts(day=d, conversations=c, messages_in=i, messages_out=o)
            for d, c, i, o in zip(ordered, *columns, strict=True)
        ],
        satisfaction=_satisfaction(session, business_id, window, show),
    )


class _Suppressor:
    """Turns counts below k into "<k"."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.hidden = f"<{k}"

    def __call__(self, count: int) -> Count:
        return count if count >= self.k else self.hidden

    def series(self, counts: list[int]) -> list[Count]:
        """Counts that add up to a shown total: one hidden cell would be the total minus the others, so a
        second one (the smallest shown) is hidden with it."""
        shown: list[Count] = [self(n) for n in counts]
        hidden = [i for i, n in enumerate(counts) if n < self.k]
        if len(hidden) == 1 and len(counts) > 1:
            smallest = min((i for i in range(len(counts)) if i not in hidden), key=lambda i: counts[i])
            shown[smallest] = self.hidden
        return shown


def _satisfaction(session: Session, business_id: int, window: Window, show: _Suppressor) -> Satisfaction:
    """Customers' 1-5 ratings of resolved conversations, by who resolved them: asked in the period (by when
    they were asked), given in it (by when they answered)."""
    asked: int = (
        session.scalar(
            window(
                select(func.count())
                .select_from(ConversationRating)
                .where(ConversationRating.business_id == business_id),
                ConversationRating.asked_at,
            )
        )
        or 0
    )
    given = session.exec(
        window(
            select(
                ConversationRating.resolved_by, ConversationRating.agent_user_id, ConversationRating.value
            ).where(
                ConversationRating.business_id == business_id, col(ConversationRating.value).is_not(None)
            ),
            ConversationRating.rated_at,
        )
    ).all()
    groups: dict[tuple[ResolvedBy, int | None], list[int]] = defaultdict(list)
    for resolved_by, agent_user_id, value in given:
        party = ResolvedBy(resolved_by)
        groups[(party, agent_user_id if party is ResolvedBy.AGENT else None)].append(int(value or 0))
    bot = _rating_group(ResolvedBy.BOT, None, groups.pop((ResolvedBy.BOT, None), []), show)
    agents = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0][1] or 0))
    values = [value for _, _, value in given]
    return Satisfaction(
        asked=show(asked),
        rated=show(len(given)),
        mean=_mean([int(v or 0) for v in values], show.k),
        by_bot=bot,
        by_agent=[_rating_group(party, agent, ratings, show) for (party, agent), ratings in agents],
    )


def _rating_group(
    party: ResolvedBy, agent_user_id: int | None, ratings: list[int], show: _Suppressor
) -> RatingGroup:
    """One party's count, mean and distribution; the distribution is suppressed like any series."""
    per_value = Counter(ratings)
    shown = show.series([per_value[n] for n in range(1, 6)])
    return RatingGroup(
        resolved_by=party,
        agent_user_id=agent_user_id,
        count=show(len(ratings)),
        mean=_mean(ratings, show.k),
        distribution={str(n): count for n, count in zip(range(1, 6), shown, strict=True)},
    )


def _mean(ratings: list[int], k: int) -> float | None:
    """The mean rating, to two places; None with fewer than k (a few customers' answers could stand out)."""
    return round(statistics.fmean(ratings), 2) if len(ratings) >= k else None


def _median_first_reply(session: Session, business_id: int, window: Window, k: int) -> float | None:
    """Median seconds from a customer's message to the first reply that left (sent, or printed in console
    mode); None with fewer than k replies, since one customer's timing could stand out."""
    reply = aliased(Message)
    received: dict[int, datetime] = {}
    first: dict[int, datetime] = {}
    # A printed reply (console mode) has no sent_at: it left when it was printed, its last update.
    left_at = func.coalesce(reply.sent_at, reply.updated_at)
    for inbound_id, created_at, left in session.exec(
        window(
            select(Message.id, Message.created_at, left_at)
            .join(reply, col(reply.in_reply_to_id) == Message.id)
            .where(
                Message.business_id == business_id,
                Message.direction == Direction.INBOUND,
                col(reply.status).in_(LEFT),
            ),
            Message.created_at,
        )
    ).all():
        if inbound_id is not None and (inbound_id not in first or left < first[inbound_id]):
            received[inbound_id], first[inbound_id] = created_at, left
    waits = [(left - received[i]).total_seconds() for i, left in first.items()]
    return round(statistics.median(waits), 3) if len(waits) >= k else None


def _top_documents(
    session: Session, business_id: int, window: Window, show: _Suppressor
) -> list[DocumentCount]:
    """Documents answers came from, counted once per customer turn (a long answer is split into parts)."""
    used: Counter[int] = Counter()
    per_turn: set[tuple[int, int]] = set()
    for replied_to, sources in session.exec(
        window(
            select(Message.in_reply_to_id, Message.sources).where(
                Message.business_id == business_id,
                Message.direction == Direction.OUTBOUND,
                col(Message.sources).is_not(None),
            ),
            Message.created_at,
        )
    ).all():
        for document_id in _ids(sources):
            if (replied_to or 0, document_id) not in per_turn:
                per_turn.add((replied_to or 0, document_id))
                used[document_id] += 1
    top = used.most_common(TOP_DOCUMENTS)
    names = dict(
        session.exec(
            select(KnowledgeDocument.id, KnowledgeDocument.source_name).where(
                KnowledgeDocument.business_id == business_id,
                col(KnowledgeDocument.id).in_([document_id for document_id, _ in top]),
            )
        ).all()
    )
    return [
        DocumentCount(
            document_id=document_id, name=names.get(document_id, "(deleted document)"), count=show(n)
        )
        for document_id, n in top
    ]


def _ids(sources: str | None) -> list[int]:
    try:
        parsed = json.loads(sources or "[]")
    except ValueError:
        return []
    return [i for i in parsed if isinstance(i, int)] if isinstance(parsed, list) else []


def _unanswered(
    session: Session, business_id: int, window: Window, show: _Suppressor
) -> tuple[Count, list[QuestionCluster]]:
    """Questions the bot could not answer, grouped by a shared keyword of their masked text."""
    rows = _unanswered_questions(session, business_id, window)
    clusters = [QuestionCluster(keywords=label, count=len(texts)) for label, texts in _clusters(rows, show.k)]
    return show(len(rows)), clusters


def _unanswered_questions(session: Session, business_id: int, window: Window) -> list[tuple[int, str]]:
    """(conversation id, masked text) of each question the bot handed over or was not sure of."""
    rows = session.exec(
        window(
            select(Message.conversation_id, Message.text_masked).where(
                Message.business_id == business_id,
                Message.direction == Direction.INBOUND,
                or_(
                    col(Message.handoff_reason).in_(UNANSWERED_REASONS),
                    col(Message.id).in_(
                        # A "not sure" offering a person, or an answer an agent flagged as wrong.
                        select(Message.in_reply_to_id).where(
                            Message.business_id == business_id,
                            or_(Message.kind == OFFER_KIND, col(Message.flagged_wrong_at).is_not(None)),
                        )
                    ),
                ),
                col(Message.text_masked).is_not(None),
            ),
            Message.created_at,
        )
    ).all()
    return [(conversation_id, text or "") for conversation_id, text in rows]


def _clusters(rows: list[tuple[int, str]], k: int) -> list[tuple[list[str], list[str]]]:
    """The clusters of k questions or more, largest first: each one's label words and its masked texts."""
    questions = [(conversation_id, keywords(text), text) for conversation_id, text in rows]
    # A word names a cluster only if k different conversations used it: rare words may be personal.
    spread: dict[str, set[int]] = defaultdict(set)
    for conversation_id, words, _ in questions:
        for word in words:
            spread[word].add(conversation_id)
    common = {word: len(c) for word, c in spread.items() if len(c) >= k}
    clusters: dict[str, list[tuple[set[str], str]]] = defaultdict(list)
    for _, words, text in questions:
        shared = [w for w in words if w in common]
        if shared:
            key = max(shared, key=lambda w: (common[w], w))
            clusters[key].append((set(shared), text))
    found = []
    for members in clusters.values():
        if len(members) < k:
            continue  # a small group is not shown at all: its words would describe a few people
        # Named by the words most of its questions share (each used by k or more of them).
        used = Counter(w for m, _ in members for w in m)
        label = sorted((w for w, n in used.items() if n >= k), key=lambda w: (-used[w], w))
        found.append((label[:MAX_LABEL_WORDS], [text for _, text in members]))
    found.sort(key=lambda c: (-len(c[1]), c[0]))
    return found[:MAX_CLUSTERS]


class AnswerSuggestion(BaseModel):
    """A cluster of unanswered questions, for an admin to answer once (an approved answer)."""

    keywords: list[str]
    count: int
    examples: list[str]  # masked questions of the cluster, at most MAX_SUGGESTION_EXAMPLES


def answer_suggestions(session: Session, *, business_id: int, k: int) -> list[AnswerSuggestion]:
    """The largest clusters of questions the bot could not answer, each with a few of its masked questions.

    Only a cluster that analytics shows (k questions or more, named by words from k conversations or more)
    is suggested at all, so no example comes from a group small enough to describe a few people; examples
    are masked text, the shortest distinct ones first (the least room for a detail the masker missed)."""

    def window(query: Any, column: Any) -> Any:
        return query

    found = []
    for label, texts in _clusters(_unanswered_questions(session, business_id, window), k):
        distinct = sorted({" ".join(t.split()) for t in texts if t.strip()}, key=lambda t: (len(t), t))
        found.append(
            AnswerSuggestion(keywords=label, count=len(texts), examples=distinct[:MAX_SUGGESTION_EXAMPLES])
        )
    return found


def keywords(masked: str) -> list[str]:
    """The content words of a masked text: placeholders, stop words, short words and digits dropped;
    a plural's s removed so "sundays" and "sunday" meet."""
    text = without_placeholders(masked).lower()
    words = []
    for word in _WORD.findall(text):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in words:
            words.append(word)
    return words


def _aware(moment: datetime | None) -> datetime | None:
    """In UTC (a time without a zone is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # year 1 at +14:00, year 9999 at -14:00
        raise InvalidInput("since and until must be dates between years 1 and 9999 in UTC") from exc
