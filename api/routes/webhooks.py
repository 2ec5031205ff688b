"""The WhatsApp Cloud API webhook: verification (GET) and deliveries (POST)."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from api.deps import RuntimeDep
from bot.channel.whatsapp import SIGNATURE_HEADER, parse_webhook, verify_signature
from core.errors import Forbidden, InvalidInput, PayloadTooLarge
from core.metrics import WEBHOOK_ACK_SECONDS

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class WebhookAck(BaseModel):
    status: str = "ok"
    stored: int
    duplicates: int
    statuses: int
    preferences: int  # consent changes recorded from `user_preferences`
    refused: int = 0  # older than Meta's retries, or an erased customer's message replayed


@router.get("/whatsapp", response_class=PlainTextResponse)
def verify_subscription(
    runtime: RuntimeDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> str:
    """Meta's subscription handshake: echo the challenge when the verify token matches."""
    if (
        mode == "subscribe"
        and token is not None
        and challenge is not None
        and hmac.compare_digest(token.encode(), runtime.verify_token.encode())
    ):
        return challenge
    raise Forbidden("webhook verification failed")


@router.post("/whatsapp", response_model=WebhookAck)
async def receive(request: Request, runtime: RuntimeDep) -> WebhookAck:
    """Verify, store every message and preference, acknowledge at once; the worker answers in the background."""
    started = time.perf_counter()
    limit = runtime.settings.max_webhook_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"webhook body over {limit} bytes")
    try:
        body = await request.body()
    except ClientDisconnect as exc:
        # The sender gave up before the body arrived: nothing was stored, Meta will deliver it again.
        raise InvalidInput("the client disconnected before the body was received") from exc
    if len(body) > limit:
        raise PayloadTooLarge(f"webhook body over {limit} bytes")
    verify_signature(runtime.app_secret, body, request.headers.get(SIGNATURE_HEADER))
    batch = parse_webhook(body)
    result = await run_in_threadpool(runtime.intake.accept, batch)
    if result.stored and request.app.state.run_worker:
        # Only a process that runs the worker thread wakes it; an API-only process must never build it
        # (that would load every model inside a request). Separate workers poll the queue.
        runtime.worker.notify()
    WEBHOOK_ACK_SECONDS.observe(time.perf_counter() - started)
    log.info(
        "webhook acknowledged",
        extra={
            "stored": len(result.stored),
            "duplicates": result.duplicates,
            "statuses": result.statuses,
            "preferences": result.preferences,
            "unknown_number": result.unknown_number,
            "refused": result.refused,
            "skipped": batch.skipped,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return WebhookAck(
        stored=len(result.stored),
        duplicates=result.duplicates,
        statuses=result.statuses,
        preferences=result.preferences,
        refused=result.refused,
    )
