"""The console in headless Chromium (Debian's, driven by Playwright; `playwright install` is never run)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from api.runtime import Runtime
from bot.models import Conversation, ConversationStatus
from core.db import session_scope
from core.staff import Role
from core.tenants import create_business
from privacy.models import RedactionEvent
from testing.graph_api import GraphStandIn
from tests.conftest import make_settings
from tests.console_helpers import PASSWORD, add_user
from tests.helpers import demo_runtime, post, running_server, text_payload, wait_until

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]
LIVE_TIMEOUT_MS = 20_000


@dataclass
class Desk:
    url: str
    runtime: Runtime
    graph: GraphStandIn
    business_id: int


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def desk(tmp_path: Path, sqlite_url: str, graph: GraphStandIn, analyzer, embeddings) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    # The console is the same whatever the database: SQLite only here (tests/api/test_console.py runs both).
    settings = make_settings(tmp_path / "var", sqlite_url, whatsapp_api_base=graph.base_url)
    runtime, business_id = demo_runtime(settings, analyzer, embeddings)
    with running_server(runtime) as url:
        yield Desk(url, runtime, graph, business_id)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(LIVE_TIMEOUT_MS)
    yield tab
    context.close()


def _sign_in(page: Any, desk: Desk, email: str) -> None:
    page.goto(f"{desk.url}/console/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_an_agent_sees_an_escalation_arrive_live_claims_replies_and_hands_back(page: Any, desk: Desk) -> None:
    _sign_in(page, desk, add_user(desk.runtime, desk.business_id, Role.AGENT))
    assert page.url.endswith("/console/inbox")
    assert page.get_by_text("Nothing here.").is_visible()
    page.wait_for_selector("body[data-live-ready]")  # the event stream is open

    assert post(desk.url, text_payload("I want to talk to a real person please")).status_code == 200
    row = page.wait_for_selector("li[data-conversation]")  # no reload: the list was swapped in live
    assert "customer_request" in row.inner_text()

    page.get_by_role("link", name="Customer 1").click()
    page.get_by_role("button", name="Claim").click()
    assert "With agent@crumb.example" in page.inner_text("p.status")
    sent_before = len(desk.graph.sends)
    page.get_by_label("Message to the customer").fill("Hello, this is Sam from the bakery.")
    page.get_by_role("button", name="Send").click()
    assert wait_until(lambda: len(desk.graph.sends) > sent_before, timeout=20)
    assert desk.graph.body(desk.graph.sends[-1]) == "Hello, this is Sam from the bakery."

    page.get_by_role("button", name="Hand back to the bot").click()
    assert "The bot answers" in page.inner_text("p.status")
    with session_scope(desk.runtime.engine) as session:
        assert session.exec(select(Conversation)).one().status == ConversationStatus.BOT


def test_compliance_finds_a_redaction_and_marks_it_a_false_positive(page: Any, desk: Desk) -> None:
    post(desk.url, text_payload("Hi, I'm Maria Lopez. When are you open on Sunday?"))
    desk.graph.wait_for_sends(1)
    _sign_in(page, desk, add_user(desk.runtime, desk.business_id, Role.COMPLIANCE))
    page.get_by_label("Type").first.fill("PERSON")
    page.get_by_role("button", name="Filter").click()
    row = page.locator("tr[data-redaction]").first
    event_id = int(row.get_attribute("data-redaction"))
    row.get_by_role("button", name="False positive").click()
    assert "false positive" in page.locator(f'tr[data-redaction="{event_id}"]').inner_text()
    with session_scope(desk.runtime.engine) as session:
        assert session.get(RedactionEvent, event_id).review == "false_positive"  # type: ignore[union-attr]
    page.get_by_role("link", name="Audit log").click()
    assert "Chain verified" in page.inner_text("main")
    assert "redaction.review" in page.inner_text("table")


def test_an_agent_is_refused_compliance_pages_and_another_business_conversations(
    page: Any, desk: Desk
) -> None:
    post(desk.url, text_payload("I want to talk to a real person please"))
    desk.graph.wait_for_sends(1)
    with session_scope(desk.runtime.engine) as session:
        conversation_id = session.exec(select(Conversation)).one().id
        rival = create_business(session, name="rival", phone_number_id="999", box=desk.runtime.box)
    assert rival.id is not None
    _sign_in(page, desk, add_user(desk.runtime, rival.id, Role.AGENT, "agent@rival.example"))
    response = page.goto(f"{desk.url}/console/compliance/redactions")
    assert response.status == 403 and "Not allowed" in page.inner_text("h1")
    response = page.goto(f"{desk.url}/console/conversations/{conversation_id}")
    assert response.status == 404 and "Not found" in page.inner_text("h1")
    page.goto(f"{desk.url}/console/inbox?queue=open")
    assert page.locator("li[data-conversation]").count() == 0


def test_the_inbox_fits_a_phone_screen(browser: Any, desk: Desk) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        tab = context.new_page()
        _sign_in(tab, desk, add_user(desk.runtime, desk.business_id, Role.AGENT))
        post(desk.url, text_payload("I want to talk to a real person please"))
        tab.wait_for_selector("li[data-conversation]", timeout=LIVE_TIMEOUT_MS)
        assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()


@pytest.mark.transparency
def test_the_analytics_dashboard_shows_charts_without_personal_data(page: Any, desk: Desk) -> None:
    for text in (
        "Hi, I'm Maria Lopez. When are you open on Sunday?",
        "I want to talk to a real person please",
    ):
        post(desk.url, text_payload(text))
    desk.graph.wait_for_sends(2)
    _sign_in(page, desk, add_user(desk.runtime, desk.business_id, Role.ADMIN))
    page.get_by_role("link", name="Analytics").click()
    chart = page.get_by_role("img", name="Messages in and out per day")
    assert chart.is_visible()
    assert chart.locator("rect").count() >= 2
    assert page.get_by_role("img", name="Escalation reasons").is_visible()
    text = page.inner_text("main")
    assert "<5" in text and "Maria" not in text and "Lopez" not in text


PAGES = {
    Role.AGENT: [("inbox", "/console/inbox?queue=open"), ("conversation", "/console/conversations/1")],
    Role.COMPLIANCE: [
        ("redactions", "/console/compliance/redactions"),
        ("customers", "/console/compliance/contacts"),
        ("requests", "/console/compliance/requests"),
        ("audit-log", "/console/compliance/audit"),
        ("access-review", "/console/compliance/access"),
        ("processing-record", "/console/compliance/processing-record"),
    ],
    Role.ADMIN: [
        ("knowledge", "/console/admin/documents"),
        ("settings", "/console/admin/settings"),
        ("users", "/console/admin/users"),
        ("analytics", "/console/admin/analytics"),
    ],
}


def test_every_main_page_renders_without_a_script_or_policy_error(
    browser: Any, desk: Desk, tmp_path: Path
) -> None:
    """Each role's pages load with no console error (a CSP violation would be one) and are saved as
    screenshots (to `WEPOS_TEST_SCREENSHOTS` when set: docs/screenshots is made this way)."""
    import os

    shots = Path(os.environ.get("WEPOS_TEST_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    post(desk.url, text_payload("Hi, I'm Maria Lopez. I want to talk to a real person please"))
    desk.graph.wait_for_sends(1)
    errors: list[str] = []
    for role, pages in PAGES.items():
        context = browser.new_context(viewport={"width": 1100, "height": 760})
        tab = context.new_page()
        tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        try:
            if role is Role.AGENT:
                tab.goto(f"{desk.url}/console/login")
                tab.screenshot(path=str(shots / "login.png"))
            _sign_in(tab, desk, add_user(desk.runtime, desk.business_id, role))
            for name, path in pages:
                response = tab.goto(f"{desk.url}{path}")
                assert response.status == 200, (name, response.status)
                assert tab.locator("h1").first.is_visible(), name
                tab.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        finally:
            context.close()
        assert errors == [], (role, errors)
    assert len(list(shots.glob("*.png"))) == 1 + sum(len(p) for p in PAGES.values())
