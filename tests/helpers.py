"""Builders shared by tests: signed webhook bodies, and a running Wepos server on loopback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from api.runtime import Runtime
from bot.channel.whatsapp import signed_headers, text_webhook, webhook_envelope
from bot.models import Message
from core.settings import Settings
from testing.graph_api import described_template
from testing.servers import running_server  # noqa: F401  (re-exported for tests)
from tests.conftest import APP_SECRET

# The one HTTP client tests call servers with: a bare `httpx.get` builds a client and its TLS context each time
# (about 25 ms), which the suite's few thousand requests paid for. Thread-safe; closed at the session's end.
HTTP = httpx.Client(timeout=10)

PHONE_NUMBER_ID = "100000000000001"
WABA_ID = "102290129340398"  # the demo business's WhatsApp Business Account, where tests set one
# An approved template with two body variables, as the Graph API lists it.
ORDER_READY = described_template(
    "order_ready",
    "Hello {{1}}, your order {{2}} is ready for collection.",
    extra=[{"type": "FOOTER", "text": "Crumb & Co."}],
)


def text_payload(
    text: str,
    *,
    sender: str = "447700900123",
    name: str = "Maria Lopez",
    wa_message_id: str | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    return text_webhook(
        phone_number_id=phone_number_id,
        sender=sender,
        name=name,
        wa_message_id=wa_message_id or f"wamid.{uuid.uuid4().hex}",
        text=text,
    )


def status_payload(
    wa_message_id: str, status: str, *, phone_number_id: str = PHONE_NUMBER_ID
) -> dict[str, Any]:
    status_row = {
        "id": wa_message_id,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": "447700900123",
    }
    return webhook_envelope(phone_number_id, statuses=[status_row])


def signed(body: bytes | dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, signed_headers(secret.encode(), raw)


def post(url: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    if headers is None:
        body, headers = signed(body)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTP.post(f"{url}/webhooks/whatsapp", content=raw, headers=headers, timeout=10)


class ResponderSlot:
    """A responder handed to a `Runtime` when it is built, answering with the one a test puts in (`use`);
    until then with `default`, the responder the settings would build."""

    def __init__(self, default: Any) -> None:
        self.inner = default

    def use(self, responder: Any) -> None:
        self.inner = responder

    def answer(self, request: Any) -> Any:
        return self.inner.answer(request)


def demo_runtime(settings: Settings, analyzer: Any, embeddings: Any) -> tuple[Runtime, int]:
    """A migrated runtime with the demo bakery (Cloud API mode) and its documents indexed."""
    from core.db import session_scope
    from core.tenants import create_business
    from tests.conftest import EXAMPLES

    runtime = Runtime(settings, analyzer=analyzer, embeddings=embeddings)
    runtime.migrate()
    with session_scope(runtime.engine) as session:
        business = create_business(
            session,
            name="demo-bakery",
            phone_number_id=PHONE_NUMBER_ID,
            box=runtime.box,
            display_name="Crumb & Co. Bakery",
            access_token="EAAtest-token",
        )
    assert business.id is not None
    outcomes = runtime.pipeline.ingest_paths(business.id, sorted(EXAMPLES.iterdir()))
    assert all(o.status.value == "added" for o in outcomes), outcomes
    return runtime, business.id


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; True when it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def settled(runtime: Runtime) -> bool:
    """Nothing is left to do: every inbound message handled (or given up on), no reply waiting or in flight.
    Waiting for this, not a fixed sleep, is how a test knows that nothing more will be sent."""
    from bot.models import InboundStatus, OutboundStatus

    busy = [InboundStatus.RECEIVED, InboundStatus.PROCESSING, OutboundStatus.QUEUED, OutboundStatus.SENDING]
    return not any(m.status in busy for m in stored_messages(runtime))


def wait_settled(runtime: Runtime, timeout: float = 30.0) -> None:
    assert wait_until(lambda: settled(runtime), timeout), "the queue never settled"


def stored_messages(runtime: Runtime) -> list[Message]:
    """Every message row, oldest first."""
    from core.db import session_scope

    with session_scope(runtime.engine) as session:
        return list(session.exec(select(Message).order_by(col(Message.id))).all())


def text_cells(engine: Any) -> list[str]:
    """Every text value of every table, read through SQL (how PostgreSQL is scanned for leaks)."""
    from sqlalchemy import MetaData, String, Text, select

    metadata = MetaData()
    metadata.reflect(engine)
    cells = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if columns:
                for row in connection.execute(select(*columns)):
                    cells.extend(value for value in row if isinstance(value, str))
    return cells


def metric_sample(metrics_text: str, name: str) -> float:
    """The value of one sample (`name` with its labels) in a /metrics page; 0 where it is not there yet."""
    for line in metrics_text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


class ChromaProcess:
    """A real Chroma server (the installed chromadb's `chroma run`) on a loopback port and a folder of its
    own, which a test may stop and start again on the same port and data."""

    def __init__(self, path: Path) -> None:
        import shutil
        import sys

        from testing.servers import free_port

        self.command = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        self.path = path
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def installed(self) -> bool:
        return Path(self.command).exists()

    def start(self, timeout: float = 60) -> None:
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [self.command, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", port],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        if not wait_until(self._up, timeout, interval=0.2):
            self.stop()
            raise RuntimeError("the Chroma server did not start")

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError("the Chroma server exited at start")
        try:
            return HTTP.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(10)


def hand_written_pdf(content: str) -> bytes:
    """A one-page PDF (US Letter, Helvetica as /F1) whose page draws `content`, a PDF content stream written
    by hand: a real text layer with no PDF writer in the product's dependencies."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()
