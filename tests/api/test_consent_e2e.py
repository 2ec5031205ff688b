"""The consent ledger end to end: WhatsApp's `user_preferences` webhook, and changes by hand over the API."""

from __future__ import annotations

import time

import pytest
from sqlmodel import col, select

from bot.channel.whatsapp import preference_webhook
from bot.models import Contact
from core.api_keys import issue_api_key
from core.db import session_scope
from core.tenants import create_business
from privacy.models import ConsentRecord
from tests.api.conftest import Wepos
from tests.helpers import HTTP, PHONE_NUMBER_ID, post, text_payload, wait_settled

pytestmark = pytest.mark.e2e

NUMBER = "447700900456"  # a customer who never wrote before stopping marketing


def _api_key(wepos: Wepos, business_id: int) -> dict[str, str]:
    with session_scope(wepos.runtime.engine) as session:
        issued = issue_api_key(session, business_id=business_id, name="consent")
    return {"Authorization": f"Bearer {issued.secret}"}


def _ledger(wepos: Wepos) -> list[tuple[str, bool, str]]:
    with session_scope(wepos.runtime.engine) as session:
        rows = session.exec(select(ConsentRecord).order_by(col(ConsentRecord.id))).all()
        return [(r.purpose, r.granted, r.source) for r in rows]


def test_a_signed_stop_is_one_ledger_record_however_often_it_is_delivered(wepos: Wepos) -> None:
    sent_at = int(time.time()) - 60
    body = preference_webhook(phone_number_id=PHONE_NUMBER_ID, wa_id=NUMBER, value="stop", timestamp=sent_at)
    first, again = post(wepos.url, body), post(wepos.url, body)
    assert first.status_code == again.status_code == 200
    assert first.json() == {
        "status": "ok",
        "stored": 0,
        "duplicates": 0,
        "statuses": 0,
        "preferences": 1,
        "refused": 0,
    }
    assert again.json() == {
        "status": "ok",
        "stored": 0,
        "duplicates": 1,
        "statuses": 0,
        "preferences": 0,
        "refused": 0,
    }
    assert _ledger(wepos) == [("marketing", False, "user_preferences")]

    headers = _api_key(wepos, wepos.business_id)
    state = HTTP.post(
        f"{wepos.url}/v1/compliance/consent/lookup", json={"phone": f"+{NUMBER}"}, headers=headers, timeout=10
    ).json()
    assert state["current"] == {"service_replies": True, "ai_processing": True, "marketing": False}
    (record,) = state["history"]
    assert {k: v for k, v in record.items() if k != "policy_version"} == {
        "purpose": "marketing",
        "granted": False,
        "source": "user_preferences",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent_at)),
    }

    # A resume sent later wins; the number is sealed like a customer's who wrote, and no reply goes out.
    resume = preference_webhook(
        phone_number_id=PHONE_NUMBER_ID, wa_id=NUMBER, value="resume", timestamp=sent_at + 30
    )
    assert post(wepos.url, resume).json()["preferences"] == 1
    assert _ledger(wepos)[-1] == ("marketing", True, "user_preferences")
    with session_scope(wepos.runtime.engine) as session:
        (contact,) = session.exec(select(Contact)).all()
        assert NUMBER not in repr(contact.model_dump())
    assert wepos.graph.sends == []

    # When the customer does write, the same contact answers for them.
    post(wepos.url, text_payload("When are you open on Sunday?", sender=NUMBER))
    wepos.graph.wait_for_sends(1)
    with session_scope(wepos.runtime.engine) as session:
        assert len(session.exec(select(Contact)).all()) == 1


def test_consent_is_changed_by_hand_and_read_back_by_the_business_only(wepos: Wepos) -> None:
    post(wepos.url, text_payload("Hi, do you bake gluten-free bread?", sender=NUMBER))
    wepos.graph.wait_for_sends(1)
    headers = _api_key(wepos, wepos.business_id)
    base = f"{wepos.url}/v1/compliance/consent"

    granted = HTTP.post(
        base, json={"phone": "+44 7700 900456", "purpose": "marketing", "granted": True}, headers=headers
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["current"] == {"service_replies": True, "ai_processing": True, "marketing": True}
    withdrawn = HTTP.post(
        base,
        json={"phone": NUMBER, "purpose": "ai_processing", "granted": False, "source": "agent"},
        headers=headers,
    ).json()
    assert withdrawn["current"] == {"service_replies": True, "ai_processing": False, "marketing": True}
    assert [(r["purpose"], r["granted"], r["source"]) for r in withdrawn["history"]] == [
        ("marketing", True, "api"),
        ("ai_processing", False, "agent"),
    ]
    assert HTTP.post(f"{base}/lookup", json={"phone": NUMBER}, headers=headers).json() == withdrawn
    assert _ledger(wepos) == [("marketing", True, "api"), ("ai_processing", False, "agent")]

    # The bot honours it: no AI processing, so the next question gets no answer.
    post(wepos.url, text_payload("And on Sundays?", sender=NUMBER))
    wait_settled(wepos.runtime)
    assert len(wepos.graph.sends) == 1

    change = {"phone": NUMBER, "purpose": "marketing", "granted": False}
    assert HTTP.post(base, json=change).status_code == 401
    refused = [
        ({**change, "phone": "447700900999"}, 404),  # a number this business never heard from
        ({**change, "phone": "call me"}, 400),
        ({**change, "purpose": "newsletters"}, 422),
        ({**change, "source": "keyword"}, 422),  # only the customer's own words are a keyword
        ({**change, "source": "user_preferences"}, 422),
        ({"phone": NUMBER, "purpose": "marketing"}, 422),
    ]
    for body, status in refused:
        response = HTTP.post(base, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert NUMBER not in response.text and "900456" not in response.text
    assert HTTP.post(f"{base}/lookup", json={"phone": "447700900999"}, headers=headers).status_code == 404
    assert HTTP.post(f"{base}/lookup", json={"phone": "+44"}, headers=headers).status_code == 400

    with session_scope(wepos.runtime.engine) as session:
        other = create_business(session, name="other", phone_number_id="777", box=wepos.runtime.box)
    assert other.id is not None
    stranger = _api_key(wepos, other.id)
    assert HTTP.post(base, json=change, headers=stranger).status_code == 404
    assert HTTP.post(f"{base}/lookup", json={"phone": NUMBER}, headers=stranger).status_code == 404
    assert _ledger(wepos) == [("marketing", True, "api"), ("ai_processing", False, "agent")]
