"""The authorisation matrix and the security headers, checked route by route against `routes.ROUTES`."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from api.main import CONSOLE_CSP
from core.api_keys import revoke_api_key
from core.db import session_scope
from tests.conftest import VERIFY_TOKEN
from tests.helpers import HTTP, post, signed, stored_messages, text_payload
from tests.security.conftest import Light, api_key
from tests.security.routes import ROUTES, Access, api_key_routes, app_routes

pytestmark = pytest.mark.security


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_of_the_app_is_declared_in_the_access_table() -> None:
    served = app_routes()
    undeclared = served - set(ROUTES)
    assert not undeclared, f"declare who may call these routes in tests/security/routes.py: {undeclared}"
    assert not set(ROUTES) - served, "the access table names routes the app no longer has"
    assert all(path.startswith("/v1/") for (_, path), r in ROUTES.items() if r.access is Access.API_KEY)
    assert all(r.access is Access.API_KEY for (_, path), r in ROUTES.items() if path.startswith("/v1/"))
    assert all(path.startswith("/console/") for (_, path), r in ROUTES.items() if r.access is Access.SESSION)


def test_every_api_key_route_refuses_a_missing_wrong_or_revoked_key(light: Light) -> None:
    revoked = api_key(light.runtime, light.business_id)
    with session_scope(light.runtime.engine) as session:
        lookup_id = revoked["Authorization"].split("_")[1]
        revoke_api_key(session, business_id=light.business_id, lookup_id=lookup_id)
    good_secret = light.headers["Authorization"].removeprefix("Bearer ")
    wrong = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wpk_000000000000_not-a-real-key"},
        {"Authorization": f"Bearer {good_secret[:-1]}x"},  # the right lookup id, a wrong secret
        {"Authorization": f"Basic {good_secret}"},
        {"X-API-Key": "nonsense"},
        {"X-API-Key": ""},
        revoked,
    ]
    with httpx.Client(timeout=10) as client:  # one connection kept alive, as a real client would
        for method, path in api_key_routes():
            route = ROUTES[(method, path)]
            url = f"{light.url}{_concrete(path)}"
            for headers in wrong:
                # With no body and with the declared one: the key is checked whatever the body.
                for body in ({}, {"json": route.json, "params": route.params}):
                    response = client.request(method, url, headers=headers, **body)  # type: ignore[arg-type]
                    assert response.status_code == 401, (method, path, headers, response.text)
                    assert response.json()["error"] == "unauthenticated"


def test_public_routes_answer_anyone(light: Light) -> None:
    for (method, path), route in ROUTES.items():
        if route.access is Access.PUBLIC:
            if (method, path) == ("POST", "/console/login") or "/oidc" in path:
                continue  # public, but they want a form or a provider (tests/api/test_console*.py use them)
            url = f"{light.url}{path.replace('{path}', 'console.css')}"
            response = HTTP.request(method, url, timeout=10)
            assert response.status_code == 200, (method, path, response.text)


def test_the_webhook_handshake_needs_the_verify_token(light: Light) -> None:
    url = f"{light.url}/webhooks/whatsapp"
    handshake = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    assert HTTP.get(url, params={**handshake, "hub.verify_token": VERIFY_TOKEN}).text == "1158201444"
    for token in (None, "", "wrong-token", VERIFY_TOKEN[:-1]):
        params = handshake if token is None else {**handshake, "hub.verify_token": token}
        response = HTTP.get(url, params=params)
        assert response.status_code == 403, token
        assert "1158201444" not in response.text


def test_a_webhook_without_a_valid_signature_stores_nothing(light: Light) -> None:
    body, headers = signed(text_payload("When are you open?"))
    assert post(light.url, body, {"Content-Type": "application/json"}).status_code == 401
    for signature in ("sha256=" + "0" * 64, "sha1=abc", headers["X-Hub-Signature-256"][:-2], "garbage"):
        response = post(
            light.url, body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        )
        assert response.status_code == 403, signature
    # Signed with another secret, or a signed body with one byte changed.
    _, other = signed(body, secret="not-the-app-secret")
    assert post(light.url, body, other).status_code == 403
    assert post(light.url, body.replace(b"open", b"shut"), headers).status_code == 403
    assert stored_messages(light.runtime) == []


def test_every_response_carries_the_security_headers(light: Light) -> None:
    calls = []
    for (method, path), route in ROUTES.items():
        url = f"{light.url}{_concrete(path)}"
        if route.access is Access.API_KEY:
            calls.append((method, url, light.headers, route.json))  # 200, 404 or 422: all answered
            calls.append((method, url, {}, None))  # 401
        elif route.access is Access.SIGNATURE:
            body, headers = signed(text_payload("hello"))
            calls.append((method, url, headers, json.loads(body)))
            calls.append((method, url, {}, {}))  # 401
        else:
            calls.append((method, url, {}, None))
    calls.append(("GET", f"{light.url}/no-such-route", {}, None))  # 404 from the router
    for method, url, headers, body in calls:
        response = HTTP.request(method, url, headers=headers, json=body, timeout=30)
        assert response.status_code < 500, (method, url, response.text)
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["cache-control"] == "no-store", url
        console = "/console" in url
        # Console forms need their `Origin` (under no-referrer a browser sends `null`); nothing leaves the site.
        assert response.headers["referrer-policy"] == ("same-origin" if console else "no-referrer"), url
        if "/docs" in url or "/redoc" in url:
            continue  # Swagger UI and ReDoc load their scripts from a CDN
        if console:
            assert response.headers["content-security-policy"] == CONSOLE_CSP.decode(), url
            continue
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
