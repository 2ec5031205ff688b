"""`wepos conversation`: conversations handed to people, a person's reply, and the hand-back to the bot."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.context import TenantOption, get_runtime

conversation_app = typer.Typer(help="Conversations handed to people.", no_args_is_help=True)


@conversation_app.command("list")
def conversation_list(
    ctx: typer.Context,
    tenant: TenantOption,
    waiting: Annotated[bool, typer.Option("--waiting", help="Only those waiting for a person.")] = False,
) -> None:
    """List conversations (ids, status, why they were handed over)."""
    from bot.desk.conversations import list_conversations
    from core.db import session_scope
    from core.tenants import get_business_by_name

    with session_scope(get_runtime(ctx).engine) as session:
        business = get_business_by_name(session, tenant)
        for item in list_conversations(session, business_id=business.id or 0, waiting_only=waiting):
            typer.echo(
                f"{item.id}\t{item.status}\t{item.handoff_reason or '-'}\t{item.last_inbound_at or '-'}"
            )


@conversation_app.command("reply")
def conversation_reply(
    ctx: typer.Context,
    conversation_id: Annotated[int, typer.Argument(help="The conversation's id.")],
    tenant: TenantOption,
    text: Annotated[
        str | None, typer.Option(help="Free text (only within 24 h of the customer's last message).")
    ] = None,
    template: Annotated[
        str | None, typer.Option(help="An approved template's name (allowed at any time).")
    ] = None,
    language: Annotated[str, typer.Option(help="The template's language code.")] = "en_US",
    value: Annotated[
        list[str] | None,
        typer.Option(
            "--value", help="A value for the template's next variable ({{1}}, {{2}} ...; repeatable)."
        ),
    ] = None,
) -> None:
    """Reply as a person; the server's worker sends it (masked at rest, restored when sent)."""
    from bot.desk.conversations import queue_agent_reply, queue_template_reply
    from core.db import session_scope
    from core.errors import InvalidInput
    from core.tenants import get_business_by_name

    if (text is None) == (template is None):
        raise InvalidInput("give either --text or --template")
    runtime = get_runtime(ctx)
    found = None
    if template is not None:
        with session_scope(runtime.engine) as session:
            business = get_business_by_name(session, tenant)
            session.expunge(business)
        found = runtime.templates.find(business, template, language)
    with session_scope(runtime.engine) as session:
        business = get_business_by_name(session, tenant)
        if found is not None:
            message = queue_template_reply(
                session,
                business_id=business.id or 0,
                conversation_id=conversation_id,
                template=found,
                values=value or [],
                masker=runtime.masker,
            )
        else:
            message = queue_agent_reply(
                session,
                business_id=business.id or 0,
                conversation_id=conversation_id,
                text=text or "",
                masker=runtime.masker,
            )
        typer.echo(f"reply {message.id} queued")


@conversation_app.command("handback")
def conversation_handback(
    ctx: typer.Context,
    conversation_id: Annotated[int, typer.Argument(help="The conversation's id.")],
    tenant: TenantOption,
) -> None:
    """Give a conversation back to the bot after a person has dealt with it."""
    from bot.desk.conversations import hand_back_to_bot
    from core.db import session_scope
    from core.tenants import get_business_by_name

    with session_scope(get_runtime(ctx).engine) as session:
        business = get_business_by_name(session, tenant)
        hand_back_to_bot(session, business_id=business.id or 0, conversation_id=conversation_id)
    typer.echo(f"conversation {conversation_id} is back with the bot")
