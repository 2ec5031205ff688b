"""Signing in and out, the landing redirect, and the cookie notice."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.console.auth import (
    COOKIE,
    LOGIN_COOKIE,
    LOGIN_TOKEN_TTL_S,
    CheckedForm,
    SignedIn,
    check_login_token,
    check_origin,
    cookie_is_secure,
    login_binding,
    login_token,
)
from api.console.pages import back_to, render
from api.deps import RuntimeDep, SessionDep
from api.runtime import Runtime
from core.audit_trail import record_action
from core.errors import Unauthenticated
from core.staff import SESSION_MAX, Role, StaffUser, sign_in, sign_out

router = APIRouter()

HOME = {
    Role.AGENT: "/console/inbox",
    Role.COMPLIANCE: "/console/compliance/redactions",
    Role.ADMIN: "/console/admin/documents",
}


def safe_next(target: str | None) -> str | None:
    """Only a console path of this site: never `//evil.example` or another scheme."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/", response_class=HTMLResponse)
async def home(staff: SignedIn) -> Response:
    return back_to(HOME[staff.role])


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    return _login_page(request, runtime, next)


def _login_page(
    request: Request, runtime: Runtime, next: str | None, error: str | None = None, status: int = 200
) -> Response:
    binding = login_binding(request)
    context = {"token": login_token(runtime, binding), "next": safe_next(next) or "", "sso": _sso(runtime)}
    if error is not None:
        context["error"] = error
    response = render(request, "login.html", context, status=status)
    response.set_cookie(
        LOGIN_COOKIE,
        binding,
        max_age=LOGIN_TOKEN_TTL_S,
        path="/console/login",
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request, runtime),
    )
    return response


def _sso(runtime: Runtime) -> str | None:
    """The provider's name for the "Sign in with …" link, when one is configured."""
    return runtime.settings.oidc_provider_name if runtime.oidc is not None else None


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_origin(request)
    check_login_token(runtime, request, token)
    try:
        done = sign_in(session, email=email, password=password)  # a refusal commits its failure count itself
    except Unauthenticated as exc:
        return _login_page(request, runtime, next, error=exc.message, status=401)
    record_sign_in(session, done.user, "password")
    response = back_to(safe_next(next) or HOME[Role(done.user.role)])
    set_session_cookie(response, request, runtime, done.token)
    response.delete_cookie(LOGIN_COOKIE, path="/console/login", httponly=True, samesite="strict")
    return response


def record_sign_in(session: Session, user: StaffUser, method: str) -> None:
    record_action(
        session,
        business_id=user.business_id,
        actor=f"user:{user.id} {user.email}",
        action="staff.sign_in",
        target=f"user:{user.id}",
        detail={"method": method},
    )


def set_session_cookie(response: Response, request: Request, runtime: Runtime, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_MAX.total_seconds()),
        path="/console",
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request, runtime),
    )


@router.post("/logout")
def logout(request: Request, session: SessionDep, staff: SignedIn, _form: CheckedForm) -> Response:
    sign_out(session, request.cookies.get(COOKIE, ""))
    response = back_to("/console/login")
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="lax")
    return response


@router.get("/cookies", response_class=HTMLResponse)
async def cookies(request: Request) -> Response:
    return render(request, "cookies.html")


def login_redirect(request: Request) -> RedirectResponse:
    """To the login form, coming back here afterwards (to the console's start for a form post)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or safe_next(target) is None:
        target = "/console/"
    return RedirectResponse(f"/console/login?next={quote(target, safe='/')}", status_code=303)
