"""Transparency end to end: a real server, engines and database, and the Graph API stand-in."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from bot.desk.conversations import configure_policy
from compliance.processing_record import HTML_CSP
from core.api_keys import issue_api_key
from core.db import session_scope
from privacy.models import VaultEntry
from tests.api.conftest import Wepos
from tests.helpers import post, text_payload

pytestmark = [pytest.mark.e2e, pytest.mark.transparency]


def _key(wepos: Wepos) -> dict[str, str]:
    with session_scope(wepos.runtime.engine) as session:
        issued = issue_api_key(session, business_id=wepos.business_id, name="transparency-test")
    return {"Authorization": f"Bearer {issued.secret}"}


def _say(wepos: Wepos, text: str, sends: int) -> list[str]:
    post(wepos.url, text_payload(text))
    return [wepos.graph.body(s) for s in wepos.graph.wait_for_sends(sends)]


def test_notice_data_request_erasure_and_the_notice_again(wepos: Wepos) -> None:
    headers = _key(wepos)
    with session_scope(wepos.runtime.engine) as session:
        configure_policy(
            session,
            business_id=wepos.business_id,
            privacy_notice_enabled=True,
            compliance_contact="dpo@crumb.example",
        )

    notice, answer = _say(wepos, "Hi, I'm Maria Lopez, when are you open on Sunday?", 2)
    assert notice.startswith("Privacy notice: Crumb & Co. Bakery answers your messages")
    assert notice.endswith("Questions about your data: dpo@crumb.example.")
    assert answer.startswith("Hi Maria Lopez!") and "Sunday" in answer
    assert "gluten-free" in _say(wepos, "Do you have gluten-free bread?", 3)[2]  # no second notice
    deadline = _say(wepos, "Please delete my data", 4)[3]
    assert deadline.startswith("Thanks: your request to delete your data (reference #1)")

    api = httpx.Client(base_url=wepos.url, headers=headers, timeout=60)
    (queued,) = api.get("/v1/compliance/requests").json()
    assert {k: queued[k] for k in ("id", "contact_id", "kind", "status", "overdue", "closed_by")} == {
        "id": 1,
        "contact_id": 1,
        "kind": "erasure",
        "status": "open",
        "overdue": False,
        "closed_by": None,
    }
    due = datetime.fromisoformat(queued["due_at"])
    assert due - datetime.fromisoformat(queued["created_at"]) == timedelta(days=30)
    assert f"by {due.day} {due.strftime('%B %Y')} at the latest" in deadline
    assert api.get("/v1/compliance/requests", params={"status": "done"}).json() == []
    assert api.get("/v1/compliance/requests", params={"status": "nonsense"}).status_code == 422

    # Analytics while the customer's data is all there: no vault value, small counts hidden.
    analytics = api.get("/v1/analytics")
    assert analytics.status_code == 200, analytics.text
    with session_scope(wepos.runtime.engine) as session:
        vault = [wepos.runtime.box.open(e.value_sealed) for e in session.exec(select(VaultEntry)).all()]
    assert any(value == "Maria Lopez" for value in vault)
    assert [v for v in vault if v.lower() in analytics.text.lower()] == []
    report = analytics.json()
    assert (report["conversations"], report["messages_in"], report["messages_out"]) == ("<5", "<5", "<5")
    assert api.get("/v1/analytics", params={"since": "2030-01-02", "until": "2030-01-01"}).status_code == 400

    record = api.get("/v1/compliance/processing-record")
    assert record.status_code == 200 and record.json()["controller"] == "Crumb & Co. Bakery"
    page = api.get("/v1/compliance/processing-record", params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == HTML_CSP
    assert "Record of processing activities" in page.text and "<script" not in page.text.lower()

    # The compliance officer checked who asked: the erasure is carried out through the erasure service.
    assert api.post("/v1/compliance/requests/99/close", json={"status": "done"}).status_code == 404
    assert api.post("/v1/compliance/requests/1/close", json={"status": "maybe"}).status_code == 422
    closed = api.post("/v1/compliance/requests/1/close", json={"status": "done", "closed_by": "Dana (DPO)"})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (
        body["erasure"]["messages"] == 7 and body["erasure"]["conversations"] == 1 and body["export"] is None
    )
    assert (body["request"]["status"], body["request"]["closed_by"]) == ("done", "api: Dana (DPO)")
    again = api.post("/v1/compliance/requests/1/close", json={"status": "rejected"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert api.get("/v1/compliance/dsar/export", params={"phone": "+44 7700 900123"}).status_code == 404
    (kept,) = api.get("/v1/compliance/requests").json()
    assert (kept["contact_id"], kept["status"]) == (None, "done")

    # Whoever writes from the number now is a new contact: told again, then answered.
    notice_again, answer_again = _say(wepos, "When are you open on Sunday?", 6)[4:]
    assert notice_again == notice and "Sunday" in answer_again
    api.close()
