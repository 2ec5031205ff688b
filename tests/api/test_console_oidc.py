"""Console sign-in through OpenID Connect, round trip against a loopback provider the test runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select

from api.runtime import Runtime
from core.audit_trail import AuditEntry
from core.db import session_scope
from core.staff import Role
from core.tenants import create_business
from tests.conftest import make_settings
from tests.console_helpers import Browsers, add_user
from tests.helpers import running_server
from tests.oidc_stand_in import CLIENT_ID, CLIENT_SECRET, OidcStandIn

pytestmark = [pytest.mark.e2e, pytest.mark.transparency]


@pytest.fixture
def provider() -> Iterator[OidcStandIn]:
    stand_in = OidcStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str, provider: OidcStandIn) -> Iterator[tuple[str, Runtime, int]]:
    settings = make_settings(
        tmp_path / "var",
        sqlite_url,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_provider_name="Loopback ID",
    )
    runtime = Runtime(settings)
    runtime.migrate()
    with session_scope(runtime.engine) as session:
        business = create_business(session, name="crumb", phone_number_id="1", box=runtime.box)
    assert business.id is not None
    with running_server(runtime, run_worker=False) as url:
        yield url, runtime, business.id


@pytest.fixture
def browsers(site: tuple[str, Runtime, int]) -> Iterator[Browsers]:
    clients = Browsers(site[0])
    yield clients
    clients.close()


def test_a_user_signs_in_through_the_provider_and_lands_on_their_pages(
    site: tuple[str, Runtime, int], browsers: Browsers
) -> None:
    _url, runtime, business_id = site
    add_user(runtime, business_id, Role.AGENT, "agent@crumb.example")
    browser = browsers.new()
    assert "Sign in with Loopback ID" in browser.get("/console/login").text
    landed = browser.get("/console/login/oidc", follow_redirects=True)
    assert landed.status_code == 200 and str(landed.url).endswith("/console/inbox")
    assert browser.get("/console/inbox").status_code == 200
    with session_scope(runtime.engine) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "staff.sign_in")).one()
    assert entry.detail == '{"method":"oidc"}' and entry.actor.endswith("agent@crumb.example")


def test_the_provider_cannot_create_users_or_sign_in_disabled_ones(
    site: tuple[str, Runtime, int], browsers: Browsers, provider: OidcStandIn
) -> None:
    _url, runtime, business_id = site
    provider.user_email = "stranger@elsewhere.example"
    refused = browsers.new().get("/console/login/oidc", follow_redirects=True)
    assert refused.status_code == 401 and "ask your admin to add you" in refused.text
    add_user(runtime, business_id, Role.AGENT, "agent@crumb.example")
    provider.user_email, provider.email_verified = "agent@crumb.example", False
    unverified = browsers.new().get("/console/login/oidc", follow_redirects=True)
    assert unverified.status_code == 401 and "verified e-mail" in unverified.text


def test_forged_tokens_and_callbacks_from_another_browser_are_refused(
    site: tuple[str, Runtime, int], browsers: Browsers, provider: OidcStandIn
) -> None:
    _url, runtime, business_id = site
    add_user(runtime, business_id, Role.AGENT, "agent@crumb.example")
    provider.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = browsers.new().get("/console/login/oidc", follow_redirects=True)
    assert forged.status_code == 401 and "did not verify" in forged.text
    provider.signing_key, provider.audience = provider.key, "another-client"
    other_client = browsers.new().get("/console/login/oidc", follow_redirects=True)
    assert other_client.status_code == 401

    # The victim's browser is sent to the attacker's callback URL: it holds no matching sign-in.
    provider.audience = CLIENT_ID
    attacker = browsers.new()
    start = attacker.get("/console/login/oidc")
    callback = attacker.get(start.headers["location"]).headers["location"]
    victim = browsers.new()
    assert victim.get(callback).status_code == 403
    assert "wepos_session" not in victim.cookies or victim.cookies["wepos_session"].startswith("oidc.")


def test_without_a_provider_the_sso_routes_do_not_exist(tmp_path: Path, sqlite_url: str) -> None:
    runtime = Runtime(make_settings(tmp_path / "var", sqlite_url))
    runtime.migrate()
    with running_server(runtime, run_worker=False) as url:
        browsers = Browsers(url)
        try:
            assert "Sign in with" not in browsers.new().get("/console/login").text
            assert browsers.new().get("/console/login/oidc").status_code == 404
        finally:
            browsers.close()
