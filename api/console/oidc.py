"""Console sign-in through an OpenID Connect provider (authorization code + PKCE), beside passwords.

Between the redirect to the provider and its answer, the attempt (state, nonce, PKCE verifier, where to go
next) travels sealed inside the console's one cookie, `wepos_session`: the browser can neither read nor
forge it, and a callback from another browser (login CSRF) has no matching cookie."""

from __future__ import annotations

import json
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.console.auth import COOKIE, cookie_is_secure
from api.console.pages import back_to
from api.console.session import HOME, record_sign_in, safe_next, set_session_cookie
from api.deps import RuntimeDep, SessionDep
from api.runtime import Runtime
from core.errors import Forbidden, NotFound, Unauthenticated
from core.oidc import Challenge, OidcClient
from core.staff import Role, sign_in_verified

router = APIRouter()
PENDING_PREFIX = "oidc."
PENDING_TTL_S = 600


def _client(runtime: Runtime) -> OidcClient:
    if runtime.oidc is None:
        raise NotFound("single sign-on is not configured")
    return runtime.oidc


def _redirect_uri(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get("/login/oidc")
def oidc_start(
    request: Request, runtime: RuntimeDep, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    client = _client(runtime)
    challenge = Challenge.new()
    target = client.authorization_url(challenge, _redirect_uri(request))
    pending = {**challenge.__dict__, "next": safe_next(next) or "", "at": int(time.time())}
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        PENDING_PREFIX + runtime.box.seal(json.dumps(pending)),
        max_age=PENDING_TTL_S,
        path="/console",
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back, not on other sites' requests
        secure=cookie_is_secure(request, runtime),
    )
    return response


@router.get("/login/oidc/callback", name="oidc_callback")
def oidc_callback(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    client = _client(runtime)
    pending = _pending(runtime, request.cookies.get(COOKIE, ""))
    if pending is None or not state or not secrets.compare_digest(state, str(pending["state"])):
        raise Forbidden("this sign-in was not started in this browser, or it expired: start again")
    if error or not code:
        raise Unauthenticated("the identity provider did not sign you in")
    challenge = Challenge(str(pending["state"]), str(pending["nonce"]), str(pending["verifier"]))
    identity = client.identity(code, challenge, _redirect_uri(request))
    done = sign_in_verified(session, email=identity.email)
    record_sign_in(session, done.user, "oidc")
    response = back_to(str(pending["next"]) or HOME[Role(done.user.role)])
    set_session_cookie(response, request, runtime, done.token)
    return response


def _pending(runtime: Runtime, cookie: str) -> dict[str, object] | None:
    if not cookie.startswith(PENDING_PREFIX):
        return None
    try:
        pending = json.loads(runtime.box.open(cookie.removeprefix(PENDING_PREFIX)))
    except Exception:
        return None
    if not isinstance(pending, dict) or time.time() - int(pending.get("at", 0)) > PENDING_TTL_S:
        return None
    return pending
