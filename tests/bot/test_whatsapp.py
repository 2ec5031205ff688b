from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from bot.channel.whatsapp import (
    CloudAPIClient,
    PreferenceUpdate,
    parse_webhook,
    preference_webhook,
    sign,
    verify_signature,
)
from bot.turn.message_limits import split_text
from core.errors import ChannelError, Forbidden, InvalidInput, Unauthenticated
from tests.conftest import PAYLOADS

FILES = sorted(p for p in PAYLOADS.glob("*.json") if not p.name.startswith("_")) if PAYLOADS.exists() else []


@pytest.mark.skipif(not FILES, reason="../shared/whatsapp-payloads is absent")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_shared_payload_parses_into_exactly_one_message_or_status(path) -> None:  # type: ignore[no-untyped-def]
    batch = parse_webhook(path.read_bytes())
    assert len(batch.messages) + len(batch.statuses) == 1
    assert batch.skipped == 0
    kind = json.loads(path.read_text())["entry"][0]["changes"][0]["value"]
    if "messages" in kind:
        assert batch.messages[0].kind == kind["messages"][0]["type"]
    else:
        assert batch.statuses[0].status == kind["statuses"][0]["status"]


@pytest.mark.skipif(not FILES, reason="../shared/whatsapp-payloads is absent")
def test_text_button_and_list_replies_carry_their_words() -> None:
    words = {p.stem: parse_webhook(p.read_bytes()) for p in FILES}
    assert words["text"].messages[0].text == "Body Text"
    assert words["text"].messages[0].profile_name == "Test Name"
    assert words["button_quick_reply"].messages[0].text == "title"
    assert words["interactive_button_reply"].messages[0].answerable
    assert words["interactive_list_reply"].messages[0].reply_id is not None
    assert not words["image"].messages[0].answerable
    assert words["reaction"].messages[0].silent
    assert words["status_failed"].statuses[0].error_code == 130472


def test_broken_parts_are_skipped_and_the_rest_kept() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {"value": "nonsense"},
                    {
                        "value": {
                            "metadata": {"phone_number_id": "1"},
                            "messages": [
                                {"no": "id"},
                                {"id": "w1", "from": "44", "type": "text", "text": {"body": "hi"}},
                            ],
                        }
                    },
                ]
            },
            "not an entry",
        ],
    }
    batch = parse_webhook(json.dumps(body).encode())
    assert [m.wa_message_id for m in batch.messages] == ["w1"]
    assert batch.skipped == 2


@pytest.mark.parametrize("body", [b"", b"[1,2]", b"\xff\xfe", b'{"entry": 5}'])
def test_unusable_bodies_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_webhook(body)


def test_signature_checks() -> None:
    secret, body = b"s3cret", b'{"a":1}'
    verify_signature(secret, body, sign(secret, body))
    with pytest.raises(Unauthenticated):
        verify_signature(secret, body, None)
    with pytest.raises(Forbidden):
        verify_signature(secret, body, sign(b"other", body))
    with pytest.raises(Forbidden):
        verify_signature(secret, body, "sha1=" + sign(secret, body)[7:])


def test_long_replies_are_split_at_boundaries_within_the_limit() -> None:
    text = ("This is a sentence. " * 300).strip()
    parts = split_text(text, limit=4096)
    assert len(parts) == 2 and all(len(p) <= 4096 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == text
    assert split_text("short") == ["short"]


def _client(handler) -> CloudAPIClient:  # type: ignore[no-untyped-def]
    return CloudAPIClient("https://graph.example/v23.0", transport=httpx.MockTransport(handler))


def test_send_text_posts_the_cloud_api_shape_and_returns_the_id() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["auth"] = request.headers["authorization"]
        seen["json"] = json.loads(request.content)
        return httpx.Response(200, json={"messages": [{"id": "wamid.X"}]})

    assert (
        _client(handler).send_text(phone_number_id="123", token="T", to="447700900123", body="hi")
        == "wamid.X"
    )
    assert seen == {
        "url": "https://graph.example/v23.0/123/messages",
        "auth": "Bearer T",
        "json": {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "447700900123",
            "type": "text",
            "text": {"preview_url": False, "body": "hi"},
        },
    }


@pytest.mark.parametrize(
    ("status", "retryable", "code"),
    [(429, True, 130429), (500, True, 1), (400, False, 131047), (401, False, 190)],
)
def test_graph_errors_become_channel_errors(status: int, retryable: bool, code: int) -> None:
    client = _client(lambda r: httpx.Response(status, json={"error": {"code": code, "message": "x"}}))
    with pytest.raises(ChannelError) as caught:
        client.send_text(phone_number_id="1", token="T", to="2", body="b")
    assert (caught.value.retryable, caught.value.graph_code) == (retryable, code)


def test_network_failure_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ChannelError) as caught:
        _client(handler).send_text(phone_number_id="1", token="T", to="2", body="b")
    assert caught.value.retryable


def _preferences_body(*items: object, field: str = "user_preferences") -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "user_preferences": list(items),
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": field}]}],
    }
    return json.dumps(body).encode()


def test_user_preferences_parse_into_stop_and_resume_at_their_time() -> None:
    stop = {
        "wa_id": "16505551234",
        "detail": "User requested to stop marketing messages",
        "category": "marketing_messages",
        "value": "stop",
        "timestamp": 1731705721,
    }
    resume = {**stop, "value": "resume", "detail": "User requested to resume marketing messages"}
    batch = parse_webhook(_preferences_body(stop, {**resume, "timestamp": "1731705800"}))
    assert batch.preferences == [
        PreferenceUpdate(
            phone_number_id="106540352242922",
            wa_id="16505551234",
            profile_name="Sheena Nelson",
            category="marketing_messages",
            granted=False,
            at=datetime(2024, 11, 15, 21, 22, 1, tzinfo=UTC),
        ),
        PreferenceUpdate(
            phone_number_id="106540352242922",
            wa_id="16505551234",
            profile_name="Sheena Nelson",
            category="marketing_messages",
            granted=True,
            at=datetime(2024, 11, 15, 21, 23, 20, tzinfo=UTC),
        ),
    ]
    assert (batch.messages, batch.statuses, batch.skipped) == ([], [], 0)
    # Meta documents the field as its own; the parser reads the value whatever the change calls itself.
    assert parse_webhook(_preferences_body(stop, field="messages")).preferences == batch.preferences[:1]


def test_the_preferences_helper_builds_what_the_parser_reads() -> None:
    body = preference_webhook(phone_number_id="42", wa_id="447700900123", value="stop", timestamp=1731705721)
    assert body["entry"][0]["changes"][0]["field"] == "user_preferences"
    (update,) = parse_webhook(json.dumps(body).encode()).preferences
    assert (update.wa_id, update.category, update.granted) == ("447700900123", "marketing_messages", False)


@pytest.mark.parametrize(
    ("item", "skipped"),
    [
        ({"category": "marketing_messages", "value": "stop", "timestamp": 1}, 1),  # no wa_id
        ({"wa_id": "1 2", "category": "marketing_messages", "value": "stop"}, 1),  # spaces in the id
        ({"wa_id": "4" * 65, "category": "marketing_messages", "value": "stop"}, 1),  # too long
        ({"wa_id": "44", "category": "marketing_messages", "value": "maybe"}, 1),  # unknown choice
        ({"wa_id": "44", "category": ["x"], "value": "stop"}, 1),
        ({"wa_id": "44", "category": "marketing_messages", "value": None}, 1),
        ("not an object", 1),
        (None, 1),
    ],
)
def test_unusable_preferences_are_skipped(item: object, skipped: int) -> None:
    batch = parse_webhook(_preferences_body(item))
    assert (batch.preferences, batch.skipped) == ([], skipped)


@pytest.mark.parametrize(
    "timestamp", [None, "soon", -5, 0, 10**20, "9" * 40, True, 1.5, "1731705721.0", "\u0661\u0662"]
)
def test_a_preference_without_a_usable_time_is_kept_without_one(timestamp: object) -> None:
    item = {"wa_id": "44", "category": "marketing_messages", "value": "STOP ", "timestamp": timestamp}
    (update,) = parse_webhook(_preferences_body(item)).preferences
    assert (update.granted, update.at) == (False, None)


def test_a_preferences_field_that_is_no_list_is_skipped() -> None:
    batch = parse_webhook(_preferences_body().replace(b'"user_preferences": []', b'"user_preferences": 7'))
    assert (batch.preferences, batch.skipped) == ([], 1)
