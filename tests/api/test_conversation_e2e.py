"""The conversation engine end to end: real server, engines and database; loopback Graph API and LLM."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from api.runtime import Runtime
from bot.desk.conversations import configure_policy, hand_back_to_bot
from bot.desk.inbox import Queue, list_inbox
from bot.models import Conversation, ConversationStatus, Direction, InboundStatus, Message, OutboundStatus
from bot.turn.policies import BUTTON_HANDOFF
from core.db import session_scope, utcnow
from testing.graph_api import GraphStandIn
from tests.api.conftest import Wepos
from tests.conftest import make_settings
from tests.helpers import (
    HTTP,
    demo_runtime,
    metric_sample,
    post,
    running_server,
    stored_messages,
    text_payload,
    wait_settled,
    wait_until,
)
from tests.llm_stand_in import OpenAIStandIn

pytestmark = pytest.mark.e2e

PERSONAL = {
    "name": "Maria Lopez",
    "phone": "+44 7700 900123",
    "email": "maria.lopez@example.com",
    "card": "4111 1111 1111 1111",
    "address": "221B Baker Street",
}


def _conversation(runtime: Runtime) -> Conversation:
    with session_scope(runtime.engine) as session:
        return session.exec(select(Conversation)).one()


def _say(wepos: Wepos, text: str, **kwargs: object) -> list[str]:
    """Send one customer message; wait until it is handled; return the bodies of the new replies."""
    before = len(wepos.graph.sends)
    assert post(wepos.url, text_payload(text, **kwargs)).status_code == 200  # type: ignore[arg-type]
    wait_settled(wepos.runtime)  # stored before the 200: from now on it is waiting or handled
    return [wepos.graph.body(s) for s in wepos.graph.sends[before:]]


@pytest.fixture
def llm() -> Iterator[OpenAIStandIn]:
    stand_in = OpenAIStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture
def llm_wepos(tmp_path: Path, sqlite_url: str, graph: GraphStandIn, llm: OpenAIStandIn, analyzer, embeddings):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path / "var",
        sqlite_url,
        whatsapp_api_base=graph.base_url,
        llm_provider="openai",
        llm_base_url=llm.base_url,
        llm_model="loopback-model",
        llm_api_key="sk-test",
        llm_timeout_s=1,
    )
    runtime, business_id = demo_runtime(settings, analyzer, embeddings)
    with session_scope(runtime.engine) as session:
        configure_policy(
            session, business_id=business_id, instructions="Be warm; never discuss prices of rivals."
        )
    with running_server(runtime) as url:
        yield Wepos(url, runtime, graph, tmp_path / "var", business_id)


def test_the_language_model_never_sees_personal_data_and_the_customer_sees_their_name(
    llm_wepos: Wepos, llm: OpenAIStandIn
) -> None:
    replies = _say(
        llm_wepos,
        f"Hi, I'm {PERSONAL['name']}, phone {PERSONAL['phone']}, email {PERSONAL['email']}. "
        "Do you have gluten-free bread?",
    )
    replies += _say(
        llm_wepos,
        f"Great. My card is {PERSONAL['card']} and I live at {PERSONAL['address']}, London. Do you sell vegan cakes?",
    )
    assert len(llm.requests) == 2
    for prompt in llm.prompts:
        for kind, value in PERSONAL.items():
            assert value not in prompt, f"{kind} reached the language model"
        assert "Maria" not in prompt and "900123" not in prompt and "1111 1111" not in prompt
    assert "gluten-free seeded loaf" in llm.prompts[0]  # the retrieved passage is in the prompt
    assert "Be warm; never discuss prices of rivals." in llm.prompts[0]  # the business's instructions
    assert "<PERSON_1>" in llm.prompts[0]
    assert replies[0].startswith("Hi Maria Lopez! ")
    assert "gluten-free seeded loaf" in replies[0]
    assert "vegan" in replies[1]


def test_an_unsupported_model_answer_becomes_not_sure_and_an_offer_of_a_person(
    llm_wepos: Wepos, llm: OpenAIStandIn
) -> None:
    llm.reply = "Our rival Bread Co. sells croissants for 50p on Tuesdays."
    (reply,) = _say(llm_wepos, "Do you have gluten-free bread?")
    assert "not sure" in reply and "Talk to a person" in reply and "Bread Co" not in reply
    assert _conversation(llm_wepos.runtime).failed_turns == 1


@pytest.mark.parametrize("mode", ["error", "slow"])
def test_a_dead_or_slow_model_falls_back_to_the_extractive_answer(
    llm_wepos: Wepos, llm: OpenAIStandIn, mode: str
) -> None:
    llm.mode = mode
    (reply,) = _say(llm_wepos, "Can I bring my dog?")
    assert "Dogs are welcome in both shops." in reply
    assert "(Source: Faq)" in reply
    assert len(llm.requests) >= 1


def test_graph_api_rate_limit_is_retried_and_sent_once(wepos: Wepos) -> None:
    wepos.graph.failures.append((400, 130429))  # Meta's throttling code arrives with HTTP 400
    replies = _say(wepos, "Do you sell vegan cakes?")
    assert len(replies) == 2  # the refused try and the delivered one
    outbound = [m for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND]
    assert [(m.status, m.attempts) for m in outbound] == [(OutboundStatus.SENT, 2)]


@pytest.mark.parametrize(("status", "code"), [(401, 190), (400, 131026)])  # token revoked, not on WhatsApp
def test_a_permanent_graph_error_is_recorded_not_retried_and_a_person_sees_it(
    wepos: Wepos, status: int, code: int
) -> None:
    def failures() -> float:
        page = HTTP.get(f"{wepos.url}/metrics").text
        return metric_sample(page, f'wepos_send_failures_total{{cause="{code}"}}')

    before = failures()
    wepos.graph.failures.append((status, code))
    _say(wepos, "Do you sell vegan cakes?")
    wait_settled(wepos.runtime)
    assert len(wepos.graph.sends) == 1
    (outbound,) = [m for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND]
    assert (outbound.status, outbound.error_code, outbound.attempts) == (OutboundStatus.FAILED, code, 1)
    with session_scope(wepos.runtime.engine) as session:
        (row,) = list_inbox(session, business_id=wepos.business_id, user_id=0, queue=Queue.WAITING)
    assert (row.status, row.handoff_reason) == (ConversationStatus.WAITING_FOR_AGENT, "send_failed")
    assert failures() == before + 1
    assert len(wepos.graph.sends) == 1  # the customer is not told: that would fail the same way


def test_escalation_by_phrase_silences_the_bot_until_an_agent_hands_back(wepos: Wepos) -> None:
    (reply,) = _say(wepos, "I want to talk to a real person please")
    assert "member of our team" in reply
    conversation = _conversation(wepos.runtime)
    assert (conversation.status, conversation.handoff_reason) == (
        ConversationStatus.WAITING_FOR_AGENT,
        "customer_request",
    )
    assert _say(wepos, "Hello? When are you open on Sunday?") == []  # the bot stays silent
    assert stored_messages(wepos.runtime)[-1].status == InboundStatus.RECORDED
    sends = len(wepos.graph.sends)
    with session_scope(wepos.runtime.engine) as session:
        hand_back_to_bot(session, business_id=wepos.business_id, conversation_id=conversation.id or 0)
    # The hand-back asks the customer for a rating (a list message) on the worker's next round.
    assert wait_until(lambda: len(wepos.graph.sends) > sends)
    assert wepos.graph.sends[-1]["json"]["interactive"]["type"] == "list"
    (answer,) = _say(wepos, "When are you open on Sunday?")
    assert "9 am to 1 pm" in answer


def test_the_talk_to_a_person_button_escalates(wepos: Wepos) -> None:
    payload = text_payload("x")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message["type"] = "interactive"
    message["interactive"] = {
        "type": "button_reply",
        "button_reply": {"id": BUTTON_HANDOFF, "title": "Talk to a person"},
    }
    assert post(wepos.url, payload).status_code == 200
    assert wait_until(lambda: len(wepos.graph.sends) == 1)
    assert _conversation(wepos.runtime).handoff_reason == "customer_request"


def test_stop_while_waiting_for_an_agent_is_confirmed_once_then_silence_until_start(wepos: Wepos) -> None:
    _say(wepos, "agent")
    (confirmation,) = _say(wepos, "STOP")
    assert "won't get any more messages" in confirmation and "START" in confirmation
    assert _say(wepos, "are you there?") == []
    (welcome,) = _say(wepos, "START")
    assert welcome.startswith("Welcome back")


def test_two_failed_turns_in_a_row_escalate(wepos: Wepos) -> None:
    _say(wepos, "Do you deliver on Mondays?")
    (first,) = _say(wepos, "that didn't help")
    assert "say it another way" in first
    (second,) = _say(wepos, "no, that's not what I asked")
    assert "member of our team" in second
    assert _conversation(wepos.runtime).handoff_reason == "failed_twice"


def test_strong_anger_and_restricted_topics_go_to_a_person(wepos: Wepos) -> None:
    with session_scope(wepos.runtime.engine) as session:
        configure_policy(session, business_id=wepos.business_id, refuse_topics=["allergic reaction"])
    _say(wepos, "My son had an allergic reaction after your brownie")
    assert _conversation(wepos.runtime).handoff_reason == "restricted_topic"


def test_outside_business_hours_the_customer_is_told_when_a_person_replies(wepos: Wepos) -> None:
    closed_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(utcnow() + timedelta(days=2)).weekday()]
    with session_scope(wepos.runtime.engine) as session:
        configure_policy(
            session, business_id=wepos.business_id, hours_spec=f"{closed_day} 09:00-10:00", timezone="UTC"
        )
    (reply,) = _say(wepos, "Can I speak to a human?")
    assert "away right now and will be back" in reply and "at 09:00" in reply


def test_a_follow_up_question_uses_the_conversation_so_far(wepos: Wepos) -> None:
    _say(wepos, "How much does delivery cost?")
    (reply,) = _say(wepos, "and on Sundays?")
    assert "do not deliver on Sundays" in reply


def test_a_question_in_another_language_is_answered_in_it_and_offered_a_person(wepos: Wepos) -> None:
    (reply,) = _say(wepos, "¿Cuándo abren los domingos? ¿Tienen pan sin gluten?")
    assert reply.startswith("Lo siento")
    assert _conversation(wepos.runtime).handoff_reason == "language"


def test_a_reply_outside_the_24_hour_window_is_refused_without_calling_meta(wepos: Wepos) -> None:
    _say(wepos, "Can I bring my dog?")
    conversation = _conversation(wepos.runtime)
    sends_before = len(wepos.graph.sends)
    for hours, expected in ((23 + 59 / 60, OutboundStatus.SENT), (24 + 1 / 60, OutboundStatus.FAILED)):
        with session_scope(wepos.runtime.engine) as session:
            row = session.get(Conversation, conversation.id)
            assert row is not None
            row.last_inbound_at = utcnow() - timedelta(hours=hours)
            session.add(row)
            reply = Message(
                business_id=wepos.business_id,
                conversation_id=conversation.id or 0,
                direction=Direction.OUTBOUND,
                kind="text",
                text_masked="An agent's follow-up",
                status=OutboundStatus.QUEUED,
            )
            session.add(reply)
            session.flush()
            reply_id = reply.id
        wepos.runtime.outbox.deliver(reply_id or 0)
        with session_scope(wepos.runtime.engine) as session:
            stored = session.get(Message, reply_id)
            assert stored is not None and stored.status == expected, hours
    assert len(wepos.graph.sends) == sends_before + 1  # only the one inside the window reached Meta
    assert stored.error_code == 131047


_BODY = {"type": "BODY", "text": "Your order is ready."}


def test_an_agent_reply_goes_out_restored_and_a_template_is_allowed_after_the_window(wepos: Wepos) -> None:
    from bot.channel.templates import parse_template
    from bot.desk.conversations import queue_agent_reply, queue_template_reply
    from core.errors import InvalidInput

    _say(wepos, "agent please")
    conversation = _conversation(wepos.runtime)
    with session_scope(wepos.runtime.engine) as session:
        reply = queue_agent_reply(
            session,
            business_id=wepos.business_id,
            conversation_id=conversation.id or 0,
            text="Hello Maria Lopez, your cake is ready.",
            masker=wepos.runtime.masker,
        )
        assert reply.text_masked == "Hello <PERSON_1>, your cake is ready."  # stored masked
    wepos.runtime.worker.notify()
    assert wait_until(lambda: any("your cake is ready" in wepos.graph.body(s) for s in wepos.graph.sends))
    assert wepos.graph.body(wepos.graph.sends[-1]) == "Hello Maria Lopez, your cake is ready."
    with session_scope(wepos.runtime.engine) as session:
        row = session.get(Conversation, conversation.id)
        assert row is not None
        row.last_inbound_at = utcnow() - timedelta(hours=30)
        session.add(row)
    with session_scope(wepos.runtime.engine) as session, pytest.raises(InvalidInput, match="24-hour window"):
        queue_agent_reply(
            session,
            business_id=wepos.business_id,
            conversation_id=conversation.id or 0,
            text="hi",
            masker=wepos.runtime.masker,
        )
    template = parse_template(
        {"name": "order_ready", "language": "en_GB", "status": "APPROVED", "components": [_BODY]}
    )
    assert template is not None
    with session_scope(wepos.runtime.engine) as session:
        queue_template_reply(
            session,
            business_id=wepos.business_id,
            conversation_id=conversation.id or 0,
            template=template,
            values=[],
            masker=wepos.runtime.masker,
        )
    wepos.runtime.worker.notify()
    assert wait_until(lambda: bool(wepos.graph.template_sends))
    assert wepos.graph.template_sends[-1]["json"]["template"] == {
        "name": "order_ready",
        "language": {"code": "en_GB"},
    }


def test_http_429_is_retried_and_duplicate_statuses_change_nothing(wepos: Wepos) -> None:
    from tests.helpers import status_payload

    wepos.graph.failures.append(429)
    _say(wepos, "Can I bring my dog?")
    (outbound,) = [m for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND]
    assert (outbound.status, outbound.attempts) == (OutboundStatus.SENT, 2)
    assert outbound.wa_message_id is not None
    for status in ("read", "read", "sent", "delivered"):
        assert post(wepos.url, status_payload(outbound.wa_message_id, status)).status_code == 200
    (outbound,) = [m for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND]
    assert outbound.status == OutboundStatus.READ
