"""The console against `routes.ROUTES`: no session -> the login form, another role -> 403, another business's
user on the victim's objects -> 403/404 with nothing changed, and the console's own security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlmodel import select

from api.main import CONSOLE_CSP
from bot.desk.inbox import add_canned_reply
from bot.models import CannedReply, Conversation
from core.db import session_scope
from core.staff import Role, StaffUser
from privacy.data_requests import RequestKind, open_data_request
from privacy.models import DataSubjectRequest, RedactionEvent
from retrieval.models import KnowledgeDocument
from tests.console_helpers import Browsers, add_user, csrf
from tests.helpers import post, text_payload
from tests.security.conftest import Light, Wepos, stranger_business
from tests.security.routes import ROUTES, session_routes

pytestmark = [pytest.mark.security, pytest.mark.e2e]

ACTIONS = {"action": "disable"}  # the `{action}` of the admin routes that take one


@pytest.fixture
def light_browsers(light: Light) -> Iterator[Browsers]:
    clients = Browsers(light.url)
    yield clients
    clients.close()


def _path(path: str, ids: dict[str, int | str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


def test_without_a_session_every_console_route_sends_the_browser_to_sign_in(
    light: Light, light_browsers: Browsers
) -> None:
    anonymous = light_browsers.new()
    for method, path in session_routes():
        response = anonymous.request(method, _path(path, ACTIONS), data={"csrf": "x"})
        assert response.status_code == 303, (method, path, response.text)
        assert response.headers["location"].startswith("/console/login"), (method, path)
        assert "set-cookie" not in response.headers


def test_every_console_route_refuses_the_other_roles(light: Light, light_browsers: Browsers) -> None:
    signed_in = {
        role.value: light_browsers.sign_in(add_user(light.runtime, light.business_id, role)) for role in Role
    }
    tokens = {role: csrf(client) for role, client in signed_in.items()}
    for method, path in session_routes():
        allowed = ROUTES[(method, path)].role
        for role, client in signed_in.items():
            if allowed is None or role == allowed:
                continue
            response = client.request(method, _path(path, ACTIONS), data={"csrf": tokens[role]})
            assert response.status_code == 403, (role, method, path, response.text)


def test_console_pages_carry_a_strict_policy_and_are_never_cached(
    light: Light, light_browsers: Browsers
) -> None:
    admin = light_browsers.sign_in(add_user(light.runtime, light.business_id, Role.ADMIN))
    for path in ("/console/login", "/console/cookies", "/console/admin/users", "/console/static/console.css"):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CONSOLE_CSP.decode()
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert (
            response.headers["referrer-policy"] == "same-origin"
        )  # Origin names this console; nothing goes elsewhere
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    page = admin.get("/console/admin/users").text
    assert (
        "<script>" not in page and " style=" not in page and "https://" not in page
    )  # nothing inline or remote


def test_a_stranger_business_user_cannot_touch_the_victims_objects(wepos: Wepos) -> None:
    post(wepos.url, text_payload("I want to talk to a real person please, I am Maria Lopez"))
    wepos.graph.wait_for_sends(1)
    runtime = wepos.runtime
    victim_user = add_user(runtime, wepos.business_id, Role.AGENT, "victim-agent@crumb.example")
    with session_scope(runtime.engine) as session:
        reply = add_canned_reply(session, business_id=wepos.business_id, title="Hi", body="Hello there")
        conversation = session.exec(select(Conversation)).one()
        document = session.exec(select(KnowledgeDocument)).first()
        event = session.exec(select(RedactionEvent)).first()
        user = session.exec(select(StaffUser).where(StaffUser.email == victim_user)).one()
        data_request, _ = open_data_request(
            session,
            business_id=wepos.business_id,
            contact_id=conversation.contact_id,
            kind=RequestKind.EXPORT,
        )
    assert event is not None and document is not None
    ids: dict[str, int | str] = {
        "conversation_id": conversation.id or 0,
        "event_id": event.id or 0,
        "document_id": document.id or 0,
        "user_id": user.id or 0,
        "reply_id": reply.id or 0,
        "request_id": data_request.id or 0,
        **ACTIONS,
    }
    stranger = stranger_business(runtime)
    browsers = Browsers(wepos.url)
    try:
        clients = {
            role.value: browsers.sign_in(add_user(runtime, stranger, role, f"{role.value}@stranger.example"))
            for role in Role
        }
        for method, path in session_routes():
            if "{" not in path:
                continue
            role = ROUTES[(method, path)].role or "admin"
            client = clients[role]
            # A valid form of each kind, so the refusal is about ownership, not about the input.
            form = {
                "csrf": csrf(client),
                "verdict": "confirmed",
                "text": "hello",
                "title": "t",
                "body": "b",
                "status": "rejected",
            }
            response = client.request(method, _path(path, ids), data=form)
            assert response.status_code in (403, 404), (method, path, response.status_code)
            assert "Maria" not in response.text and "Lopez" not in response.text
    finally:
        browsers.close()
    with session_scope(runtime.engine) as session:
        assert session.get(Conversation, conversation.id).assigned_user_id is None  # type: ignore[union-attr]
        assert session.get(KnowledgeDocument, document.id).enabled  # type: ignore[union-attr]
        assert session.get(RedactionEvent, event.id).review is None  # type: ignore[union-attr]
        assert session.get(StaffUser, user.id).active  # type: ignore[union-attr]
        assert session.get(CannedReply, reply.id) is not None
        assert session.get(DataSubjectRequest, data_request.id).status == "open"  # type: ignore[union-attr]


def test_adding_an_address_another_business_uses_answers_like_any_new_address(wepos: Wepos) -> None:
    """A refusal would tell one business who works for another (cross-tenant enumeration)."""
    runtime = wepos.runtime
    add_user(runtime, wepos.business_id, Role.AGENT, "sam@crumb.example")
    stranger = stranger_business(runtime)
    browsers = Browsers(wepos.url)
    try:
        admin = browsers.sign_in(add_user(runtime, stranger, Role.ADMIN, "admin@stranger.example"))
        for email in ("sam@crumb.example", "nobody@crumb.example"):
            form = {"csrf": csrf(admin), "email": email, "role": "agent"}
            response = admin.post("/console/admin/users", data=form)
            assert response.status_code == 200, response.text
            assert f"Created {email}. Their password, shown this once" in response.text
    finally:
        browsers.close()
    with session_scope(runtime.engine) as session:
        crumbs = session.exec(select(StaffUser).where(StaffUser.email == "sam@crumb.example")).all()
    assert sorted(u.business_id for u in crumbs) == sorted([wepos.business_id, stranger])
