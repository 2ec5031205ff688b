"""Satisfaction: a resolved conversation's customer is asked once for a 1-5 rating (a list message), and the
row they tap is stored with the conversation, never answered as a question nor handed over."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select, update
from typer.testing import CliRunner

from api import cli
from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.desk import inbox
from bot.desk.conversations import configure_policy, hand_back_to_bot
from bot.models import (
    Conversation,
    ConversationRating,
    ConversationStatus,
    Direction,
    InboundStatus,
    Message,
    OutboundStatus,
    policy_for,
)
from bot.turn.policies import BUTTON_HELPED
from bot.turn.responders import Answer, AnswerRequest
from bot.turn.satisfaction import RATING_REQUEST, RATING_ROWS, rating_value
from compliance.data_rights import erase_contact_data, export_contact_data
from core.db import session_scope, utcnow
from core.staff import Role, StaffUser, create_user
from core.tenants import create_business
from tests.conftest import make_settings
from tests.fakes import NoPassages

_ids = itertools.count()
PHONE = "447700900123"
ANSWER = "We open at 9."
HELPED_ASK = "Glad that helped, <PERSON_1>! " + RATING_REQUEST


class CountingResponder:
    """Always sure of the same answer; counts the questions it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def answer(self, request: AnswerRequest) -> Answer:
        self.asked += 1
        return Answer(ANSWER, True)


class GraphRecorder:
    """What the outbox sent to the Graph API (an in-process transport: no network)."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.payloads.append(json.loads(request.content))
        return httpx.Response(200, json={"messages": [{"id": f"wamid.out-{next(_ids)}"}]})


@pytest.fixture
def responder() -> CountingResponder:
    return CountingResponder()


@pytest.fixture
def sent() -> GraphRecorder:
    return GraphRecorder()


@pytest.fixture
def runtime(  # type: ignore[no-untyped-def]
    tmp_path: Path, database_url: str, mock_analyzer, mock_embeddings, responder, sent
) -> Iterator[Runtime]:
    rt = Runtime(
        make_settings(tmp_path / "var", database_url),
        analyzer=mock_analyzer,
        embeddings=mock_embeddings,
        retriever=NoPassages(),
        responder=responder,
        graph_transport=httpx.MockTransport(sent),
        console=print,
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(
            session, name="crumb", phone_number_id="42", box=rt.box, display_name="Crumb", access_token="EAAx"
        )
    yield rt
    rt.close()


def _turn(runtime: Runtime, text: str, reply_id: str | None = None) -> list[tuple[str, str]]:
    """One customer message (a tapped button or row with `reply_id`) handled: its replies (kind, masked text)."""
    kind = "interactive" if reply_id else "text"
    batch = WebhookBatch(
        messages=[InboundMessage("42", f"wamid.{next(_ids)}", PHONE, "Maria Lopez", kind, text, reply_id)]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)
    with session_scope(runtime.engine) as session:
        replies = session.exec(
            select(Message).where(Message.in_reply_to_id == message_id).order_by(col(Message.id))
        ).all()
        return [(r.kind, r.text_masked or "") for r in replies]


def _ratings(runtime: Runtime) -> list[tuple[str, int | None, int | None]]:
    """Every rating row as (resolved by, agent, value)."""
    with session_scope(runtime.engine) as session:
        rows = session.exec(select(ConversationRating).order_by(col(ConversationRating.id))).all()
        return [(r.resolved_by, r.agent_user_id, r.value) for r in rows]


def _rating_asks(runtime: Runtime) -> list[str]:
    """The rating questions queued, whoever queued them."""
    with session_scope(runtime.engine) as session:
        rows = session.exec(select(Message).where(Message.kind == "rating_request")).all()
        return [r.text_masked or "" for r in rows]


def _conversation(runtime: Runtime) -> Conversation:
    with session_scope(runtime.engine) as session:
        return session.exec(select(Conversation)).one()


def _agent(runtime: Runtime) -> StaffUser:
    with session_scope(runtime.engine) as session:
        return create_user(
            session,
            business_id=1,
            email="agent@crumb.example",
            role=Role.AGENT,
            password="a long pass phrase 1",
        )


def _resolve(runtime: Runtime, agent: StaffUser | None = None) -> None:
    """An agent claims the conversation, then resolves it."""
    conversation = _conversation(runtime)
    with session_scope(runtime.engine) as session:
        if agent is not None:
            inbox.claim(session, business_id=1, conversation_id=conversation.id or 0, user=agent)
        inbox.resolve(session, business_id=1, conversation_id=conversation.id or 0)


def _last_inbound_status(runtime: Runtime) -> str:
    with session_scope(runtime.engine) as session:
        message = session.exec(
            select(Message).where(Message.direction == Direction.INBOUND).order_by(col(Message.id).desc())
        ).first()
        assert message is not None
        return message.status


# --- the bot resolved it ----------------------------------------------------------------------------
def test_that_helped_asks_once_and_the_tapped_row_is_stored_not_answered(
    runtime: Runtime, responder: CountingResponder, sent: GraphRecorder
) -> None:
    assert _turn(runtime, "When are you open?") == [("interactive", ANSWER)]
    assert _turn(runtime, "That helped", BUTTON_HELPED) == [("rating_request", HELPED_ASK)]
    assert _ratings(runtime) == [("bot", None, None)]
    # Asked once a conversation: the next "That helped" is thanked as before.
    assert _turn(runtime, "That helped", BUTTON_HELPED) == [
        ("text", "Glad that helped, <PERSON_1>! Anything else?")
    ]

    assert _turn(runtime, "4 - Good", "wepos:rating:4") == [
        ("text", "Thank you for your rating, <PERSON_1>!")
    ]
    assert _ratings(runtime) == [("bot", None, 4)]
    assert _turn(runtime, "1 - Very poor", "wepos:rating:1") == []  # the first answer stands
    assert _ratings(runtime) == [("bot", None, 4)]
    assert responder.asked == 1  # only the question was answered from the knowledge base
    conversation = _conversation(runtime)
    assert (conversation.status, conversation.handoff_reason) == (ConversationStatus.BOT, None)

    # Sent as an interactive list of five rows, restored and in order.
    runtime.outbox.deliver_due()
    (ask,) = [p for p in sent.payloads if p.get("interactive", {}).get("type") == "list"]
    assert ask["interactive"] == {
        "type": "list",
        "body": {"text": "Glad that helped, Maria Lopez! " + RATING_REQUEST},
        "action": {
            "button": "Rate us",
            "sections": [{"rows": [{"id": rid, "title": title} for rid, title in RATING_ROWS]}],
        },
    }
    assert [r["id"] for r in ask["interactive"]["action"]["sections"][0]["rows"]] == [
        f"wepos:rating:{n}" for n in (5, 4, 3, 2, 1)
    ]
    assert all(len(title) <= 24 for _, title in RATING_ROWS)


def test_the_rating_of_an_agent_resolution_names_the_agent_and_keeps_it_resolved(runtime: Runtime) -> None:
    _turn(runtime, "agent please")
    agent = _agent(runtime)
    _resolve(runtime, agent)
    assert _rating_asks(runtime) == [RATING_REQUEST]
    assert _ratings(runtime) == [("agent", agent.id, None)]

    assert _turn(runtime, "5 - Excellent", "wepos:rating:5") == [
        ("text", "Thank you for your rating, <PERSON_1>!")
    ]
    assert _ratings(runtime) == [("agent", agent.id, 5)]
    with session_scope(runtime.engine) as session:
        resolved = inbox.list_inbox(session, business_id=1, user_id=agent.id or 0, queue=inbox.Queue.RESOLVED)
        assert [row.conversation_id for row in resolved] == [_conversation(runtime).id]  # not reopened
        # Handing it back later asks nothing more: once a conversation.
        hand_back_to_bot(session, business_id=1, conversation_id=_conversation(runtime).id or 0)
    assert _rating_asks(runtime) == [RATING_REQUEST]
    # A question after that reopens it, as any message does.
    assert _turn(runtime, "When are you open?") == [("interactive", ANSWER)]
    with session_scope(runtime.engine) as session:
        assert inbox.list_inbox(session, business_id=1, user_id=0, queue=inbox.Queue.RESOLVED) == []


def test_a_hand_back_asks_for_a_rating_of_the_agent_who_had_it(runtime: Runtime) -> None:
    _turn(runtime, "agent please")
    agent = _agent(runtime)
    with session_scope(runtime.engine) as session:
        inbox.claim(session, business_id=1, conversation_id=1, user=agent)
        hand_back_to_bot(session, business_id=1, conversation_id=1)  # the command's way: no user given
    assert _ratings(runtime) == [("agent", agent.id, None)]


# --- when nobody is asked ---------------------------------------------------------------------------
def _survey_off(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        configure_policy(session, business_id=1, satisfaction_survey_enabled=False)


def _window_closed(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        session.exec(update(Conversation).values(last_inbound_at=utcnow() - timedelta(hours=24, minutes=1)))


def _stopped(runtime: Runtime) -> None:
    assert _turn(runtime, "STOP")[0][1].startswith("You won't get any more messages")


@pytest.mark.parametrize("rule", [_survey_off, _window_closed, _stopped])
def test_an_agent_resolution_asks_nobody_when_a_rule_says_no(runtime: Runtime, rule: Any) -> None:
    _turn(runtime, "agent please")
    rule(runtime)
    _resolve(runtime, _agent(runtime))
    assert (_rating_asks(runtime), _ratings(runtime)) == ([], [])


def test_with_the_survey_off_that_helped_is_thanked_as_before(runtime: Runtime) -> None:
    _survey_off(runtime)
    _turn(runtime, "When are you open?")
    assert _turn(runtime, "That helped", BUTTON_HELPED) == [
        ("text", "Glad that helped, <PERSON_1>! Anything else?")
    ]
    assert (_rating_asks(runtime), _ratings(runtime)) == ([], [])


def test_new_businesses_have_the_survey_on_and_the_cli_turns_it_off(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        assert policy_for(session, 1).satisfaction_survey_enabled is True
    result = CliRunner().invoke(
        cli.app, ["tenant", "configure", "crumb", "--no-satisfaction-survey"], obj=runtime
    )
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("satisfaction survey off")
    with session_scope(runtime.engine) as session:
        assert policy_for(session, 1).satisfaction_survey_enabled is False


def test_a_rating_after_stop_is_kept_and_nothing_is_said(runtime: Runtime) -> None:
    _turn(runtime, "agent please")
    _resolve(runtime)
    _stopped(runtime)
    assert _turn(runtime, "3 - Okay", "wepos:rating:3") == []
    assert _ratings(runtime) == [("agent", None, 3)]


# --- what the customer sends back ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply_id",
    [
        "wepos:rating:9",
        "wepos:rating:0",
        "wepos:rating:",
        "wepos:rating:4x",
        "wepos:rating:-1",
        "wepos:rating:\u0664",  # an Arabic-Indic four: a digit to Python, no rating of ours
        "wepos:rating:" + "5" * 243,
    ],
)
def test_an_invalid_rating_is_recorded_silently_and_stores_nothing(runtime: Runtime, reply_id: str) -> None:
    _turn(runtime, "agent please")
    _resolve(runtime)
    assert _turn(runtime, "Great", reply_id) == []
    assert _last_inbound_status(runtime) == InboundStatus.RECORDED
    assert _ratings(runtime) == [("agent", None, None)]
    assert _conversation(runtime).status == ConversationStatus.BOT  # not handed over
    assert _turn(runtime, "2 - Poor", "wepos:rating:2") == [
        ("text", "Thank you for your rating, <PERSON_1>!")
    ]
    assert _ratings(runtime) == [("agent", None, 2)]


def test_a_rating_nobody_asked_for_is_ignored(runtime: Runtime, responder: CountingResponder) -> None:
    assert _turn(runtime, "5 - Excellent", "wepos:rating:5") == []
    assert (_ratings(runtime), responder.asked, _last_inbound_status(runtime)) == (
        [],
        0,
        InboundStatus.RECORDED,
    )


@pytest.mark.parametrize(
    ("reply_id", "value"),
    [
        ("wepos:rating:1", 1),
        ("wepos:rating:5", 5),
        ("wepos:rating:6", None),
        ("wepos:rating: 3", None),
        ("rating:4", None),
        ("wepos:helped", None),
        ("", None),
        (None, None),
    ],
)
def test_rating_values_come_only_from_our_rows(reply_id: str | None, value: int | None) -> None:
    assert rating_value(reply_id) == value


# --- delivery, erasure and export -----------------------------------------------------------------
def test_a_rating_question_that_cannot_be_delivered_hands_nothing_to_a_person(
    runtime: Runtime, sent: GraphRecorder
) -> None:
    _turn(runtime, "agent please")
    runtime.outbox.deliver_due()  # the handoff notice goes
    _resolve(runtime)
    before = len(sent.payloads)
    # The window closes before the question leaves: Meta would refuse it (131047).
    _window_closed(runtime)
    runtime.outbox.deliver_due()
    assert len(sent.payloads) == before
    with session_scope(runtime.engine) as session:
        (ask,) = session.exec(select(Message).where(Message.kind == "rating_request")).all()
        assert (ask.status, ask.error_code) == (OutboundStatus.FAILED, 131047)
    conversation = _conversation(runtime)  # resolved, not back with a person as "send_failed"
    assert (conversation.status, conversation.handoff_reason) == (ConversationStatus.BOT, "customer_request")


def test_the_rating_is_exported_and_erased_with_the_conversation(runtime: Runtime) -> None:
    _turn(runtime, "When are you open?")
    _turn(runtime, "That helped", BUTTON_HELPED)
    _turn(runtime, "4 - Good", "wepos:rating:4")
    with session_scope(runtime.engine) as session:
        (exported,) = export_contact_data(session, runtime.box, business_id=1, phone=PHONE)["conversations"]
    assert exported["rating"]["value"] == 4 and exported["rating"]["rated_at"] is not None
    erase_contact_data(runtime.engine, runtime.box, business_id=1, phone=PHONE)
    assert _ratings(runtime) == []
