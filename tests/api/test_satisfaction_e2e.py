"""Satisfaction end to end: signed webhooks into the real server, engines and database; what the loopback
Graph API received; the rating in the database, the analytics API and the console."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from bot.models import Conversation, ConversationRating, ConversationStatus
from bot.turn.policies import BUTTON_HELPED
from bot.turn.satisfaction import RATING_REQUEST
from core.api_keys import issue_api_key
from core.db import session_scope
from core.staff import Role, StaffUser
from tests.api.conftest import Wepos
from tests.console_helpers import Browsers, add_user, csrf
from tests.helpers import HTTP, post, text_payload, wait_settled

pytestmark = pytest.mark.e2e

ROWS = [f"wepos:rating:{n}" for n in (5, 4, 3, 2, 1)]


@pytest.fixture
def browsers(wepos: Wepos) -> Iterator[Browsers]:
    clients = Browsers(wepos.url)
    yield clients
    clients.close()


def _tap(wepos: Wepos, kind: str, reply_id: str, title: str) -> None:
    """The customer taps a reply button (`button_reply`) or a list row (`list_reply`), as Meta posts it."""
    payload = text_payload("x")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message["type"] = "interactive"
    message["interactive"] = {"type": kind, kind: {"id": reply_id, "title": title}}
    assert post(wepos.url, payload).status_code == 200


def _next_send(wepos: Wepos, count: int) -> dict[str, Any]:
    """The `count`-th message sent to the customer (waiting for it), as the Graph API stand-in recorded it."""
    sends = wepos.graph.wait_for_sends(count)
    assert len(sends) == count, [wepos.graph.body(s) for s in sends]
    return sends[count - 1]


def _ratings(wepos: Wepos) -> list[tuple[str, int | None, int | None]]:
    with session_scope(wepos.runtime.engine) as session:
        return [
            (r.resolved_by, r.agent_user_id, r.value) for r in session.exec(select(ConversationRating)).all()
        ]


def _rows(request: dict[str, Any]) -> list[str]:
    """The row ids of a list message (checking that it is one, opened by the "Rate us" button)."""
    payload = request["json"]
    assert payload["type"] == "interactive" and payload["interactive"]["type"] == "list"
    assert payload["interactive"]["action"]["button"] == "Rate us"
    (section,) = payload["interactive"]["action"]["sections"]
    return [row["id"] for row in section["rows"]]


def test_that_helped_asks_for_a_rating_and_the_tapped_row_is_stored_and_counted(wepos: Wepos) -> None:
    assert post(wepos.url, text_payload("When are you open on Sunday?")).status_code == 200
    answer = _next_send(wepos, 1)
    assert answer["json"]["interactive"]["type"] == "button" and "9 am to 1 pm" in wepos.graph.body(answer)

    _tap(wepos, "button_reply", BUTTON_HELPED, "That helped")
    ask = _next_send(wepos, 2)
    assert _rows(ask) == ROWS
    assert wepos.graph.body(ask) == f"Glad that helped, Maria Lopez! {RATING_REQUEST}"

    _tap(wepos, "list_reply", "wepos:rating:5", "5 - Excellent")
    assert wepos.graph.body(_next_send(wepos, 3)) == "Thank you for your rating, Maria Lopez!"
    _tap(wepos, "list_reply", "wepos:rating:99", "99")  # no row of ours: recorded, nothing said, no crash
    _tap(wepos, "button_reply", BUTTON_HELPED, "That helped")  # asked once: thanked as before
    assert wepos.graph.body(_next_send(wepos, 4)) == "Glad that helped, Maria Lopez! Anything else?"
    wait_settled(wepos.runtime)
    assert len(wepos.graph.sends) == 4
    assert _ratings(wepos) == [("bot", None, 5)]
    with session_scope(wepos.runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
    assert (conversation.status, conversation.handoff_reason) == (ConversationStatus.BOT, None)

    with session_scope(wepos.runtime.engine) as session:
        key = issue_api_key(session, business_id=wepos.business_id, name="satisfaction-test").secret
    analytics = HTTP.get(f"{wepos.url}/v1/analytics", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert analytics.status_code == 200, analytics.text
    satisfaction = analytics.json()["satisfaction"]
    # One rating: under k = 5, so the count is suppressed and no mean is shown.
    assert (satisfaction["asked"], satisfaction["rated"], satisfaction["mean"]) == ("<5", "<5", None)
    assert satisfaction["by_bot"]["count"] == "<5" and satisfaction["by_agent"] == []
    assert "Maria" not in analytics.text and "447700900123" not in analytics.text


def test_an_agent_resolving_in_the_console_is_rated_and_shown_by_agent(
    wepos: Wepos, browsers: Browsers
) -> None:
    assert post(wepos.url, text_payload("I want to talk to a real person please")).status_code == 200
    assert "member of our team" in wepos.graph.body(_next_send(wepos, 1))
    wait_settled(wepos.runtime)
    email = add_user(wepos.runtime, wepos.business_id, Role.AGENT)
    agent = browsers.sign_in(email)
    here = "/console/conversations/1"
    token = csrf(agent, here)
    assert agent.post(f"{here}/claim", data={"csrf": token}).status_code == 303
    assert agent.post(f"{here}/resolve", data={"csrf": token}).status_code == 303
    assert _rows(_next_send(wepos, 2)) == ROWS  # the worker was woken: no wait for its next poll

    _tap(wepos, "list_reply", "wepos:rating:4", "4 - Good")
    assert wepos.graph.body(_next_send(wepos, 3)).startswith("Thank you for your rating")
    wait_settled(wepos.runtime)
    with session_scope(wepos.runtime.engine) as session:
        user = session.exec(select(StaffUser).where(StaffUser.email == email)).one()
    assert _ratings(wepos) == [("agent", user.id, 4)]
    assert (
        'href="/console/conversations/1"' in agent.get("/console/inbox?queue=resolved").text
    )  # still resolved
    # Handing it back afterwards asks nothing more.
    assert agent.post(f"{here}/handback", data={"csrf": token}).status_code == 303
    wait_settled(wepos.runtime)
    assert len(wepos.graph.sends) == 3

    admin = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.ADMIN))
    page = admin.get("/console/admin/analytics").text
    assert (
        "Customer ratings (1–5)" in page and f'data-resolved-by="agent:{user.id}"' in page and email in page
    )
    assert "Maria" not in page

    # The business turns the survey off in its settings: the checkbox is saved unticked.
    settings = admin.get("/console/admin/settings").text
    assert 'name="satisfaction_survey" value="on" checked' in settings
    form = {
        "csrf": csrf(admin, "/console/admin/settings"),
        "mask": ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"],
        "retention_days": "365",
        "timezone": "UTC",
    }
    assert admin.post("/console/admin/settings", data=form).status_code == 303
    assert 'name="satisfaction_survey" value="on" >' in admin.get("/console/admin/settings").text
