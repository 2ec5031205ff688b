"""Who is using the console: the session cookie, role checks and CSRF protection.

The console sets exactly one cookie, `wepos_session` (HttpOnly, SameSite=Lax, Secure over HTTPS and always in
production), holding a random token whose hash names a server-side session. Every form carries that session's
CSRF token; the login form, which has no session yet, carries a short-lived token signed over a random value
held in a second cookie, `wepos_login` (HttpOnly, SameSite=Strict, for the login path only, dropped once signed
in): a token copied from another browser is refused, so no site can sign a visitor in as someone else. Requests
whose `Origin` is another site, or `null` (what a browser sends for a cross-site form under the console's
`Referrer-Policy: same-origin`), are refused as well."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData

from api.deps import SessionDep
from api.runtime import Runtime
from bot.desk.inbox import actor_label
from core.audit_trail import record_action
from core.errors import Forbidden, Unauthenticated
from core.settings import Environment
from core.staff import Role, StaffUser, session_user
from core.tenants import Business

COOKIE = "wepos_session"
LOGIN_COOKIE = "wepos_login"
LOGIN_TOKEN_TTL_S = 3600


class LoginRequired(Unauthenticated):
    """No (valid) session: pages send the browser to the login form."""


@dataclass(frozen=True)
class Staff:
    """The signed-in person, detached from the database session that loaded them."""

    user: StaffUser
    business: Business
    csrf_token: str

    @property
    def user_id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    @property
    def business_id(self) -> int:
        assert self.business.id is not None
        return self.business.id

    @property
    def role(self) -> Role:
        return Role(self.user.role)


def cookie_is_secure(request: Request, runtime: Runtime) -> bool:
    return request.url.scheme == "https" or runtime.settings.env is Environment.PRODUCTION


def signed_in(request: Request, session: SessionDep) -> Staff:
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise LoginRequired("sign in first")
    try:
        user, row = session_user(session, token)
    except Unauthenticated as exc:
        raise LoginRequired(exc.message) from exc
    business = session.get(Business, user.business_id)
    if business is None:
        raise LoginRequired("sign in first")
    # The session's last use is committed now: its row lock (SQLite: the write lock) is not held through the page.
    session.commit()
    session.expunge(user)
    session.expunge(business)
    staff = Staff(user, business, row.csrf_token)
    request.state.staff = staff  # for the error pages' navigation
    return staff


SignedIn = Annotated[Staff, Depends(signed_in)]


def record_staff_action(
    session: Session, staff: Staff, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """An audit entry under the signed-in person, in `session`'s unit of work (it commits with the route)."""
    record_action(
        session,
        business_id=staff.business_id,
        actor=actor_label(staff.user),
        action=action,
        target=target,
        detail=detail,
    )


def role_required(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency letting only these roles through (403 for the others)."""

    async def check(staff: SignedIn) -> Staff:
        if staff.role not in roles:
            raise Forbidden(f"this page is for the {' or '.join(r.value for r in roles)} role")
        return staff

    return check


AdminDep = Annotated[Staff, Depends(role_required(Role.ADMIN))]
AgentDep = Annotated[Staff, Depends(role_required(Role.AGENT))]
ComplianceDep = Annotated[Staff, Depends(role_required(Role.COMPLIANCE))]


def check_origin(request: Request) -> None:
    """A browser names the page a form came from; one from another site is a forgery."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and (origin == "null" or urlsplit(origin).netloc != request.url.netloc):
        raise Forbidden("this form was sent from another site")


async def checked_form(request: Request, staff: SignedIn) -> FormData:
    """The posted form, once its CSRF token is checked against the session's (after the session is)."""
    check_origin(request)
    form = await request.form(max_files=0, max_fields=50)
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, staff.csrf_token):
        raise Forbidden("the form expired or did not come from this console: reload the page and try again")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def login_token(runtime: Runtime, binding: str) -> str:
    """A token for the login form, good for an hour and only alongside the `wepos_login` cookie `binding`."""
    issued = str(int(time.time()))
    return f"{issued}.{_sign(runtime, issued, binding)}"


def login_binding(request: Request) -> str:
    """The browser's `wepos_login` value, or a new one (the caller sets it as the cookie)."""
    held = request.cookies.get(LOGIN_COOKIE, "")
    return held if 20 <= len(held) <= 64 and held.isalnum() else secrets.token_hex(16)


def check_login_token(runtime: Runtime, request: Request, token: str) -> None:
    binding = request.cookies.get(LOGIN_COOKIE, "")
    try:
        issued, signature = token.split(".")
        fresh = 0 <= time.time() - int(issued) <= LOGIN_TOKEN_TTL_S
    except ValueError:
        fresh = False
    if not binding or not fresh or not hmac.compare_digest(signature, _sign(runtime, issued, binding)):
        raise Forbidden("the login form expired: reload the page and try again")


def _sign(runtime: Runtime, issued: str, binding: str) -> str:
    key = hashlib.sha256(b"wepos console login\x00" + runtime.app_secret).digest()
    return hmac.new(key, f"{issued}.{binding}".encode(), hashlib.sha256).hexdigest()
