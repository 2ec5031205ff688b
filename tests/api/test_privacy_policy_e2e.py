"""A business's masking policy end to end: a real server, Presidio, the vault, and the compliance review loop."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from bot.models import Direction, Message
from core.api_keys import issue_api_key
from core.db import session_scope
from core.tenants import create_business
from privacy.models import PrivacyPolicy
from tests.api.conftest import Wepos
from tests.helpers import HTTP, post, text_payload, wait_until

pytestmark = pytest.mark.e2e


def _key(wepos: Wepos, business_id: int | None = None) -> dict[str, str]:
    with session_scope(wepos.runtime.engine) as session:
        issued = issue_api_key(session, business_id=business_id or wepos.business_id)
    return {"Authorization": f"Bearer {issued.secret}"}


def _ask(wepos: Wepos, text: str) -> str:
    """Send a customer message and return it as stored (masked) once the turn has run."""
    wa_id = f"wamid.policy{abs(hash(text))}"
    post(wepos.url, text_payload(text, wa_message_id=wa_id))
    stored: dict[str, Any] = {}

    def masked() -> bool:
        with session_scope(wepos.runtime.engine) as session:
            row = session.exec(select(Message).where(Message.wa_message_id == wa_id)).first()
            if row is not None and row.text_masked is not None:
                stored["text"] = row.text_masked
        return "text" in stored

    assert wait_until(masked, 30)
    return str(stored["text"])


def test_review_and_reports_tune_what_this_business_masks(wepos: Wepos) -> None:
    headers = _key(wepos)
    base = f"{wepos.url}/v1/compliance"
    policy = HTTP.get(f"{base}/policy", headers=headers).json()
    assert "PERSON" in policy["masked_entities"] and "LOCATION" in policy["kept_entities"]
    assert policy["allow_list"] == [] and policy["deny_list"] == []

    # spaCy takes the product for a person; the officer marks it a false positive.
    text = "How do I log in to Gmail with my account?"
    # (<PERSON_1> is the sender's own profile name, known to the vault before the message is read.)
    assert _ask(wepos, text) == "How do I log in to <PERSON_2> with my account?"
    events = HTTP.get(f"{base}/redactions", params={"entity_type": "PERSON"}, headers=headers).json()["items"]
    event = next(
        e for e in events if e["source_kind"] == "message" and text[e["start"] : e["end"]] == "Gmail"
    )
    reviewed = HTTP.post(
        f"{base}/redactions/{event['id']}/review", json={"false_positive": True}, headers=headers
    )
    assert reviewed.json() == {"id": event["id"], "review": "false_positive"}
    again = HTTP.post(
        f"{base}/redactions/{event['id']}/review", json={"false_positive": True}, headers=headers
    )
    assert again.status_code == 409
    assert HTTP.get(f"{base}/policy", headers=headers).json()["allow_list"] == ["Gmail"]
    assert _ask(wepos, "Is Gmail supported?") == "Is Gmail supported?"

    # A miss reported by the officer is masked from then on, and the value is stored sealed only.
    reported = HTTP.post(
        f"{base}/missed", json={"entity_type": "PERSON", "value": "zorblat quenn"}, headers=headers
    )
    assert reported.json() == {"deny_list_size": 1}
    assert _ask(wepos, "my friend zorblat quenn ordered too") == "my friend <PERSON_3> ordered too"
    assert HTTP.get(f"{base}/policy", headers=headers).json()["deny_list"] == ["PERSON"]
    with session_scope(wepos.runtime.engine) as session:
        row = session.exec(select(PrivacyPolicy)).one()
        assert "zorblat" not in (row.deny_list_sealed or "") and "zorblat" not in row.allow_list

    # Cities are kept by default (delivery questions need them); a business may choose to mask them.
    assert "Dublin" in _ask(wepos, "Do you deliver to Dublin?")
    changed = HTTP.patch(f"{base}/policy", json={"mask": ["LOCATION"]}, headers=headers).json()
    assert "LOCATION" in changed["masked_entities"]
    assert "Dublin" not in _ask(wepos, "Do you deliver to Dublin, please?")
    bad = HTTP.patch(f"{base}/policy", json={"mask": ["SHOE_SIZE"]}, headers=headers)
    assert bad.status_code == 400 and "unknown entity types" in bad.json()["detail"]
    huge = HTTP.patch(f"{base}/policy", json={"allow": ["x" * 101]}, headers=headers)
    assert huge.status_code == 422


def test_another_business_cannot_review_or_read_this_policy(wepos: Wepos) -> None:
    headers = _key(wepos)
    _ask(wepos, "How do I log in to Gmail with my account?")
    with session_scope(wepos.runtime.engine) as session:
        other = create_business(session, name="other-shop", phone_number_id="300", box=wepos.runtime.box)
    theirs = _key(wepos, other.id)
    base = f"{wepos.url}/v1/compliance"
    events = HTTP.get(f"{base}/redactions", headers=headers).json()["items"]
    mine = next(e for e in events if e["source_kind"] == "message")
    response = HTTP.post(
        f"{base}/redactions/{mine['id']}/review", json={"false_positive": True}, headers=theirs
    )
    assert response.status_code == 404
    HTTP.patch(f"{base}/policy", json={"allow": ["Gmail"]}, headers=theirs)
    assert HTTP.get(f"{base}/policy", headers=headers).json()["allow_list"] == []
    with session_scope(wepos.runtime.engine) as session:
        inbound = session.exec(select(Message).where(Message.direction == Direction.INBOUND)).all()
    assert all("Gmail" not in (m.text_masked or "") for m in inbound)
