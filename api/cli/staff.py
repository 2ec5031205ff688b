"""`wepos user` (console users and their roles) and `wepos audit verify` (the audit log's hash chain)."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from api.cli.context import TenantOption, business_id_for, fail, get_runtime

user_app = typer.Typer(help="People who sign in to the console, one role each.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of reveals and admin actions.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Their e-mail address: what they sign in with.")],
    tenant: TenantOption,
    role: Annotated[str, typer.Option(help="agent, compliance or admin.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a console user. Without --password-stdin a strong password is generated and printed once."""
    from core.audit_trail import record_action
    from core.db import session_scope
    from core.staff import Role, create_user

    if role not in {r.value for r in Role}:
        fail("--role must be agent, compliance or admin")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    with session_scope(runtime.engine) as session:
        user = create_user(session, business_id=business_id, email=email, role=Role(role), password=password)
        record_action(
            session,
            business_id=business_id,
            actor="cli",
            action="user.create",
            target=f"user:{user.id}",
            detail={"role": role},
        )
    typer.echo(f"created {user.email} ({role}) for {tenant}")
    if not password_stdin:
        typer.echo(password)
        typer.secho("the password above is shown once: hand it over safely", err=True)


@user_app.command("list")
def user_list(ctx: typer.Context, tenant: TenantOption) -> None:
    """The business's console users, their roles and state."""
    from core.db import session_scope
    from core.staff import list_users, to_public

    runtime = get_runtime(ctx)
    with session_scope(runtime.engine) as session:
        for user in list_users(session, business_id=business_id_for(runtime, tenant)):
            row = to_public(user)
            state = ("active" if row.active else "disabled") + (", locked" if row.locked else "")
            last = f"{row.last_login_at:%Y-%m-%d %H:%M}" if row.last_login_at else "never"
            typer.echo(f"{row.email}\t{row.role.value}\t{state}\tlast sign-in {last}")


def _set_active(ctx: typer.Context, email: str, tenant: str, active: bool) -> None:
    from core.audit_trail import record_action
    from core.db import session_scope
    from core.staff import find_user, set_active

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    with session_scope(runtime.engine) as session:
        user = set_active(session, find_user(session, business_id=business_id, email=email), active)
        action = "user.enable" if active else "user.disable"
        record_action(session, business_id=business_id, actor="cli", action=action, target=f"user:{user.id}")
    typer.echo(f"{'enabled' if active else 'disabled'} {user.email}")


@user_app.command("disable")
def user_disable(ctx: typer.Context, email: str, tenant: TenantOption) -> None:
    """Stop a user signing in; their open sessions end now."""
    _set_active(ctx, email, tenant, False)


@user_app.command("enable")
def user_enable(ctx: typer.Context, email: str, tenant: TenantOption) -> None:
    """Let a disabled (or locked-out) user sign in again."""
    _set_active(ctx, email, tenant, True)


@user_app.command("set-password")
def user_set_password(ctx: typer.Context, email: str, tenant: TenantOption) -> None:
    """Give a user a new password, read from standard input; their open sessions end."""
    from core.audit_trail import record_action
    from core.db import session_scope
    from core.staff import find_user, set_password

    password = sys.stdin.readline().rstrip("\n")
    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    with session_scope(runtime.engine) as session:
        user = find_user(session, business_id=business_id, email=email)
        set_password(session, user, password)
        record_action(
            session, business_id=business_id, actor="cli", action="user.password", target=f"user:{user.id}"
        )
    typer.echo(f"password changed for {user.email}")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="One business; all when omitted.")] = None,
) -> None:
    """Check the audit log's hash chain: exit 1 and say where if any entry was changed, removed or inserted."""
    from sqlmodel import func, select

    from core.audit_trail import AuditEntry, verify_chain
    from core.db import session_scope

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant) if tenant else None
    with session_scope(runtime.engine) as session:
        breaks = verify_chain(session, business_id=business_id)
        query = select(func.count()).select_from(AuditEntry)
        if business_id is not None:
            query = query.where(AuditEntry.business_id == business_id)
        total = session.exec(query).one()
    for item in breaks:
        typer.secho(f"business {item.business_id}, entry {item.seq}: {item.reason}", fg="red", err=True)
    if breaks:
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {total} entries")
