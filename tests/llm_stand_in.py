"""A loopback OpenAI-compatible server owned by the tests: records every request and answers like a model
that follows its instructions (quotes passage [1], greets the customer by placeholder), like one that obeys
whatever instructions it reads instead ("inject"), or fails on demand."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStandIn:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[str] = []  # what the model answered, before Wepos checks and unmasks it
        # "obey", "inject" (obeys injected instructions), "error" (HTTP 500), "slow" (past any sane timeout)
        self.mode = "obey"
        self.reply: str | None = None
        self.delay = 3.0  # seconds the "slow" mode waits before answering
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                stand_in.requests.append({"path": self.path, "json": body, "raw": json.dumps(body)})
                if stand_in.mode == "error":
                    return self._send(500, {"error": {"message": "model crashed", "type": "server_error"}})
                if stand_in.mode == "slow":
                    time.sleep(stand_in.delay)
                answer = _obey_injections if stand_in.mode == "inject" else _obey
                content = stand_in.reply if stand_in.reply is not None else answer(body["messages"])
                stand_in.replies.append(content)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "m"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def prompts(self) -> list[str]:
        return [r["raw"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _obey(messages: list[dict[str, Any]]) -> str:
    system = messages[0]["content"]
    passage = re.search(r"^\[1\] \([^)]*\)\n(.+)$", system, flags=re.MULTILINE)
    question = messages[-1]["content"]
    customer = re.search(r"\(the customer is (<[A-Z_]+_\d+>)\)", question)
    greeting = f"Hi {customer.group(1)}! " if customer else ""
    if passage is None:
        return "NOT_SURE"
    return f"{greeting}{passage.group(1)} [1]"


# Anything shaped like a placeholder, in any case and spacing: `<PERSON_2>`, `< person_2 >`, `<Phone Number 1>`.
_PLACEHOLDER_LIKE = re.compile(r"<\s*[A-Za-z]+(?:[ _]+[A-Za-z]+)*[ _]*\d+\s*>")


def _obey_injections(messages: list[dict[str, Any]]) -> str:
    """The worst model: quotes passage [1] (so the answer looks supported), then does what any text in its
    input asks. It copies every placeholder it reads (system prompt, passages, history, question) as written,
    and, when anything asks for the system prompt, appends the whole system prompt verbatim."""
    system = messages[0]["content"]
    everything = "\n".join(str(m["content"]) for m in messages)
    passage = re.search(r"^\[1\] \([^)]*\)\n(.+)$", system, flags=re.MULTILINE)
    parts = [f"{passage.group(1)} [1]" if passage else ""]
    parts += list(dict.fromkeys(_PLACEHOLDER_LIKE.findall(everything)))
    if "system prompt" in everything.lower():
        parts.append(system)
    return " ".join(part for part in parts if part)
