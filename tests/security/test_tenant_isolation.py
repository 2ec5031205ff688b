"""Tenant isolation on every API-key route, driven by `routes.ROUTES`: a stranger's key on the victim's
objects gets 403 or 404, lists show the stranger nothing, and the victim's data is unchanged afterwards."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.models import Contact, Message
from core.db import session_scope
from privacy.data_requests import RequestKind, open_data_request
from privacy.models import RedactionEvent
from tests.helpers import HTTP, post, text_payload, wait_until
from tests.security.conftest import Wepos, api_key, stranger_business
from tests.security.routes import ROUTES, STRANGER_FILE, VICTIM_PHONE, api_key_routes

pytestmark = [pytest.mark.security, pytest.mark.e2e]

# Strings that only the victim's data holds: none may reach the stranger in any answer.
VICTIM_MARKERS = [
    VICTIM_PHONE,
    "7700 900123",
    "Maria",
    "Lopez",
    "opening-hours.md",
    "delivery-and-orders.md",
    "refunds-policy.txt",
    "allergens.html",
    "faq.csv",
    "victim-notes.md",
    "sourdough",
]


def _victim_objects(wepos: Wepos, headers: dict[str, str]) -> dict[str, int]:
    """One of each kind of object a /v1 path can name, all the victim's: path parameter -> id."""
    post(wepos.url, text_payload("Hi, I'm Maria Lopez. When are you open on Sunday?", sender=VICTIM_PHONE))
    wepos.graph.wait_for_sends(1)
    upload = HTTP.post(
        f"{wepos.url}/v1/knowledge/documents",
        headers=headers,
        files=[("files", ("victim-notes.md", b"# Notes\n\nOur sourdough starter is fed at dawn.\n"))],
        timeout=30,
    )
    assert upload.status_code == 202, upload.text
    job_id = upload.json()["id"]

    def job_done() -> bool:
        job = HTTP.get(f"{wepos.url}/v1/knowledge/jobs/{job_id}", headers=headers, timeout=10).json()
        return bool(job["status"] == "done")

    assert wait_until(job_done, 120, 0.2)
    documents = HTTP.get(f"{wepos.url}/v1/knowledge/documents", headers=headers).json()
    with session_scope(wepos.runtime.engine) as session:
        event = session.exec(
            select(RedactionEvent).where(
                RedactionEvent.business_id == wepos.business_id, RedactionEvent.source_kind == "message"
            )
        ).first()
    assert event is not None and event.id is not None
    with session_scope(wepos.runtime.engine) as session:
        contact = session.exec(select(Contact)).one()
        assert contact.id is not None
        request, _ = open_data_request(
            session, business_id=wepos.business_id, contact_id=contact.id, kind=RequestKind.ERASURE
        )
    assert request.id is not None
    answer = HTTP.post(
        f"{wepos.url}/v1/knowledge/answers",
        headers=headers,
        json={"question": "Is the sourdough vegan?", "answer": "Yes, our sourdough is vegan."},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return {
        "answer_id": answer.json()["id"],
        "document_id": documents[0]["id"],
        "job_id": job_id,
        "event_id": event.id,
        "request_id": request.id,
    }


def _victim_view(wepos: Wepos, headers: dict[str, str]) -> dict[str, Any]:
    """Everything the victim's own key sees, and its message count: must not move while the stranger acts."""
    get = lambda path, **kw: HTTP.get(f"{wepos.url}{path}", headers=headers, timeout=30, **kw).json()  # noqa: E731
    with session_scope(wepos.runtime.engine) as session:
        messages = session.exec(select(func.count()).select_from(Message)).one()
    return {
        "documents": get("/v1/knowledge/documents"),
        "answers": get("/v1/knowledge/answers"),
        "redactions": get("/v1/compliance/redactions", params={"limit": 1000}),
        "policy": get("/v1/compliance/policy"),
        "export": get("/v1/compliance/dsar/export", params={"phone": VICTIM_PHONE})["conversations"],
        "requests": get("/v1/compliance/requests"),
        "messages": messages,
    }


def test_a_stranger_key_never_reads_or_changes_another_business_data(wepos: Wepos) -> None:
    victim = api_key(wepos.runtime, wepos.business_id)
    stranger = api_key(wepos.runtime, stranger_business(wepos.runtime))
    ids = _victim_objects(wepos, victim)
    before = _victim_view(wepos, victim)

    for method, path in api_key_routes():
        route = ROUTES[(method, path)]
        names = re.findall(r"\{([^}]+)\}", path)
        missing = [name for name in names if name not in ids]
        assert not missing, f"{method} {path}: teach _victim_objects to make the victim's {missing}"
        concrete = path.format(**ids)
        if names and method == "GET":
            # The victim's own key reaches the object, so the stranger's 404 below is isolation, not a bad id.
            assert HTTP.get(f"{wepos.url}{concrete}", headers=victim, timeout=30).status_code == 200, path
        files = [("files", (STRANGER_FILE, b"# Mine\n\nThe stranger's own note.\n"))] if route.files else None
        response = HTTP.request(
            method,
            f"{wepos.url}{concrete}",
            headers=stranger,
            json=route.json,
            params=route.params,
            files=files,
            timeout=60,
        )
        assert response.status_code in route.stranger_status, (method, path, response.text)
        leaked = [marker for marker in VICTIM_MARKERS if marker in response.text]
        assert not leaked, (method, path, leaked)
        if response.status_code < 300:
            assert route.stranger_sees(response.json()), (method, path, response.text)

    assert _victim_view(wepos, victim) == before
