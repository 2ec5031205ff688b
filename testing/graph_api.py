"""A loopback stand-in for Meta's Graph API: a real HTTP server that records what Wepos sends.

For tests, benchmarks and offline demos; it answers like the Cloud API (message ids, errors on demand).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class GraphStandIn:
    """A real HTTP server on loopback that records what Wepos sends and answers like the Graph API."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.latency_s = latency_s  # how long each request takes to be answered, as Meta's round trip does
        # HTTP statuses, or (status, Graph error code), to answer the next message sends with.
        self.failures: list[int | tuple[int, int]] = []
        # Until this time.monotonic(), every message send is answered 500 (an outage at Meta).
        self.down_until = 0.0
        # Cleared, every request waits for it before it is answered (received, not yet answered: a slow Meta).
        self.gate = threading.Event()
        self.gate.set()
        # Message templates by WhatsApp Business Account id, as `GET /{waba_id}/message_templates` lists them
        # (paged: `limit`, `after`); an id not here is answered as Meta answers an unknown object.
        self.templates: dict[str, list[dict[str, Any]]] = {}
        # HTTP statuses, or (status, Graph error code), to answer the next template listings with.
        self.template_failures: list[int | tuple[int, int]] = []
        self._lock = threading.Condition()
        self._by_recipient: dict[str, list[float]] = {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as Meta's servers allow: HTTP/1.0 would cost every send a new connection. Headers
            # and body go out as two writes, so Nagle's algorithm would hold the body for the client's
            # delayed ACK (40 ms a request).
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stand_in._lock:
                    stand_in.requests.append(
                        {
                            "path": self.path,
                            "auth": self.headers.get("Authorization"),
                            "json": body,
                            "at": time.perf_counter(),
                        }
                    )
                    is_send = body.get("type") in ("text", "interactive")
                    if is_send:
                        stand_in._by_recipient.setdefault(str(body.get("to")), []).append(time.perf_counter())
                        stand_in._lock.notify_all()
                    failure = stand_in.failures.pop(0) if stand_in.failures and is_send else None
                    if is_send and failure is None and time.monotonic() < stand_in.down_until:
                        failure = 500
                    stand_in.requests[-1]["failed"] = bool(failure)
                stand_in.gate.wait()
                if stand_in.latency_s:
                    time.sleep(stand_in.latency_s)
                if failure:
                    status, code = (
                        failure if isinstance(failure, tuple) else (failure, 1 if failure >= 500 else 100)
                    )
                    self._reply(status, {"error": {"message": "refused by the stand-in", "code": code}})
                elif body.get("status") == "read":
                    self._reply(200, {"success": True})
                else:
                    self._reply(
                        200,
                        {
                            "messaging_product": "whatsapp",
                            "contacts": [{"wa_id": body.get("to")}],
                            "messages": [{"id": f"wamid.out-{uuid.uuid4().hex}"}],
                        },
                    )

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                parts = url.path.strip("/").split("/")  # version, WABA id, edge
                query = parse_qs(url.query)
                with stand_in._lock:
                    stand_in.requests.append(
                        {
                            "path": self.path,
                            "method": "GET",
                            "auth": self.headers.get("Authorization"),
                            "json": {},
                            "at": time.perf_counter(),
                        }
                    )
                    failure = stand_in.template_failures.pop(0) if stand_in.template_failures else None
                    listed = stand_in.templates.get(parts[1]) if len(parts) == 3 else None
                stand_in.gate.wait()
                if stand_in.latency_s:
                    time.sleep(stand_in.latency_s)
                if failure:
                    status, code = (
                        failure if isinstance(failure, tuple) else (failure, 1 if failure >= 500 else 100)
                    )
                    self._reply(status, {"error": {"message": "refused by the stand-in", "code": code}})
                elif len(parts) != 3 or parts[2] != "message_templates" or listed is None:
                    self._reply(400, {"error": {"message": "Unsupported get request", "code": 100}})
                else:
                    self._reply(200, _template_page(stand_in.base_url, parts[1], listed, query))

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v23.0"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def sends(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["json"].get("type") in ("text", "interactive")]

    @property
    def template_sends(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["json"].get("type") == "template"]

    @property
    def template_listings(self) -> list[dict[str, Any]]:
        """The `GET .../message_templates` requests, one a page."""
        with self._lock:
            return [
                r for r in self.requests if r.get("method") == "GET" and "/message_templates" in r["path"]
            ]

    @property
    def reads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["json"].get("status") == "read"]

    def count_to(self, wa_id: str) -> int:
        """How many messages were sent to one customer so far."""
        with self._lock:
            return len(self._by_recipient.get(wa_id, []))

    def received(self) -> dict[str, list[float]]:
        """When each recipient's messages arrived (perf_counter seconds), by recipient."""
        with self._lock:
            return {wa_id: list(times) for wa_id, times in self._by_recipient.items()}

    def wait_for_count(self, wa_id: str, count: int, timeout: float) -> bool:
        """Block (without polling) until `count` messages were sent to a customer."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._by_recipient.get(wa_id, [])) >= count, timeout)

    def first_to(self, wa_id: str, index: int) -> float:
        """When the `index`-th message to a customer arrived (perf_counter seconds)."""
        with self._lock:
            return self._by_recipient[wa_id][index]

    @staticmethod
    def body(request: dict[str, Any]) -> str:
        """The words the customer sees, for a text or an interactive message."""
        payload = request["json"]
        if payload.get("type") == "interactive":
            return str(payload["interactive"]["body"]["text"])
        return str(payload["text"]["body"])

    def wait_for_sends(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sends) >= count:
                return self.sends
            time.sleep(0.05)
        return self.sends

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _template_page(
    base_url: str, waba_id: str, listed: list[dict[str, Any]], query: dict[str, list[str]]
) -> dict[str, Any]:
    """One page of a template listing as the Graph API pages it: `data`, cursors, and `next` while more remain."""
    limit = max(1, min(int(query.get("limit", ["25"])[0]), 1000))
    after = query.get("after", ["c0"])[0]
    start = int(after[1:]) if after[:1] == "c" and after[1:].isdigit() else 0
    page = listed[start : start + limit]
    paging: dict[str, Any] = {"cursors": {"before": f"c{start}", "after": f"c{start + len(page)}"}}
    if start + len(page) < len(listed):
        more = urlencode({"limit": limit, "after": f"c{start + len(page)}"})
        paging["next"] = f"{base_url}/{waba_id}/message_templates?{more}"
    return {"data": page, "paging": paging}


def described_template(
    name: str,
    body: str,
    *,
    status: str = "APPROVED",
    language: str = "en_US",
    extra: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A template as `GET /{waba_id}/message_templates` describes it: a body and any `extra` components."""
    return {
        "id": f"id-{name}-{language}",
        "name": name,
        "language": language,
        "status": status,
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": body}, *(extra or [])],
        **fields,
    }
