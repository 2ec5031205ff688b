"""Approved templates end to end: a conversation past the 24-hour window, the templates read from the Graph API
stand-in (paged, approved only, cached), offered in the console and over /v1 and the CLI, one filled in and
sent through the outbox with its values masked at rest; and the failures said plainly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select, update
from typer.testing import CliRunner

from api.cli import app as cli_app
from bot.models import Conversation, ConversationStatus, Direction, Message
from core.api_keys import issue_api_key
from core.db import session_scope, utcnow
from core.staff import Role
from core.tenants import Business, set_waba_id
from testing.graph_api import described_template
from tests.api.conftest import Wepos
from tests.console_helpers import Browsers, add_user, hidden
from tests.helpers import ORDER_READY, WABA_ID, post, text_payload, wait_until

pytestmark = pytest.mark.e2e

# More than one page of the listing (100 a page), only some approved.
LISTING = [
    ORDER_READY,
    described_template("promo", "Sale on {{1}}!", status="REJECTED"),
    *(described_template(f"notice_{n:03d}", f"Notice {n}", status="PAUSED") for n in range(110)),
    described_template("welcome_back", "Welcome back! Reply to carry on.", language="en_GB"),
]


@pytest.fixture
def browsers(wepos: Wepos) -> Iterator[Browsers]:
    clients = Browsers(wepos.url)
    yield clients
    clients.close()


def _closed_conversation(wepos: Wepos) -> int:
    """A conversation handed to a person whose customer last wrote 25 hours ago."""
    assert post(wepos.url, text_payload("I want to talk to a real person please")).status_code == 200

    def waiting() -> bool:
        with session_scope(wepos.runtime.engine) as session:
            row = session.exec(select(Conversation)).first()
            return row is not None and row.status == ConversationStatus.WAITING_FOR_AGENT

    assert wait_until(waiting)
    with session_scope(wepos.runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
        session.exec(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(last_inbound_at=utcnow() - timedelta(hours=25))
        )
    assert conversation.id is not None
    return conversation.id


def _set_waba_id(wepos: Wepos, waba_id: str) -> None:
    with session_scope(wepos.runtime.engine) as session:
        business = session.get(Business, wepos.business_id)
        assert business is not None
        set_waba_id(session, business, waba_id)


def _api(wepos: Wepos) -> httpx.Client:
    with session_scope(wepos.runtime.engine) as session:
        key = issue_api_key(session, business_id=wepos.business_id, name="templates-test").secret
    return httpx.Client(base_url=wepos.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_an_agent_sends_an_approved_template_after_the_window_closed(
    wepos: Wepos, browsers: Browsers
) -> None:
    wepos.graph.templates[WABA_ID] = LISTING
    _set_waba_id(wepos, WABA_ID)
    conversation_id = _closed_conversation(wepos)
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    here = f"/console/conversations/{conversation_id}"

    page = agent.get(here).text
    assert 'id="reply-text"' not in page  # no free text outside the window
    assert 'name="template" value="order_ready"' in page and 'name="template" value="welcome_back"' in page
    assert (
        "Hello {{1}}, your order {{2}} is ready for collection." in page and page.count('name="value"') == 2
    )
    assert 'value="promo"' not in page and 'value="notice_000"' not in page  # only approved ones
    assert len(wepos.graph.template_listings) == 2  # 113 templates: two pages
    agent.get(here)
    assert len(wepos.graph.template_listings) == 2  # the next view is answered from memory

    token = hidden(page, "csrf")
    form = {"csrf": token, "template": "order_ready", "language": "en_US", "value": ["Maria Lopez", "A-17"]}
    assert agent.post(f"{here}/reply", data=form).status_code == 303
    assert wait_until(lambda: bool(wepos.graph.template_sends))
    (sent,) = wepos.graph.template_sends
    assert sent["json"]["template"] == {
        "name": "order_ready",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Maria Lopez"}, {"type": "text", "text": "A-17"}],
            }
        ],
    }
    with session_scope(wepos.runtime.engine) as session:
        (stored,) = session.exec(
            select(Message).where(Message.direction == Direction.OUTBOUND, Message.kind == "template")
        ).all()
    assert "Maria" not in (stored.text_masked or "") and "<PERSON_1>" in (stored.text_masked or "")
    assert (
        "order_ready (en_US): Hello &lt;PERSON_1&gt;, your order A-17" in agent.get(f"{here}/transcript").text
    )

    # A template that is not approved, one in another language, a wrong count of values: refused.
    refusals = {
        "(en_US) is not one of this business": {**form, "template": "promo", "value": ["x"]},
        "(fr) is not one of this business": {**form, "language": "fr"},
        "2 variable(s); 1 value(s) given": {**form, "value": ["Maria Lopez"]},
    }
    for said, bad in refusals.items():
        refused = agent.post(f"{here}/reply", data=bad)
        assert refused.status_code == 400 and said in refused.text, said
    assert len(wepos.graph.template_sends) == 1

    # The API and the CLI list the same (kept) templates; a refresh reads them again.
    with _api(wepos) as api:
        listed = api.get("/v1/templates")
        assert listed.status_code == 200
        assert [(t["name"], t["language"], t["variables"]) for t in listed.json()] == [
            ("order_ready", "en_US", ["1", "2"]),
            ("welcome_back", "en_GB", []),
        ]
        assert len(wepos.graph.template_listings) == 2
        assert api.get("/v1/templates", params={"refresh": "true"}).status_code == 200
        assert len(wepos.graph.template_listings) == 4
    result = CliRunner().invoke(
        cli_app, ["templates", "list", "--tenant", "demo-bakery", "--json"], obj=wepos.runtime
    )
    assert result.exit_code == 0, result.output
    assert [t["name"] for t in json.loads(result.output)] == ["order_ready", "welcome_back"]


def test_a_missing_waba_id_and_a_failing_graph_api_are_said_plainly(wepos: Wepos, browsers: Browsers) -> None:
    conversation_id = _closed_conversation(wepos)
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    here = f"/console/conversations/{conversation_id}"
    with _api(wepos) as api:
        page = agent.get(here)
        assert page.status_code == 200 and "no WhatsApp Business Account id" in page.text
        missing = api.get("/v1/templates")
        assert missing.status_code == 400 and "no WhatsApp Business Account id" in missing.json()["detail"]

        wepos.graph.templates[WABA_ID] = LISTING
        _set_waba_id(wepos, WABA_ID)
        wepos.graph.template_failures.append(500)
        page = agent.get(here)
        assert page.status_code == 200 and "could not be read from WhatsApp" in page.text
        assert 'name="template"' not in page.text and "Traceback" not in page.text
        wepos.graph.template_failures.append((400, 190))  # e.g. an expired token
        failed = api.get("/v1/templates", params={"refresh": "true"})
        assert failed.status_code == 502
        assert failed.json() == {
            "error": "channel_error",
            "detail": "the approved templates could not be read from WhatsApp (Graph API refused the request "
            "(HTTP 400, code 190)); try again shortly",
        }
        # Refresh in the console: the listing is read again, and this time it works.
        token = hidden(page.text, "csrf")
        assert agent.post(f"{here}/templates/refresh", data={"csrf": token}).status_code == 303
        assert 'name="template" value="order_ready"' in agent.get(here).text
