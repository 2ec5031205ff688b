"""`wepos ask` and `wepos chat`: talk to the assistant as a customer would, once or in a conversation."""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Annotated

import typer

from api.cli.context import TenantOption, fail, get_runtime


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, as a customer would write it.")],
    tenant: TenantOption,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Answer a question from a business's knowledge base, showing sources, scores and what was masked."""
    from bot.turn.assistant import question_policy
    from bot.turn.responders import AnswerRequest
    from core.db import session_scope
    from core.tenants import get_business_by_name
    from privacy.masker import unmask_text
    from privacy.vault import VaultScope

    runtime = get_runtime(ctx)
    with session_scope(runtime.engine) as session:
        business = get_business_by_name(session, tenant)
        masked = runtime.masker.preview(
            question,
            policy=question_policy(
                runtime.masker.policy_for(session, business.id or 0), runtime.retriever, business.id or 0
            ),
        )
    passages = runtime.retriever.search(business.id or 0, masked.text)
    answer = runtime.responder.answer(
        AnswerRequest(
            question=masked.text,
            passages=passages,
            business_name=business.display_name,
            min_confidence=runtime.settings.min_confidence,
            answer_confidence=runtime.settings.answer_confidence,
            term_weights=runtime.retriever.term_weights(business.id or 0),
        )
    )
    with session_scope(runtime.engine) as session:
        shown = unmask_text(session, runtime.vault, answer.text, [VaultScope.knowledge(business.id or 0)])
    result = {
        "answer": shown,
        "confident": answer.confident,
        "sources": [
            {"document_id": p.document_id, "title": p.title, "score": round(p.score, 4)} for p in passages
        ],
        "masked_question": masked.text,
        "masked": [
            {"type": s.entity_type, "start": s.start, "end": s.end, "score": round(s.score, 3)}
            for s in masked.spans
        ],
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(result["answer"])
    typer.echo("\nsources:")
    for source in result["sources"]:  # type: ignore[attr-defined]
        typer.echo(f"  {source['score']:.3f}  {source['title']} (document {source['document_id']})")
    if masked.spans:
        typer.echo("masked: " + ", ".join(f"{s.entity_type}@{s.start}-{s.end}" for s in masked.spans))


def chat(
    ctx: typer.Context,
    tenant: TenantOption,
    sender: Annotated[str, typer.Option("--from", help="Your WhatsApp number (digits).")] = "15550001234",
    name: Annotated[str, typer.Option(help="Your WhatsApp profile name.")] = "Demo Customer",
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:8000",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a reply.")] = 30.0,
) -> None:
    """Talk to a running server as a WhatsApp user would: signed webhook payloads in, replies shown.

    Replies are read from the database this machine shares with the server (console mode sends nothing)."""
    import httpx
    from sqlmodel import col, select

    from bot.channel.whatsapp import signed_headers, text_webhook
    from bot.models import Message
    from core.db import session_scope
    from core.tenants import get_business_by_name
    from privacy.masker import unmask_text
    from privacy.vault import VaultScope

    runtime = get_runtime(ctx)
    with session_scope(runtime.engine) as session:
        business = get_business_by_name(session, tenant)
    typer.echo(f"Chatting with {business.display_name} as {name} (+{sender}). Empty line or Ctrl-D to quit.")
    with httpx.Client(base_url=url, timeout=10) as client:
        for line in (
            sys.stdin if not sys.stdin.isatty() else iter(lambda: typer.prompt("you", default=""), "")
        ):
            text = line.strip()
            if not text:
                break
            wa_message_id = f"wamid.cli-{uuid.uuid4().hex}"
            payload = text_webhook(
                phone_number_id=business.phone_number_id,
                sender=sender,
                name=name,
                wa_message_id=wa_message_id,
                text=text,
            )
            body = json.dumps(payload).encode()
            try:
                response = client.post(
                    "/webhooks/whatsapp",
                    content=body,
                    headers=signed_headers(runtime.app_secret, body),
                )
            except httpx.HTTPError as exc:
                fail(f"cannot reach {url} ({type(exc).__name__}); is `wepos serve` running?")
            if response.status_code != 200:
                fail(f"server answered {response.status_code}: {response.text[:200]}")
            deadline = time.monotonic() + timeout
            shown = False
            while time.monotonic() < deadline and not shown:
                time.sleep(0.3)
                with session_scope(runtime.engine) as session:
                    inbound = session.exec(
                        select(Message).where(Message.wa_message_id == wa_message_id)
                    ).first()
                    if inbound is None:
                        continue
                    replies = session.exec(
                        select(Message).where(Message.in_reply_to_id == inbound.id).order_by(col(Message.id))
                    ).all()
                    scopes = [
                        VaultScope.conversation(inbound.conversation_id),
                        VaultScope.knowledge(business.id or 0),
                    ]
                    for reply in replies:
                        text = unmask_text(session, runtime.vault, reply.text_masked or "", scopes)
                        typer.secho(f"{business.display_name}: {text}", fg="green")
                        shown = True
            if not shown:
                typer.secho("(no reply yet; it will still be answered)", fg="yellow")
