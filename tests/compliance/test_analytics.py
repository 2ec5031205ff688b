"""De-identified analytics: counts and rates only, small counts suppressed, never a value from the vault."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import (
    Contact,
    Conversation,
    ConversationRating,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
    ResolvedBy,
)
from bot.turn.responders import Answer, AnswerRequest
from compliance.analytics import (
    Analytics,
    RatingGroup,
    Satisfaction,
    _Suppressor,
    answer_suggestions,
    business_analytics,
    keywords,
)
from core.db import session_scope
from core.errors import InvalidInput
from core.settings import Settings
from core.staff import Role, create_user
from core.tenants import create_business
from privacy.models import VaultEntry
from retrieval.models import KnowledgeDocument
from tests.conftest import make_settings
from tests.fakes import NoPassages

pytestmark = pytest.mark.transparency

DAY_1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DAY_2 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
_ids = itertools.count()


def _runtime(settings: Settings, analyzer, embeddings, **fakes: Any) -> Runtime:  # type: ignore[no-untyped-def]
    rt = Runtime(settings, analyzer=analyzer, embeddings=embeddings, console=print, **fakes)
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="crumb", phone_number_id="42", box=rt.box, display_name="Crumb")
    return rt


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, analyzer, embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = _runtime(make_settings(tmp_path / "var", database_url), analyzer, embeddings)
    yield rt
    rt.close()


@pytest.fixture
def unanswered_runtime(tmp_path: Path, database_url: str, analyzer, embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """A bot that finds no passage and is never sure."""
    settings = make_settings(tmp_path / "var", database_url)
    rt = _runtime(settings, analyzer, embeddings, retriever=NoPassages(), responder=NotSure())
    yield rt
    rt.close()


def _seed_turn(
    session: Session,
    n: int,
    at: datetime,
    *,
    reason: str | None = None,
    sources: list[int] | None = None,
    wait_s: float = 2.0,
) -> None:
    """One customer, one conversation, one question and its reply, `wait_s` seconds later."""
    contact = Contact(business_id=1, wa_id_hash=f"hash-{n}", wa_id_sealed="sealed")
    session.add(contact)
    session.flush()
    assert contact.id is not None
    conversation = Conversation(business_id=1, contact_id=contact.id, created_at=at, handoff_reason=reason)
    session.add(conversation)
    session.flush()
    assert conversation.id is not None
    question = Message(
        business_id=1,
        conversation_id=conversation.id,
        direction=Direction.INBOUND,
        kind="text",
        text_masked="when are you open?",
        status=InboundStatus.ANSWERED,
        handoff_reason=reason,
        created_at=at,
    )
    session.add(question)
    session.flush()
    session.add(
        Message(
            business_id=1,
            conversation_id=conversation.id,
            direction=Direction.OUTBOUND,
            kind="text",
            text_masked="We open at 9.",
            status=OutboundStatus.SENT,
            in_reply_to_id=question.id,
            sources=json.dumps(sources) if sources else None,
            created_at=at,
            sent_at=at + timedelta(seconds=wait_s),
        )
    )


def _seed(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        for name in ("opening-hours.md", "allergens.html"):
            session.add(
                KnowledgeDocument(business_id=1, source_name=name, title=name, format="md", content_hash="h")
            )
        for n in range(6):  # six answered by the bot on day 1, three of them from both documents
            _seed_turn(session, n, DAY_1 + timedelta(minutes=n), sources=[1, 2] if n < 3 else [1])
        _seed_turn(session, 6, DAY_2, reason="low_confidence", wait_s=4)
        _seed_turn(session, 7, DAY_2 + timedelta(minutes=1), reason="customer_request", wait_s=4)


def test_counts_and_rates_with_small_counts_suppressed(runtime: Runtime) -> None:
    _seed(runtime)
    with session_scope(runtime.engine) as session:
        report = business_analytics(session, business_id=1, k=5)
    assert report.model_dump(mode="json") == {
        "since": None,
        "until": None,
        "k": 5,
        "conversations": 8,
        "messages_in": 8,
        "messages_out": 8,
        "answered_by_bot": 6,
        "handed_to_agents": "<5",
        "bot_answer_rate": None,  # 6 of 8 would tell that 2 were handed over
        "median_first_reply_s": 2.0,
        "escalation_reasons": [
            {"name": "low_confidence", "count": "<5"},
            {"name": "customer_request", "count": "<5"},
        ],
        "top_documents": [
            {"document_id": 1, "name": "opening-hours.md", "count": 6},
            {"document_id": 2, "name": "allergens.html", "count": "<5"},
        ],
        "unanswered": "<5",
        "unanswered_clusters": [],
        # Day 2's 2 is hidden; day 1's 6 too, since 8 - 6 would give it away.
        "daily": [
            {"day": "2026-03-02", "conversations": "<5", "messages_in": "<5", "messages_out": "<5"},
            {"day": "2026-03-03", "conversations": "<5", "messages_in": "<5", "messages_out": "<5"},
        ],
        "satisfaction": NO_RATINGS.model_dump(mode="json"),
    }
    with session_scope(runtime.engine) as session:
        small = business_analytics(session, business_id=1, k=2)
        day_2 = business_analytics(session, business_id=1, k=2, since=DAY_2.replace(hour=0, tzinfo=None))
        other = create_business(session, name="other", phone_number_id="43", box=runtime.box)
        assert other.id is not None
        nothing = business_analytics(session, business_id=other.id, k=5)
    assert (small.handed_to_agents, small.bot_answer_rate, small.daily[0].conversations) == (2, 0.75, 6)
    assert [(r.name, r.count) for r in small.escalation_reasons] == [
        ("low_confidence", "<2"),
        ("customer_request", "<2"),
    ]
    assert (day_2.conversations, day_2.messages_in, day_2.answered_by_bot, day_2.median_first_reply_s) == (
        2,
        2,
        "<2",
        4.0,
    )
    assert nothing == Analytics(
        since=None,
        until=None,
        k=5,
        conversations="<5",
        messages_in="<5",
        messages_out="<5",
        answered_by_bot="<5",
        handed_to_agents="<5",
        bot_answer_rate=None,
        median_first_reply_s=None,
        escalation_reasons=[],
        top_documents=[],
        unanswered="<5",
        unanswered_clusters=[],
        daily=[],
        satisfaction=NO_RATINGS,
    )


NOTHING = {str(n): "<5" for n in range(1, 6)}
NO_RATINGS = Satisfaction(
    asked="<5",
    rated="<5",
    mean=None,
    by_bot=RatingGroup(
        resolved_by=ResolvedBy.BOT, agent_user_id=None, count="<5", mean=None, distribution=NOTHING
    ),
    by_agent=[],
)


def _seed_ratings(runtime: Runtime) -> tuple[int, int]:
    """Ratings of conversations the bot resolved (6, all on day 1) and two agents resolved (5 and 2), plus
    one customer asked who never answered; the two agents' ids."""
    with session_scope(runtime.engine) as session:
        agents = [
            create_user(
                session,
                business_id=1,
                email=f"agent{n}@crumb.example",
                role=Role.AGENT,
                password="a long pass 12",
            ).id
            for n in (1, 2)
        ]
        given = [(None, v) for v in (5, 5, 4, 4, 4, 1)] + [(agents[0], v) for v in (5, 5, 5, 3, 2)]
        given += [(agents[1], 1), (agents[1], 2), (agents[1], None)]
        for n, (agent, value) in enumerate(given):
            _seed_turn(session, 100 + n, DAY_1 + timedelta(minutes=n))
            session.add(
                ConversationRating(
                    business_id=1,
                    conversation_id=n + 1,
                    resolved_by=ResolvedBy.AGENT if agent else ResolvedBy.BOT,
                    agent_user_id=agent,
                    asked_at=DAY_1 + timedelta(minutes=n),
                    value=value,
                    rated_at=DAY_1 + timedelta(minutes=n, seconds=30) if value else None,
                )
            )
    assert agents[0] is not None and agents[1] is not None
    return agents[0], agents[1]


def test_ratings_by_bot_and_by_agent_with_small_counts_suppressed(runtime: Runtime) -> None:
    first, second = _seed_ratings(runtime)
    with session_scope(runtime.engine) as session:
        report = business_analytics(session, business_id=1, k=5).satisfaction
        small = business_analytics(session, business_id=1, k=2).satisfaction
        later = business_analytics(session, business_id=1, k=2, since=DAY_2).satisfaction
    assert report.model_dump(mode="json") == {
        "asked": 14,
        "rated": 13,
        "mean": 3.54,  # 46 / 13
        "by_bot": {
            "resolved_by": "bot",
            "agent_user_id": None,
            "count": 6,
            "mean": 3.83,
            # Only "1" (one rating) is under 5; the smallest shown one is hidden with it, else 6 minus the rest
            # would tell it.
            "distribution": {"1": "<5", "2": "<5", "3": "<5", "4": "<5", "5": "<5"},
        },
        "by_agent": [
            {
                "resolved_by": "agent",
                "agent_user_id": first,
                "count": 5,
                "mean": 4.0,
                "distribution": {"1": "<5", "2": "<5", "3": "<5", "4": "<5", "5": "<5"},
            },
            {
                "resolved_by": "agent",
                "agent_user_id": second,
                "count": "<5",
                "mean": None,  # two ratings: too few for a mean
                "distribution": {"1": "<5", "2": "<5", "3": "<5", "4": "<5", "5": "<5"},
            },
        ],
    }
    assert (small.by_bot.distribution, small.by_bot.mean) == (
        {"1": "<2", "2": "<2", "3": "<2", "4": 3, "5": 2},
        3.83,
    )
    assert [(g.agent_user_id, g.count, g.mean) for g in small.by_agent] == [(first, 5, 4.0), (second, 2, 1.5)]
    assert small.by_agent[0].distribution == {"1": "<2", "2": "<2", "3": "<2", "4": "<2", "5": 3}
    assert later == NO_RATINGS.model_copy(
        update={
            "asked": "<2",
            "rated": "<2",
            "by_bot": NO_RATINGS.by_bot.model_copy(
                update={"count": "<2", "distribution": {str(n): "<2" for n in range(1, 6)}}
            ),
        }
    )


def test_a_period_that_ends_before_it_starts_is_refused(runtime: Runtime) -> None:
    with (
        session_scope(runtime.engine) as session,
        pytest.raises(InvalidInput, match="since must be before until"),
    ):
        business_analytics(session, business_id=1, k=5, since=DAY_2, until=DAY_1)


@pytest.mark.parametrize(
    ("counts", "shown"),
    [
        ([9, 8, 7], [9, 8, 7]),
        ([9, 8, 3], [9, "<5", "<5"]),  # the total minus 9 and 8 would be the 3
        ([9, 2, 3], [9, "<5", "<5"]),
        ([4], ["<5"]),
        ([0, 0], ["<5", "<5"]),
    ],
)
def test_a_hidden_count_cannot_be_recovered_from_its_total(counts: list[int], shown: list[int | str]) -> None:
    assert _Suppressor(5).series(counts) == shown


def test_keywords_come_from_masked_text_without_placeholders_or_stop_words() -> None:
    assert keywords("Hi, I'm <PERSON_1>, do you sell GIFT cards on Sundays? <EMAIL_ADDRESS_1> cards") == [
        "sell",
        "gift",
        "card",
        "sunday",
    ]


# --- the leak scan, on real turns through the real masker ------------------------------------------
CUSTOMERS = [
    ("Maria Lopez", "maria.lopez@example.com", "447700900123"),
    ("John Smith", "john.smith@example.org", "447700900124"),
    ("Aisha Khan", "aisha.khan@example.net", "447700900125"),
    ("Pierre Dubois", "pierre.dubois@example.fr", "33612345678"),
    ("Olga Petrova", "olga.petrova@example.com", "447700900127"),
    ("Hannah Becker", "hannah.becker@example.de", "4915112345678"),
]


class NotSure:
    def answer(self, request: AnswerRequest) -> Answer:
        return Answer("I'm not sure about that.", False)


def _ask(runtime: Runtime, name: str, phone: str, text: str) -> None:
    batch = WebhookBatch(messages=[InboundMessage("42", f"wamid.{next(_ids)}", phone, name, "text", text)])
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)


def test_analytics_never_holds_a_vault_value_and_clusters_only_shared_words(
    unanswered_runtime: Runtime,
) -> None:
    runtime = unanswered_runtime
    for name, email, phone in CUSTOMERS:
        _ask(
            runtime,
            name,
            phone,
            f"Hi, I'm {name}, my email is {email}, call +{phone}. Do you sell gift cards?",
        )
    # Two questions about weddings (too few to show) and one customer's own rare word.
    _ask(
        runtime, "Gregor Zamboni", "447700900130", "Hello, this is Gregor Zamboni: do you make wedding cakes?"
    )
    _ask(
        runtime, "Ines Quiroga", "447700900131", "I am Ines Quiroga, can you do a wedding cake for Zanzibar?"
    )

    with session_scope(runtime.engine) as session:
        report = business_analytics(session, business_id=1, k=5)
        vault = [runtime.box.open(e.value_sealed) for e in session.exec(select(VaultEntry)).all()]
    assert len(vault) >= 3 * len(CUSTOMERS)  # names, e-mails and numbers were masked, so the vault holds them
    dumped = report.model_dump_json()
    leaked = [value for value in vault if value in dumped or value.lower() in dumped.lower()]
    assert leaked == []
    raw = [part for name, email, phone in CUSTOMERS for part in (*name.split(), email, phone)]
    assert [
        value for value in [*raw, "Gregor", "Zamboni", "Ines", "Quiroga"] if value.lower() in dumped.lower()
    ] == []

    # Each "not sure" offered a person and kept the bot in the chat: unanswered, not handed over.
    assert report.unanswered == 8 and report.handed_to_agents == "<5" and report.answered_by_bot == "<5"
    assert report.escalation_reasons == []
    (cluster,) = report.unanswered_clusters
    assert cluster.count == 6 and {"gift", "card", "sell"} <= set(cluster.keywords)
    assert not {"wedding", "zanzibar"} & set(cluster.keywords)

    # The suggestions for approved answers: the same clusters, each with at most 3 masked questions; the
    # wedding questions (two, under k) are not suggested, so neither is shown.
    with session_scope(runtime.engine) as session:
        (suggestion,) = answer_suggestions(session, business_id=1, k=5)
    assert (suggestion.keywords, suggestion.count) == (cluster.keywords, 6)
    # Masked, the six questions read alike: one distinct example (at most 3 are shown).
    assert suggestion.examples == [
        "Hi, I'm <PERSON_1>, my email is <EMAIL_ADDRESS_1>, call <PHONE_NUMBER_1>. Do you sell gift cards?"
    ]
    shown = suggestion.model_dump_json().lower()
    assert [value for value in [*vault, *raw] if value.lower() in shown] == []
