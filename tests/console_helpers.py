"""Signing in to the console from tests: users with known passwords, and an httpx client holding the cookie."""

from __future__ import annotations

import re

import httpx

from api.runtime import Runtime
from core.db import session_scope
from core.staff import Role, create_user

PASSWORD = "correct horse battery staple"


def add_user(runtime: Runtime, business_id: int, role: Role, email: str | None = None) -> str:
    address = email or f"{role.value}@crumb.example"
    with session_scope(runtime.engine) as session:
        create_user(session, business_id=business_id, email=address, role=role, password=PASSWORD)
    return address


class Browsers:
    """httpx clients standing in for browsers (one cookie jar each), all closed at the end of the test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: list[httpx.Client] = []

    def new(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        self._clients.append(client)
        return client

    def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Client:
        """A client signed in as `email` (its cookie jar holds the session)."""
        client = self.new()
        response = client.post("/console/login", data=login_form(client, email, password))
        assert response.status_code == 303, response.text
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


def login_form(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    page = client.get("/console/login").text
    return {"email": email, "password": password, "token": hidden(page, "token")}


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    return found.group(1)


def csrf(client: httpx.Client, page: str = "/console/") -> str:
    return hidden(client.get(page, follow_redirects=True).text, "csrf")
