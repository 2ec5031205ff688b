"""Who may call each route of the app. Every route must be declared here: a new route fails the suite until
it is, so its authorisation and its tenant isolation are decided, not inherited by accident.

- `PUBLIC`: anyone. Liveness and readiness carry no data. `/metrics` is public too: Prometheus scrapers
  rarely carry credentials, and the series are counts and latencies only (no ids, no text, no tenant
  names); restrict it at the network (bind, proxy or firewall), as docs/deploy.md says for the whole port.
  FastAPI's `/openapi.json` and `/docs` describe the API and hold no data.
- `VERIFY_TOKEN`: Meta's subscription handshake; the verify token in the query is the credential.
- `SIGNATURE`: Meta's deliveries, checked against `X-Hub-Signature-256` before the body is parsed.
- `API_KEY`: a business's API key; the route sees that business's data only.

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


def _empty_list(body: Any) -> bool:
    return body == []


def _own_passages_only(body: Any) -> bool:
    passages = body.get("passages") if isinstance(body, dict) else None
    return isinstance(passages, list) and all(p["source_name"] == STRANGER_FILE for p in passages)


def _no_redactions(body: Any) -> bool:
    return isinstance(body, dict) and body.get("items") == [] and body.get("total") == 0


def _default_policy(body: Any) -> bool:
    return isinstance(body, dict) and body.get("allow_list") == [] and body.get("deny_list") == []


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


NOT_YOURS = frozenset({403, 404})

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
    ("POST", "/v1/compliance/missed"): Route(
        Access.API_KEY, json={"entity_type": "PERSON", "value": "Bartholomew"}
    ),
}


def app_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app serves (HEAD, which Starlette adds to GET, aside)."""
    from fastapi.routing import iter_route_contexts

    from api.main import create_app

    found = set()
    # FastAPI 0.16x keeps included routers lazy; this walks them as the router matches requests.
    for route in iter_route_contexts(create_app().routes):
        if route.path is None or not route.methods:
            raise AssertionError(f"a route without a path or methods: {route!r}: teach app_routes about it")
        found.update((method, route.path) for method in route.methods if method != "HEAD")
    return found


def api_key_routes() -> list[tuple[str, str]]:
    """The routes behind an API key, reads first (so a stranger's own writes never muddy a read check)."""
    keyed = [key for key, route in ROUTES.items() if route.access is Access.API_KEY]
    return sorted(keyed, key=lambda key: (key[0] != "GET", key))
