"""The console end to end over HTTP: sign-in, roles, CSRF, the agent's desk, reveal and its audit chain,
compliance review, admin pages, live events and the CLI. (The browser tests drive the same pages.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select, update
from typer.testing import CliRunner

from api.cli import app as cli_app
from bot.models import Conversation, ConversationNote, ConversationStatus, Message
from compliance.data_rights import export_contact_data
from core.audit_trail import AuditEntry, verify_chain
from core.db import session_scope, utcnow
from core.staff import Role, StaffUser
from core.tenants import Business
from privacy.models import RedactionEvent
from tests.api.conftest import Wepos
from tests.console_helpers import PASSWORD, Browsers, add_user, csrf, hidden, login_form
from tests.helpers import post, text_payload, wait_until

pytestmark = pytest.mark.e2e

CUSTOMER = "Maria Lopez"


@pytest.fixture
def browsers(wepos: Wepos) -> Iterator[Browsers]:
    clients = Browsers(wepos.url)
    yield clients
    clients.close()


def _escalated(wepos: Wepos, text: str = "I want to talk to a real person please, I am Maria Lopez") -> int:
    assert post(wepos.url, text_payload(text)).status_code == 200

    def waiting() -> bool:
        with session_scope(wepos.runtime.engine) as session:
            row = session.exec(select(Conversation)).first()
            return row is not None and row.status == ConversationStatus.WAITING_FOR_AGENT

    assert wait_until(waiting)
    with session_scope(wepos.runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
    assert conversation.id is not None
    return conversation.id


def _audit(wepos: Wepos, action: str) -> list[AuditEntry]:
    with session_scope(wepos.runtime.engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def test_sign_in_sets_one_hardened_cookie_and_sign_out_ends_the_session(
    wepos: Wepos, browsers: Browsers
) -> None:
    email = add_user(wepos.runtime, wepos.business_id, Role.AGENT)
    client = browsers.new()
    response = client.post("/console/login", data=login_form(client, email, PASSWORD))
    assert response.status_code == 303 and response.headers["location"] == "/console/inbox"
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2 and cookies[1].startswith('wepos_login=""; ')  # the login form's part is done
    cookie = cookies[0].lower()
    assert cookie.startswith("wepos_session=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/console" in cookie
    assert client.get("/console/inbox").status_code == 200
    client.post("/console/logout", data={"csrf": csrf(client, "/console/inbox")})
    # The old token is dead on the server, not just forgotten by this browser.
    stale = browsers.new()
    stale.cookies.set("wepos_session", cookie.split(";")[0].split("=", 1)[1])
    stale_page = stale.get("/console/inbox")
    assert stale_page.status_code == 303 and stale_page.headers["location"].startswith("/console/login")


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    wepos: Wepos, browsers: Browsers
) -> None:
    email = add_user(wepos.runtime, wepos.business_id, Role.AGENT)
    client = browsers.new()
    for _ in range(5):
        response = client.post("/console/login", data=login_form(client, email, "wrong password!!"))
        assert response.status_code == 401
        assert "wrong e-mail or password" in response.text
    response = client.post("/console/login", data=login_form(client, email, PASSWORD))
    assert response.status_code == 401 and "wepos_session" not in response.headers.get("set-cookie", "")
    with session_scope(wepos.runtime.engine) as session:
        user = session.exec(select(StaffUser).where(StaffUser.email == email)).one()
        assert user.locked_until is not None and user.locked_until > utcnow()
    # An unknown address gets the same answer as a wrong password: the form does not tell who exists.
    unknown = client.post("/console/login", data=login_form(client, "nobody@crumb.example", PASSWORD))
    assert unknown.status_code == 401 and "wrong e-mail or password" in unknown.text


def test_forms_without_the_csrf_token_or_from_another_site_change_nothing(
    wepos: Wepos, browsers: Browsers
) -> None:
    conversation_id = _escalated(wepos)
    client = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    token = csrf(client, f"/console/conversations/{conversation_id}")
    claim = f"/console/conversations/{conversation_id}/claim"
    assert client.post(claim, data={}).status_code == 403
    assert client.post(claim, data={"csrf": "forged"}).status_code == 403
    forged_origin = client.post(claim, data={"csrf": token}, headers={"Origin": "https://evil.example"})
    assert forged_origin.status_code == 403
    login = browsers.new().post(
        "/console/login", data={"email": "a@b.example", "password": "x", "token": "1.2.3"}
    )
    assert login.status_code == 403
    with session_scope(wepos.runtime.engine) as session:
        assert session.get(Conversation, conversation_id).assigned_user_id is None  # type: ignore[union-attr]
    assert client.post(claim, data={"csrf": token}).status_code == 303


def test_no_other_site_can_sign_a_browser_in_as_someone_else(wepos: Wepos, browsers: Browsers) -> None:
    """Login CSRF: the attacker's own login form (token and credentials) posted from the victim's browser."""
    attacker_email = add_user(wepos.runtime, wepos.business_id, Role.AGENT)
    attacker = browsers.new()
    form = login_form(attacker, attacker_email, PASSWORD)
    victim = browsers.new()
    planted = victim.post("/console/login", data=form)
    assert planted.status_code == 403 and "wepos_session" not in planted.headers.get("set-cookie", "")
    victim.get("/console/login")  # the victim's own login cookie does not make the attacker's token good
    assert victim.post("/console/login", data=form).status_code == 403
    own = login_form(victim, attacker_email, PASSWORD)
    assert victim.post("/console/login", data=own, headers={"Origin": "null"}).status_code == 403
    signed_in = attacker.post("/console/login", data=form)
    assert signed_in.status_code == 303 and "wepos_session=" in signed_in.headers["set-cookie"]
    assert 'wepos_login=""' in signed_in.headers["set-cookie"]  # its part is done: dropped on sign-in


def test_each_role_sees_only_its_own_pages(wepos: Wepos, browsers: Browsers) -> None:
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    officer = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.COMPLIANCE))
    admin = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.ADMIN))
    for client, allowed, refused in (
        (agent, "/console/inbox", ["/console/compliance/redactions", "/console/admin/users"]),
        (officer, "/console/compliance/audit", ["/console/inbox", "/console/admin/settings"]),
        (admin, "/console/admin/settings", ["/console/inbox", "/console/compliance/redactions"]),
    ):
        assert client.get(allowed).status_code == 200, allowed
        for path in refused:
            response = client.get(path)
            assert response.status_code == 403, path
            assert "Not allowed" in response.text


def test_the_agent_desk_masks_by_default_and_every_reveal_is_audited_in_a_verifiable_chain(
    wepos: Wepos, browsers: Browsers
) -> None:
    conversation_id = _escalated(wepos)
    email = add_user(wepos.runtime, wepos.business_id, Role.AGENT)
    agent = browsers.sign_in(email)
    inbox = agent.get("/console/inbox?queue=waiting").text
    assert f"/console/conversations/{conversation_id}" in inbox and CUSTOMER not in inbox
    page = agent.get(f"/console/conversations/{conversation_id}").text
    assert "&lt;PERSON_1&gt;" in page and CUSTOMER not in page and "447700900123" not in page
    assert not _audit(wepos, "conversation.reveal")

    revealed = agent.post(
        f"/console/conversations/{conversation_id}/reveal", data={"csrf": hidden(page, "csrf")}
    )
    assert revealed.status_code == 200
    assert CUSTOMER in revealed.text and "+447700900123" in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    (entry,) = _audit(wepos, "conversation.reveal")
    assert entry.actor.endswith(email) and entry.target == f"conversation:{conversation_id}"
    assert CUSTOMER not in entry.detail

    with session_scope(wepos.runtime.engine) as session:
        assert verify_chain(session, business_id=wepos.business_id) == []
        session.exec(update(AuditEntry).where(AuditEntry.id == entry.id).values(actor="user:0 someone-else"))
    with session_scope(wepos.runtime.engine) as session:
        (broken,) = verify_chain(session, business_id=wepos.business_id)
        assert broken.seq == entry.seq and "changed" in broken.reason


def test_an_agent_claims_replies_notes_hands_back_and_resolves(wepos: Wepos, browsers: Browsers) -> None:
    conversation_id = _escalated(wepos)
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    here = f"/console/conversations/{conversation_id}"
    token = csrf(agent, here)
    assert agent.post(f"{here}/claim", data={"csrf": token}).status_code == 303
    assert f'{here}"' in agent.get("/console/inbox?queue=mine").text
    assert f'{here}"' not in agent.get("/console/inbox?queue=waiting").text

    sends = len(wepos.graph.sends)
    assert (
        agent.post(f"{here}/reply", data={"csrf": token, "text": "Hello Maria Lopez, I can help"}).status_code
        == 303
    )
    assert wait_until(lambda: len(wepos.graph.sends) > sends)
    assert wepos.graph.body(wepos.graph.sends[-1]) == "Hello Maria Lopez, I can help"
    note = agent.post(f"{here}/note", data={"csrf": token, "text": "Maria Lopez asked about a refund"})
    assert note.status_code == 303
    with session_scope(wepos.runtime.engine) as session:
        stored = [m.text_masked or "" for m in session.exec(select(Message)).all()]
        notes = [n.text_masked for n in session.exec(select(ConversationNote)).all()]
    assert not any(CUSTOMER in text for text in stored + notes), "agent texts are stored masked"
    assert notes and "<PERSON_1>" in notes[0]
    with session_scope(wepos.runtime.engine) as session:
        export = export_contact_data(
            session, wepos.runtime.box, business_id=wepos.business_id, phone="447700900123"
        )
    (exported,) = export["conversations"]
    assert [n["text"] for n in exported["agent_notes"]] == ["Maria Lopez asked about a refund"]

    assert agent.post(f"{here}/handback", data={"csrf": token}).status_code == 303
    with session_scope(wepos.runtime.engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.status == ConversationStatus.BOT and conversation.assigned_user_id is None
    assert agent.post(f"{here}/resolve", data={"csrf": token}).status_code == 303
    assert f'{here}"' in agent.get("/console/inbox?queue=resolved").text
    assert f'{here}"' not in agent.get("/console/inbox?queue=open").text


def test_outside_the_24_hour_window_only_a_template_can_be_sent(wepos: Wepos, browsers: Browsers) -> None:
    from core.tenants import set_waba_id
    from tests.helpers import ORDER_READY, WABA_ID

    wepos.graph.templates[WABA_ID] = [ORDER_READY]
    conversation_id = _escalated(wepos)
    with session_scope(wepos.runtime.engine) as session:
        session.exec(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_inbound_at=utcnow() - timedelta(hours=25))
        )
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    here = f"/console/conversations/{conversation_id}"
    page = agent.get(here).text
    assert "templates only" in page and 'id="reply-text"' not in page
    assert "no WhatsApp Business Account id" in page and 'name="template"' not in page
    token = hidden(page, "csrf")
    refused = agent.post(f"{here}/reply", data={"csrf": token, "text": "Hi again"})
    assert refused.status_code == 400 and "only an approved template" in refused.text
    with session_scope(wepos.runtime.engine) as session:
        business = session.get(Business, wepos.business_id)
        assert business is not None
        set_waba_id(session, business, WABA_ID)
    page = agent.get(here).text
    assert 'name="template" value="order_ready"' in page
    values = {"csrf": token, "template": "order_ready", "language": "en_US", "value": ["Ana", "A-17"]}
    assert agent.post(f"{here}/reply", data=values).status_code == 303
    with session_scope(wepos.runtime.engine) as session:
        kinds = [m.kind for m in session.exec(select(Message).where(Message.direction == "out")).all()]
    assert "template" in kinds


def test_a_user_never_sees_another_business_conversations(wepos: Wepos, browsers: Browsers) -> None:
    from core.tenants import create_business

    conversation_id = _escalated(wepos)
    with session_scope(wepos.runtime.engine) as session:
        other = create_business(
            session, name="rival", phone_number_id="999", box=wepos.runtime.box, display_name="Rival"
        )
    assert other.id is not None
    stranger = browsers.sign_in(add_user(wepos.runtime, other.id, Role.AGENT, "agent@rival.example"))
    here = f"/console/conversations/{conversation_id}"
    assert stranger.get(here).status_code == 404
    token = csrf(stranger, "/console/inbox")
    for action in ("reveal", "claim", "resolve", "handback"):
        assert stranger.post(f"{here}/{action}", data={"csrf": token}).status_code == 404, action
    for queue in ("waiting", "open", "resolved"):
        assert here not in stranger.get(f"/console/inbox?queue={queue}").text
    assert not _audit(wepos, "conversation.reveal")


def test_the_event_stream_announces_a_new_escalation(wepos: Wepos, browsers: Browsers) -> None:
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    seen: list[str] = []
    with agent.stream("GET", "/console/events", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        while "event: ready" not in seen:
            seen.append(next(lines))
        assert post(wepos.url, text_payload("Can I speak to a human?")).status_code == 200
        deadline = time.monotonic() + 20
        while "event: inbox" not in seen and time.monotonic() < deadline:
            seen.append(next(lines))
    assert "event: inbox" in seen


def test_compliance_marks_a_false_positive_and_erases_a_customer_after_confirmation(
    wepos: Wepos, browsers: Browsers
) -> None:
    _escalated(wepos)
    officer = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.COMPLIANCE))
    page = officer.get("/console/compliance/redactions?entity_type=PERSON").text
    with session_scope(wepos.runtime.engine) as session:
        event = session.exec(select(RedactionEvent).where(RedactionEvent.entity_type == "PERSON")).first()
    assert event is not None and f'data-redaction="{event.id}"' in page
    token = hidden(page, "csrf")
    review = officer.post(
        f"/console/compliance/redactions/{event.id}/review", data={"csrf": token, "verdict": "false_positive"}
    )
    assert review.status_code == 303
    with session_scope(wepos.runtime.engine) as session:
        assert session.get(RedactionEvent, event.id).review == "false_positive"  # type: ignore[union-attr]
    assert _audit(wepos, "redaction.review")

    found = officer.post("/console/compliance/contacts", data={"csrf": token, "phone": "+44 7700 900123"})
    assert found.status_code == 200 and "service replies" in found.text
    unconfirmed = officer.post(
        "/console/compliance/contacts/erase",
        data={"csrf": token, "phone": "+44 7700 900123", "confirm": "yes"},
    )
    assert unconfirmed.status_code == 400
    export = officer.post(
        "/console/compliance/contacts/export", data={"csrf": token, "phone": "+44 7700 900123"}
    )
    assert export.status_code == 200 and CUSTOMER in export.text
    erased = officer.post(
        "/console/compliance/contacts/erase",
        data={"csrf": token, "phone": "+44 7700 900123", "confirm": "ERASE"},
    )
    assert erased.status_code == 200 and "Erased:" in erased.text
    with session_scope(wepos.runtime.engine) as session:
        assert session.exec(select(Conversation)).all() == []
    actions = [e.action for e in _audit(wepos, "dsar.export") + _audit(wepos, "dsar.erase")]
    assert actions == ["dsar.export", "dsar.erase"]
    assert "Chain verified" in officer.get("/console/compliance/audit").text


def test_an_admin_adds_users_changes_settings_and_uploads_documents(wepos: Wepos, browsers: Browsers) -> None:
    admin = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.ADMIN))
    token = csrf(admin, "/console/admin/users")
    created = admin.post(
        "/console/admin/users", data={"csrf": token, "email": "new@crumb.example", "role": "agent"}
    )
    assert created.status_code == 200 and "shown this once" in created.text
    password = created.text.split("shown this once: <code>")[1].split("</code>")[0]
    assert browsers.sign_in("new@crumb.example", password).get("/console/inbox").status_code == 200

    settings = {
        "csrf": token,
        "mask": ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"],
        "keywords": "manager, complaint",
        "hours": "mon-fri 09:00-17:00",
        "timezone": "Europe/London",
        "retention_days": "30",
        "instructions": "Be brief.",
        "waba_id": "102290129340398",
    }
    assert admin.post("/console/admin/settings", data=settings).status_code == 303
    page = admin.get("/console/admin/settings").text
    assert 'value="30"' in page and "manager, complaint" in page and "mon 09:00-17:00" in page
    assert 'name="waba_id" value="102290129340398"' in page
    refused = admin.post("/console/admin/settings", data={**settings, "waba_id": "waba-1"})
    assert refused.status_code == 400 and "must be digits" in refused.text
    assert 'value="CREDIT_CARD" >' in page or 'value="CREDIT_CARD"  >' in page  # no longer checked

    files = {
        "files": (
            "returns.md",
            b"# Returns\n\nBring the receipt within 30 days for a refund.\n",
            "text/markdown",
        )
    }
    uploaded = admin.post("/console/admin/documents", data={"csrf": token}, files=files)
    assert uploaded.status_code == 303
    assert wait_until(lambda: "returns.md" in admin.get("/console/admin/documents").text, timeout=60)
    no_token = admin.post("/console/admin/documents", data={}, files=files)
    assert no_token.status_code == 403
    assert {e.action for e in _audit(wepos, "user.create") + _audit(wepos, "settings.change")} == {
        "user.create",
        "settings.change",
    }


def test_the_cli_creates_users_and_verifies_the_audit_log(wepos: Wepos, browsers: Browsers) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli_app,
        ["user", "create", "Ops@Crumb.example", "--tenant", "demo-bakery", "--role", "compliance"],
        obj=wepos.runtime,
    )
    assert made.exit_code == 0, made.output
    password = made.stdout.strip().splitlines()[-1]
    assert browsers.sign_in("ops@crumb.example", password).get("/console/compliance/audit").status_code == 200
    listed = runner.invoke(cli_app, ["user", "list", "--tenant", "demo-bakery"], obj=wepos.runtime)
    assert "ops@crumb.example\tcompliance\tactive" in listed.stdout
    assert (
        runner.invoke(
            cli_app,
            ["user", "create", "x@y.example", "--tenant", "demo-bakery", "--role", "boss"],
            obj=wepos.runtime,
        ).exit_code
        == 1
    )

    intact = runner.invoke(cli_app, ["audit", "verify"], obj=wepos.runtime)
    assert intact.exit_code == 0 and "audit log intact" in intact.stdout
    with session_scope(wepos.runtime.engine) as session:
        first = session.exec(select(AuditEntry).order_by(AuditEntry.seq)).first()  # type: ignore[arg-type]
        assert first is not None
        session.delete(first)
    broken = runner.invoke(cli_app, ["audit", "verify", "--tenant", "demo-bakery"], obj=wepos.runtime)
    assert broken.exit_code == 1 and "missing" in broken.output


def test_the_demo_creates_one_console_user_a_role_once(wepos: Wepos, browsers: Browsers) -> None:
    first = CliRunner().invoke(cli_app, ["demo"], obj=wepos.runtime)
    assert first.exit_code == 0, first.output
    lines = [line for line in first.stdout.splitlines() if line.startswith("console user ")]
    assert len(lines) == 3
    agent = next(line for line in lines if "agent@demo-bakery.example" in line)
    password = agent.rsplit(" ", 1)[1]
    assert browsers.sign_in("agent@demo-bakery.example", password).get("/console/inbox").status_code == 200
    again = CliRunner().invoke(cli_app, ["demo"], obj=wepos.runtime)
    assert again.exit_code == 0 and "console user" not in again.stdout


@pytest.mark.transparency
def test_compliance_works_the_request_queue_reviews_access_and_exports_the_audit_log(
    wepos: Wepos, browsers: Browsers
) -> None:
    assert post(wepos.url, text_payload("Hi, I'm Maria Lopez. Please send me my data")).status_code == 200
    wepos.graph.wait_for_sends(1)
    agent_email = add_user(wepos.runtime, wepos.business_id, Role.AGENT)
    agent = browsers.sign_in(agent_email)
    with session_scope(wepos.runtime.engine) as session:
        conversation_id = session.exec(select(Conversation)).one().id
    page = agent.get(f"/console/conversations/{conversation_id}").text
    agent.post(f"/console/conversations/{conversation_id}/reveal", data={"csrf": hidden(page, "csrf")})

    officer = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.COMPLIANCE))
    queue = officer.get("/console/compliance/requests").text
    request_id = int(queue.split('data-request="')[1].split('"')[0])
    assert "export" in queue and CUSTOMER not in queue
    download = officer.post(
        f"/console/compliance/requests/{request_id}/close",
        data={"csrf": hidden(queue, "csrf"), "kind": "export", "status": "done"},
    )
    assert download.status_code == 200 and CUSTOMER in download.text  # the copy for the customer
    assert f'data-request="{request_id}"' in officer.get("/console/compliance/requests?status=done").text

    review = officer.get("/console/compliance/access").text
    agent_row = review.split(f'data-user="{agent_email}"')[1].split("</tr>")[0]
    assert "<td>agent</td>" in agent_row and "<td>1</td>" in agent_row  # one reveal, with its time
    record = officer.get("/console/compliance/processing-record").text
    assert "masked text only" in record.lower() or "Masked before any AI" in record

    exported = officer.get("/console/compliance/audit/export").json()
    assert exported["chain_intact"] is True
    actions = [e["action"] for e in exported["entries"]]
    assert "conversation.reveal" in actions and "request.done" in actions and actions[-1] == "audit.export"
    assert CUSTOMER not in json.dumps(exported) and "447700900123" not in json.dumps(exported)


@pytest.mark.transparency
def test_the_analytics_dashboard_draws_counts_and_suppresses_small_ones(
    wepos: Wepos, browsers: Browsers
) -> None:
    for text in ("When are you open on Sunday?", "I want to talk to a real person please"):
        assert post(wepos.url, text_payload(text)).status_code == 200
    wepos.graph.wait_for_sends(2)
    admin = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.ADMIN))
    page = admin.get("/console/admin/analytics").text
    assert "<svg" in page and 'aria-label="Messages in and out per day"' in page
    assert "&lt;5" in page  # two messages, one conversation: all below k
    assert CUSTOMER not in page and "447700900123" not in page


def test_an_agent_sees_why_the_bot_answered_and_flags_a_wrong_answer(
    wepos: Wepos, browsers: Browsers
) -> None:
    from compliance.analytics import answer_suggestions

    assert post(wepos.url, text_payload("Do you have gluten-free bread?")).status_code == 200
    assert wait_until(lambda: len(wepos.graph.sends) >= 1, timeout=30)
    with session_scope(wepos.runtime.engine) as session:
        conversation = session.exec(select(Conversation)).one()
        answer = session.exec(select(Message).where(Message.direction == "out")).one()
    assert answer.evidence is not None and answer.confidence is not None and answer.confidence >= 0.63
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    here = f"/console/conversations/{conversation.id}"
    page = agent.get(here).text
    # The passage the reply came from (its document and section, masked) and the calibrated confidence.
    assert "Why: " in page and "(document " in page and f"confidence {answer.confidence:.2f}" in page

    flag = f"{here}/messages/{answer.id}/flag"
    assert agent.post(flag, data={"csrf": csrf(agent, here)}).status_code == 303
    assert "flagged as wrong" in agent.get(here).text
    with session_scope(wepos.runtime.engine) as session:
        flagged = session.get(Message, answer.id)
        assert flagged is not None and flagged.flagged_wrong_at is not None
        # The flagged reply's question now counts among those the bot could not answer.
        assert answer_suggestions(session, business_id=wepos.business_id, k=1)
    assert [e.target for e in _audit(wepos, "reply.flag_wrong")] == [f"message:{answer.id}"]
    # Only a bot reply of this conversation can be flagged.
    assert agent.post(f"{here}/messages/999999/flag", data={"csrf": csrf(agent, here)}).status_code == 404
