"""`wepos apikey`: the keys a business's systems call the HTTP API (/v1/...) with."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.context import TenantOption, business_id_for, get_runtime

apikey_app = typer.Typer(help="API keys for the HTTP API (/v1/...).", no_args_is_help=True)


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context,
    tenant: TenantOption,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "default",
) -> None:
    """Issue an API key. It is printed once and never stored: keep it somewhere safe."""
    from core.api_keys import issue_api_key
    from core.db import session_scope

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    with session_scope(runtime.engine) as session:
        issued = issue_api_key(session, business_id=business_id, name=name)
    typer.echo(issued.secret)
    typer.secho("shown once: store it now (send it as `Authorization: Bearer <key>`)", err=True)


@apikey_app.command("list")
def apikey_list(ctx: typer.Context, tenant: TenantOption) -> None:
    """Keys of a business (never the secrets)."""
    from core.api_keys import list_api_keys
    from core.db import session_scope

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    with session_scope(runtime.engine) as session:
        for key in list_api_keys(session, business_id):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(f"{key.lookup_id}\t{key.name}\t{state}\tcreated {key.created_at:%Y-%m-%d}")


@apikey_app.command("revoke")
def apikey_revoke(
    ctx: typer.Context,
    lookup_id: Annotated[str, typer.Argument(help="The key's id (from `list`).")],
    tenant: TenantOption,
) -> None:
    """Revoke a key at once."""
    from core.api_keys import revoke_api_key
    from core.db import session_scope

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    with session_scope(runtime.engine) as session:
        revoke_api_key(session, business_id=business_id, lookup_id=lookup_id)
    typer.echo(f"key {lookup_id} revoked")
