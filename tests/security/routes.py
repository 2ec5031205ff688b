"""Who may call each route of the app. Every route must be declared here: a new route fails the suite until
it is, so its authorisation and its tenant isolation are decided, not inherited by accident.

- `PUBLIC`: anyone. Liveness and readiness carry no data. `/metrics` is public too: Prometheus scrapers
  rarely carry credentials, and the series are counts and latencies only (no ids, no text, no tenant
  names); restrict it at the network (bind, proxy or firewall), as docs/deploy.md says for the whole port.
  FastAPI's `/openapi.json` and `/docs` describe the API and hold no data; they are served in development
  and, in production, only with `WEPOS_API_DOCS=true` (tests/security/test_api_docs.py).
- `VERIFY_TOKEN`: Meta's subscription handshake; the verify token in the query is the credential.
- `SIGNATURE`: Meta's deliveries, checked against `X-Hub-Signature-256` before the body is parsed.
- `API_KEY`: a business's API key; the route sees that business's data only.
- `SESSION`: a console user of the named role (session cookie; forms also carry the session's CSRF token).
  Without a session a console route sends the browser to the login form; with another role it is a 403.
  The console's login form, cookie notice and static files are `PUBLIC`.

For `API_KEY` routes the table also says how a stranger (another business's key) calls the route against
the victim's data: path ids are filled from `VictimIds` by parameter name, and `json` / `params` name the
victim's customer. `stranger_sees` is what the stranger must get back (besides never a 5xx and never a
victim's marker string).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

VICTIM_PHONE = "447700900123"  # the demo customer of tests.helpers.text_payload
STRANGER_FILE = "mine.md"  # what the stranger uploads through `POST /v1/knowledge/documents`


class Access(StrEnum):
    PUBLIC = "public"
    VERIFY_TOKEN = "verify_token"
    SIGNATURE = "signature"
    API_KEY = "api_key"
    SESSION = "session"


def _empty_list(body: Any) -> bool:
    return body == []


def _own_passages_only(body: Any) -> bool:
    passages = body.get("passages") if isinstance(body, dict) else None
    return isinstance(passages, list) and all(p["source_name"] == STRANGER_FILE for p in passages)


def _no_redactions(body: Any) -> bool:
    return isinstance(body, dict) and body.get("items") == [] and body.get("total") == 0


def _default_policy(body: Any) -> bool:
    return isinstance(body, dict) and body.get("allow_list") == [] and body.get("deny_list") == []


def _own_record(body: Any) -> bool:
    return isinstance(body, dict) and body.get("tenant") == "stranger-shop"


def _nothing_counted(body: Any) -> bool:
    """The stranger's business has no conversations: every count is suppressed, every list empty."""
    counts = ("conversations", "messages_in", "messages_out", "answered_by_bot", "handed_to_agents")
    lists = ("escalation_reasons", "top_documents", "unanswered_clusters", "daily")
    return (
        isinstance(body, dict)
        and all(body[c] == "<5" for c in counts)
        and not any(body[n] for n in lists)
        and body["satisfaction"]["rated"] == "<5"
        and not body["satisfaction"]["by_agent"]
    )


def _anything(_body: Any) -> bool:
    return True


@dataclass(frozen=True)
class Route:
    access: Access
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    files: bool = False  # a multipart upload
    stranger_status: frozenset[int] = frozenset({200})
    stranger_sees: Callable[[Any], bool] = field(default=_anything)
    role: str | None = None  # SESSION routes: the one role let through


NOT_YOURS = frozenset({403, 404})


def _agent() -> Route:
    return Route(Access.SESSION, role="agent")


def _compliance() -> Route:
    return Route(Access.SESSION, role="compliance")


def _admin() -> Route:
    return Route(Access.SESSION, role="admin")


def _anyone_signed_in() -> Route:
    return Route(Access.SESSION)


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/healthz"): Route(Access.PUBLIC),
    ("GET", "/readyz"): Route(Access.PUBLIC),
    ("GET", "/metrics"): Route(Access.PUBLIC),
    ("GET", "/openapi.json"): Route(Access.PUBLIC),
    ("GET", "/docs"): Route(Access.PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Route(Access.PUBLIC),
    ("GET", "/redoc"): Route(Access.PUBLIC),
    ("GET", "/webhooks/whatsapp"): Route(Access.VERIFY_TOKEN),
    ("POST", "/webhooks/whatsapp"): Route(Access.SIGNATURE),
    # --- knowledge ---
    ("POST", "/v1/knowledge/documents"): Route(Access.API_KEY, files=True, stranger_status=frozenset({202})),
    ("GET", "/v1/knowledge/documents"): Route(Access.API_KEY, stranger_sees=_empty_list),
    ("GET", "/v1/knowledge/documents/{document_id}"): Route(Access.API_KEY, stranger_status=NOT_YOURS),
    ("DELETE", "/v1/knowledge/documents/{document_id}"): Route(Access.API_KEY, stranger_status=NOT_YOURS),
    ("POST", "/v1/knowledge/documents/{document_id}/disable"): Route(
        Access.API_KEY, stranger_status=NOT_YOURS
    ),
    ("POST", "/v1/knowledge/documents/{document_id}/enable"): Route(
        Access.API_KEY, stranger_status=NOT_YOURS
    ),
    ("POST", "/v1/knowledge/documents/{document_id}/reindex"): Route(
        Access.API_KEY, stranger_status=NOT_YOURS
    ),
    ("GET", "/v1/knowledge/jobs/{job_id}"): Route(Access.API_KEY, stranger_status=NOT_YOURS),
    ("POST", "/v1/knowledge/reindex"): Route(Access.API_KEY, stranger_status=frozenset({202})),
    ("GET", "/v1/knowledge/answers"): Route(Access.API_KEY, stranger_sees=_empty_list),
    ("POST", "/v1/knowledge/answers"): Route(
        Access.API_KEY,
        json={"question": "Do you sell stamps?", "answer": "No, sorry."},
        stranger_status=frozenset({201}),
    ),
    ("GET", "/v1/knowledge/answers/{answer_id}"): Route(Access.API_KEY, stranger_status=NOT_YOURS),
    ("PATCH", "/v1/knowledge/answers/{answer_id}"): Route(
        Access.API_KEY, json={"answer": "Changed."}, stranger_status=NOT_YOURS
    ),
    ("POST", "/v1/knowledge/answers/{answer_id}/disable"): Route(Access.API_KEY, stranger_status=NOT_YOURS),
    ("POST", "/v1/knowledge/answers/{answer_id}/enable"): Route(Access.API_KEY, stranger_status=NOT_YOURS),
    ("DELETE", "/v1/knowledge/answers/{answer_id}"): Route(Access.API_KEY, stranger_status=NOT_YOURS),
    ("POST", "/v1/knowledge/search"): Route(
        Access.API_KEY,
        json={"query": "When are you open on Sunday?", "k": 20},
        stranger_sees=_own_passages_only,
    ),
    # --- compliance ---
    ("GET", "/v1/compliance/redactions"): Route(
        Access.API_KEY, params={"limit": 1000}, stranger_sees=_no_redactions
    ),
    ("GET", "/v1/compliance/dsar/export"): Route(
        Access.API_KEY, params={"phone": VICTIM_PHONE}, stranger_status=NOT_YOURS
    ),
    ("POST", "/v1/compliance/dsar/erase"): Route(
        Access.API_KEY, json={"phone": VICTIM_PHONE}, stranger_status=NOT_YOURS
    ),
    ("GET", "/v1/compliance/policy"): Route(Access.API_KEY, stranger_sees=_default_policy),
    ("PATCH", "/v1/compliance/policy"): Route(Access.API_KEY, json={"allow": ["Crumb"]}),
    ("POST", "/v1/compliance/redactions/{event_id}/review"): Route(
        Access.API_KEY, json={"false_positive": True}, stranger_status=NOT_YOURS
    ),
    ("POST", "/v1/compliance/consent/lookup"): Route(
        Access.API_KEY, json={"phone": VICTIM_PHONE}, stranger_status=NOT_YOURS
    ),
    ("POST", "/v1/compliance/consent"): Route(
        Access.API_KEY,
        json={"phone": VICTIM_PHONE, "purpose": "marketing", "granted": True},
        stranger_status=NOT_YOURS,
    ),
    ("POST", "/v1/compliance/missed"): Route(
        Access.API_KEY, json={"entity_type": "PERSON", "value": "Bartholomew"}
    ),
    # --- transparency ---
    ("GET", "/v1/compliance/requests"): Route(Access.API_KEY, stranger_sees=_empty_list),
    ("POST", "/v1/compliance/requests/{request_id}/close"): Route(
        Access.API_KEY, json={"status": "done"}, stranger_status=NOT_YOURS
    ),
    ("GET", "/v1/compliance/processing-record"): Route(Access.API_KEY, stranger_sees=_own_record),
    ("GET", "/v1/analytics"): Route(Access.API_KEY, stranger_sees=_nothing_counted),
    # The stranger's business has no WhatsApp Business Account id: 400, saying so (never the victim's).
    ("GET", "/v1/templates"): Route(Access.API_KEY, stranger_status=frozenset({400})),
    # --- console ---
    ("GET", "/console/login"): Route(Access.PUBLIC),
    ("POST", "/console/login"): Route(Access.PUBLIC),  # the form's signed token and the password are checked
    ("GET", "/console/cookies"): Route(Access.PUBLIC),
    # Single sign-on: 404 unless a provider is configured; the callback needs this browser's sealed attempt.
    ("GET", "/console/login/oidc"): Route(Access.PUBLIC),
    ("GET", "/console/login/oidc/callback"): Route(Access.PUBLIC),
    ("GET", "/console/static/{path}"): Route(Access.PUBLIC),
    ("GET", "/console/"): _anyone_signed_in(),
    ("POST", "/console/logout"): _anyone_signed_in(),
    ("GET", "/console/inbox"): _agent(),
    ("GET", "/console/inbox/list"): _agent(),
    ("GET", "/console/events"): _agent(),
    ("GET", "/console/conversations/{conversation_id}"): _agent(),
    ("GET", "/console/conversations/{conversation_id}/transcript"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/reveal"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/claim"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/messages/{message_id}/flag"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/handback"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/resolve"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/reply"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/templates/refresh"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/note"): _agent(),
    ("GET", "/console/conversations/{conversation_id}/messages/{message_id}/approve"): _agent(),
    ("POST", "/console/conversations/{conversation_id}/answers"): _agent(),
    ("GET", "/console/compliance/redactions"): _compliance(),
    ("POST", "/console/compliance/redactions/{event_id}/review"): _compliance(),
    ("POST", "/console/compliance/missed"): _compliance(),
    ("GET", "/console/compliance/contacts"): _compliance(),
    ("POST", "/console/compliance/contacts"): _compliance(),
    ("POST", "/console/compliance/contacts/export"): _compliance(),
    ("POST", "/console/compliance/contacts/erase"): _compliance(),
    ("GET", "/console/compliance/audit"): _compliance(),
    ("GET", "/console/compliance/requests"): _compliance(),
    ("POST", "/console/compliance/requests/{request_id}/close"): _compliance(),
    ("GET", "/console/compliance/processing-record"): _compliance(),
    ("GET", "/console/compliance/access"): _compliance(),
    ("GET", "/console/compliance/audit/export"): _compliance(),
    ("GET", "/console/admin/analytics"): _admin(),
    ("GET", "/console/admin/"): _admin(),
    ("GET", "/console/admin/documents"): _admin(),
    ("POST", "/console/admin/documents"): _admin(),
    ("POST", "/console/admin/documents/{document_id}/{action}"): _admin(),
    ("GET", "/console/admin/settings"): _admin(),
    ("POST", "/console/admin/settings"): _admin(),
    ("GET", "/console/admin/users"): _admin(),
    ("POST", "/console/admin/users"): _admin(),
    ("POST", "/console/admin/users/{user_id}/{action}"): _admin(),
    ("GET", "/console/admin/canned"): _admin(),
    ("GET", "/console/admin/answers"): _admin(),
    ("POST", "/console/admin/answers"): _admin(),
    ("POST", "/console/admin/answers/draft"): _admin(),
    ("GET", "/console/admin/answers/{answer_id}/edit"): _admin(),
    ("POST", "/console/admin/answers/{answer_id}/{action}"): _admin(),
    ("POST", "/console/admin/canned"): _admin(),
    ("POST", "/console/admin/canned/{reply_id}/delete"): _admin(),
}


def app_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app serves (HEAD, which Starlette adds to GET, aside)."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from api.main import create_app

    found = set()
    # FastAPI 0.16x keeps included routers lazy; this walks them as the router matches requests.
    for route in iter_route_contexts(create_app().routes):
        mounted = getattr(route, "route", None)
        if isinstance(mounted, Mount) and isinstance(mounted.app, StaticFiles):
            found.add(("GET", f"{mounted.path}/{{path}}"))  # files only: GET (and HEAD)
            continue
        if route.path is None or not route.methods:
            raise AssertionError(f"a route without a path or methods: {route!r}: teach app_routes about it")
        found.update((method, route.path) for method in route.methods if method != "HEAD")
    return found


def session_routes() -> list[tuple[str, str]]:
    return sorted(key for key, route in ROUTES.items() if route.access is Access.SESSION)


def api_key_routes() -> list[tuple[str, str]]:
    """The routes behind an API key, reads first (so a stranger's own writes never muddy a read check)."""
    keyed = [key for key, route in ROUTES.items() if route.access is Access.API_KEY]
    return sorted(keyed, key=lambda key: (key[0] != "GET", key))
