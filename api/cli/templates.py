"""`wepos templates`: the business's approved WhatsApp message templates, as agents are offered them."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli.context import TenantOption, get_runtime

templates_app = typer.Typer(help="Approved WhatsApp message templates.", no_args_is_help=True)


@templates_app.command("list")
def templates_list(
    ctx: typer.Context,
    tenant: TenantOption,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document, for scripts.")] = False,
) -> None:
    """The approved templates read from the business's WhatsApp Business Account: name, language, body and
    its variables, and whether it can be sent from Wepos."""
    from bot.desk.templates import template_public
    from core.db import session_scope
    from core.tenants import get_business_by_name

    runtime = get_runtime(ctx)
    with session_scope(runtime.engine) as session:
        business = get_business_by_name(session, tenant)
        session.expunge(business)
    listed = [template_public(t) for t in runtime.templates.approved(business)]
    if as_json:
        typer.echo(json.dumps([t.model_dump() for t in listed], indent=2, ensure_ascii=False))
        return
    for t in listed:
        sendable = "sendable" if t.sendable else f"not sendable: {t.unsupported}"
        variables = ",".join(t.variables) or "-"
        typer.echo(f"{t.name}\t{t.language}\t{t.category or '-'}\tvariables {variables}\t{sendable}")
        typer.echo(f"\t{t.body}")
