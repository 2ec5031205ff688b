"""The spine end to end: real uvicorn, Presidio, MiniLM, Chroma, database and a loopback Graph API."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from sqlmodel import select

from api.runtime import Runtime
from bot.channel.rate_limit import SenderRateLimit
from bot.models import Direction, InboundStatus, OutboundStatus
from core.db import session_scope
from privacy.models import RedactionEvent, VaultEntry
from testing.graph_api import GraphStandIn
from tests.api.conftest import Wepos
from tests.conftest import PAYLOADS, VERIFY_TOKEN, make_settings
from tests.helpers import (
    HTTP,
    PHONE_NUMBER_ID,
    demo_runtime,
    metric_sample,
    post,
    running_server,
    signed,
    status_payload,
    stored_messages,
    text_payload,
    wait_settled,
    wait_until,
)

pytestmark = pytest.mark.e2e

QUESTION = (
    "Hi, this is Maria Lopez, my number is +44 7700 900123 and my email is maria.lopez@example.com. "
    "When are you open on Sunday?"
)
RAW_VALUES = ["Maria", "Lopez", "maria.lopez@example.com", "447700900123", "7700 900123", "900123"]


def test_signed_question_gets_one_grounded_reply_with_the_senders_own_name(wepos: Wepos) -> None:
    response = post(wepos.url, text_payload(QUESTION, wa_message_id="wamid.q1"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "stored": 1,
        "duplicates": 0,
        "statuses": 0,
        "preferences": 0,
        "refused": 0,
    }

    sends = wepos.graph.wait_for_sends(1)
    wait_settled(wepos.runtime)
    assert len(wepos.graph.sends) == 1
    send = sends[0]
    assert send["path"] == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert send["auth"] == "Bearer EAAtest-token"
    assert send["json"]["messaging_product"] == "whatsapp"
    assert send["json"]["to"] == "447700900123"
    assert send["json"]["type"] == "interactive"
    assert [b["reply"]["title"] for b in send["json"]["interactive"]["action"]["buttons"]] == [
        "That helped",
        "Talk to a person",
    ]
    body = wepos.graph.body(send)
    assert "Maria Lopez" in body  # restored on the way out
    assert "9 am to 1 pm" in body  # the fact, from the opening-hours document
    assert "Opening hours" in body  # the source is named
    assert "<" not in body  # no placeholder leaks to the customer

    assert wait_until(lambda: len(wepos.graph.reads) == 1)
    assert wepos.graph.reads[0]["json"] == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.q1",
        "typing_indicator": {"type": "text"},
    }
    inbound, outbound = stored_messages(wepos.runtime)
    assert inbound.direction == Direction.INBOUND and inbound.status == InboundStatus.ANSWERED
    assert inbound.text_sealed is None
    assert inbound.text_masked is not None
    assert "Maria" not in inbound.text_masked and "<PERSON_1>" in inbound.text_masked
    assert "<EMAIL_ADDRESS_1>" in inbound.text_masked and "<PHONE_NUMBER_1>" in inbound.text_masked
    assert outbound.direction == Direction.OUTBOUND and outbound.status == OutboundStatus.SENT
    assert outbound.text_masked is not None and outbound.text_masked.startswith("Hi <PERSON_1>!")
    assert outbound.wa_message_id and outbound.wa_message_id.startswith("wamid.out-")
    with session_scope(wepos.runtime.engine) as session:
        kinds = sorted(
            e.entity_type
            for e in session.exec(select(RedactionEvent).where(RedactionEvent.source_kind == "message")).all()
        )
    assert kinds == ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"]


def test_same_delivery_twice_sends_one_reply(wepos: Wepos) -> None:
    payload = text_payload("Do you deliver on Mondays?", wa_message_id="wamid.dup")
    first, second = post(wepos.url, payload), post(wepos.url, payload)
    assert first.json()["stored"] == 1
    assert second.status_code == 200 and second.json()["duplicates"] == 1 and second.json()["stored"] == 0
    wepos.graph.wait_for_sends(1)
    wait_settled(wepos.runtime)
    assert len(wepos.graph.sends) == 1
    assert [m.direction for m in stored_messages(wepos.runtime)] == [Direction.INBOUND, Direction.OUTBOUND]


def test_missing_signature_is_401_and_wrong_signature_403_and_nothing_is_stored(wepos: Wepos) -> None:
    raw, headers = signed(text_payload("hello"))
    missing = post(wepos.url, raw, {"Content-Type": "application/json"})
    assert missing.status_code == 401 and missing.json()["error"] == "unauthenticated"
    wrong = post(wepos.url, raw, {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert wrong.status_code == 403
    tampered = post(wepos.url, raw.replace(b"hello", b"HELLO"), headers)
    assert tampered.status_code == 403
    # A refused webhook is refused before anything is stored: the answer above came after that decision.
    assert stored_messages(wepos.runtime) == []
    assert wepos.graph.requests == []


def test_verification_handshake_echoes_challenge_only_for_the_right_token(wepos: Wepos) -> None:
    ok = HTTP.get(
        f"{wepos.url}/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["content-type"].startswith("text/plain")
    wrong = HTTP.get(
        f"{wepos.url}/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403
    assert HTTP.get(f"{wepos.url}/webhooks/whatsapp").status_code == 403


def test_every_shared_payload_is_accepted_without_a_server_error(wepos: Wepos) -> None:
    files = (
        sorted(p for p in PAYLOADS.glob("*.json") if not p.name.startswith("_")) if PAYLOADS.exists() else []
    )
    if not files:
        pytest.skip("../shared/whatsapp-payloads is absent")
    # The fixtures' number belongs to a second business of ours.
    from core.tenants import create_business

    with session_scope(wepos.runtime.engine) as session:
        create_business(
            session,
            name="fixtures",
            phone_number_id="1122334455667",
            box=wepos.runtime.box,
            access_token="EAAother",
        )
    # One test number sends most fixtures within a second: no flood under test here, so no rate limit.
    wepos.runtime.worker.rate_limit = SenderRateLimit(0)
    statuses = {}
    for path in files:
        response = post(wepos.url, path.read_bytes())
        statuses[path.name] = response.status_code
        # Most fixtures share the id "wamid.xyzxyz" (so the above are duplicates after the first), and
        # were sent years ago (so the above are refused as older than Meta's retries): again with ids of
        # their own, sent now, so that every kind is really handled.
        unique = re.sub(
            r'"timestamp": *"\d+"',
            f'"timestamp": "{int(time.time())}"',
            path.read_text()
            .replace('"wamid.', f'"wamid.{path.stem}-')
            .replace('"<WHATSAPP_MESSAGE_ID>"', f'"{path.stem}"'),
        )
        statuses[f"{path.name} (unique id)"] = post(wepos.url, unique.encode()).status_code
    assert statuses == {name: 200 for name in statuses}, statuses
    assert len(statuses) == 80
    assert HTTP.get(f"{wepos.url}/healthz").json() == {"status": "ok"}
    # Text-like messages are answered; reactions and system messages only recorded.
    assert wait_until(
        lambda: all(
            m.status not in (InboundStatus.RECEIVED, InboundStatus.PROCESSING)  # queued, or mid-turn
            for m in stored_messages(wepos.runtime)
            if m.direction == Direction.INBOUND
        )
    )
    by_kind: dict[str, set[str]] = {}
    for message in stored_messages(wepos.runtime):
        if message.direction == Direction.INBOUND:
            by_kind.setdefault(message.kind, set()).add(message.status)
    assert by_kind["reaction"] == {InboundStatus.RECORDED}
    assert by_kind["system"] == {InboundStatus.RECORDED}
    # Every message was dealt with: answered, or recorded once the conversation went to a person.
    handled = {InboundStatus.ANSWERED, InboundStatus.RECORDED}
    assert all(statuses <= handled for statuses in by_kind.values()), by_kind
    assert any(m.direction == Direction.OUTBOUND for m in stored_messages(wepos.runtime))


def test_media_message_gets_a_polite_reply_and_a_reaction_none(wepos: Wepos) -> None:
    value = text_payload("x", wa_message_id="wamid.img")
    message = value["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message["type"] = "image"
    message["image"] = {"id": "123", "mime_type": "image/jpeg"}
    assert post(wepos.url, value).status_code == 200
    reaction = text_payload("x", wa_message_id="wamid.react")
    r_message = reaction["entry"][0]["changes"][0]["value"]["messages"][0]
    r_message.pop("text")
    r_message["type"] = "reaction"
    r_message["reaction"] = {"message_id": "wamid.img", "emoji": "👍"}
    assert post(wepos.url, reaction).status_code == 200
    sends = wepos.graph.wait_for_sends(1)
    wait_settled(wepos.runtime)
    assert len(wepos.graph.sends) == 1
    assert "only read text messages" in wepos.graph.body(sends[0])
    assert "Maria Lopez" in wepos.graph.body(sends[0])


def test_unknown_phone_number_is_acknowledged_and_ignored(wepos: Wepos) -> None:
    response = post(wepos.url, text_payload("hello", phone_number_id="999999"))
    assert response.status_code == 200 and response.json()["stored"] == 0
    assert stored_messages(wepos.runtime) == []


def test_malformed_body_with_valid_signature_gets_a_clear_400(wepos: Wepos) -> None:
    raw, headers = signed(b"{not json")
    response = post(wepos.url, raw, headers)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_input", "detail": "webhook body is not valid JSON"}


def test_status_callbacks_move_delivery_status_forward_only(wepos: Wepos) -> None:
    post(wepos.url, text_payload("Can I bring my dog?"))
    wepos.graph.wait_for_sends(1)
    assert wait_until(
        lambda: any(
            m.wa_message_id for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND
        )
    )
    outbound = next(m for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND)
    assert outbound.wa_message_id is not None
    for status in ("delivered", "read", "delivered"):
        assert post(wepos.url, status_payload(outbound.wa_message_id, status)).status_code == 200
    assert (
        next(m for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND).status
        == OutboundStatus.READ
    )


def test_failing_graph_api_is_retried_and_the_reply_is_not_lost(wepos: Wepos) -> None:
    wepos.graph.failures.extend([503, 500])
    post(wepos.url, text_payload("Do you sell vegan cakes?"))
    assert wait_until(lambda: len(wepos.graph.sends) == 3, timeout=30)
    wait_settled(wepos.runtime)
    outbound = [m for m in stored_messages(wepos.runtime) if m.direction == Direction.OUTBOUND]
    assert len(outbound) == 1
    assert outbound[0].status == OutboundStatus.SENT and outbound[0].attempts == 3
    assert "vegan" in wepos.graph.body(wepos.graph.sends[-1])


def test_a_not_sure_offers_a_person_and_the_bot_answers_the_next_question(wepos: Wepos) -> None:
    from bot.models import Conversation, ConversationStatus

    post(wepos.url, text_payload("What is the capital of Mongolia?", wa_message_id="wamid.ns1"))
    (offer,) = wepos.graph.wait_for_sends(1)
    assert "not sure" in wepos.graph.body(offer) and "Talk to a person" in wepos.graph.body(offer)
    buttons = offer["json"]["interactive"]["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["Talk to a person"]
    with session_scope(wepos.runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
    assert conversation.status == ConversationStatus.BOT and conversation.handoff_reason is None

    # The next, easy question is answered: one "not sure" no longer silences the bot.
    post(wepos.url, text_payload("When are you open on Sunday?", wa_message_id="wamid.ns2"))
    sends = wepos.graph.wait_for_sends(2)
    assert len(sends) == 2 and "Sunday" in wepos.graph.body(sends[1])
    # A short new question is not read as a follow-up of the unanswered one: it is answered on its own.
    post(wepos.url, text_payload("What is the capital of Mongolia?", wa_message_id="wamid.ns2b"))
    post(wepos.url, text_payload("Do you sell vegan cakes?", wa_message_id="wamid.ns2c"))
    sends = wepos.graph.wait_for_sends(4)
    assert len(sends) == 4 and "vegan" in wepos.graph.body(sends[3])

    # Tapping the offered button hands the conversation over.
    tap = text_payload("", wa_message_id="wamid.ns3")
    message = tap["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message["type"] = "interactive"
    message["interactive"] = {
        "type": "button_reply",
        "button_reply": {"id": buttons[0]["reply"]["id"], "title": "x"},
    }
    post(wepos.url, tap)
    assert wait_until(lambda: _conversation_status(wepos) == ConversationStatus.WAITING_FOR_AGENT, timeout=30)


def test_a_business_that_chose_the_strict_setting_hands_a_not_sure_over_at_once(wepos: Wepos) -> None:
    from bot.desk.conversations import configure_policy
    from bot.models import Conversation, ConversationStatus

    with session_scope(wepos.runtime.engine) as session:
        configure_policy(session, business_id=wepos.business_id, not_sure_hands_over=True)
    post(wepos.url, text_payload("What is the capital of Mongolia?"))
    sends = wepos.graph.wait_for_sends(1)
    assert "not sure" in wepos.graph.body(sends[0]) and "team" in wepos.graph.body(sends[0])
    with session_scope(wepos.runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
    assert conversation.status == ConversationStatus.WAITING_FOR_AGENT
    assert conversation.handoff_reason == "low_confidence"


def _conversation_status(wepos: Wepos) -> str:
    from bot.models import Conversation

    with session_scope(wepos.runtime.engine) as session:
        return session.exec(select(Conversation)).one().status


def test_raw_personal_data_appears_nowhere_in_the_data_dir(wepos: Wepos) -> None:
    post(wepos.url, text_payload(QUESTION))
    post(wepos.url, text_payload("Thanks Maria here again, can I pay by card? Call me on +44 7700 900123"))
    wepos.graph.wait_for_sends(2)
    assert wait_until(
        lambda: len([m for m in stored_messages(wepos.runtime) if m.status == OutboundStatus.SENT]) == 2
    )
    with session_scope(wepos.runtime.engine) as session:
        assert session.exec(select(VaultEntry)).first() is not None
    wepos.runtime.engine.dispose()  # flush SQLite's WAL into the scan as well
    scanned = 0
    for path in wepos.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            scanned += 1
            for value in RAW_VALUES:
                assert value.encode() not in data, f"{value!r} found in {path.relative_to(wepos.data_dir)}"
                assert value.encode("utf-16-le") not in data
    assert scanned >= 3  # database, Chroma, logs
    assert any(p.suffix == ".log" for p in wepos.data_dir.rglob("*"))
    assert json.dumps(wepos.graph.sends[-1]).count("Maria") >= 1  # …while the customer did see it


def test_an_oversized_webhook_gets_413_and_nothing_is_stored(wepos: Wepos) -> None:
    payload = text_payload("x" * (wepos.runtime.settings.max_webhook_bytes + 10))
    response = post(wepos.url, payload)
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    assert stored_messages(wepos.runtime) == []


def test_readiness_reports_database_vector_store_and_models(wepos: Wepos) -> None:
    response = HTTP.get(f"{wepos.url}/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": True, "vector_store": True, "models": True},
    }


def test_metrics_count_and_time_the_path_without_personal_data(wepos: Wepos) -> None:
    before = HTTP.get(f"{wepos.url}/metrics").text
    post(wepos.url, text_payload(QUESTION))
    wepos.graph.wait_for_sends(1)
    assert wait_until(
        lambda: metric_sample(HTTP.get(f"{wepos.url}/metrics").text, 'wepos_sends_total{status="sent"}') >= 1
    )
    after = HTTP.get(f"{wepos.url}/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    for name in (
        "wepos_webhook_ack_seconds_count",
        "wepos_turn_seconds_count",
        "wepos_masking_seconds_count",
        "wepos_reply_seconds_count",
    ):
        assert metric_sample(after.text, name) > metric_sample(before, name), name
    assert 'wepos_queue_depth{queue="inbound"} 0.0' in after.text
    assert all(value not in after.text for value in RAW_VALUES)


def test_an_api_only_process_stores_webhooks_without_loading_any_model(
    tmp_path: Path,
    database_url: str,
    graph: GraphStandIn,
    analyzer,
    embeddings,  # type: ignore[no-untyped-def]
) -> None:
    """`wepos serve --no-worker`: stored and acknowledged, and no model is built inside the request."""
    settings = make_settings(tmp_path / "var", database_url, whatsapp_api_base=graph.base_url)
    setup, _business_id = demo_runtime(settings, analyzer, embeddings)
    setup.close()

    runtime = Runtime(settings)
    with running_server(runtime, run_worker=False) as url:
        assert post(url, text_payload("Are you open on Sunday?")).status_code == 200
        assert HTTP.get(f"{url}/readyz", timeout=5).status_code == 200
    models = {"analyzer", "masker", "embeddings", "assistant", "worker"}
    assert models & set(vars(runtime)) == set()
    assert [(m.direction, m.status) for m in stored_messages(runtime)] == [
        (Direction.INBOUND, InboundStatus.RECEIVED)
    ]
    runtime.close()
    assert graph.sends == []
