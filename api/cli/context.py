"""What the `wepos` commands share: the runtime they work on, the `--tenant` option and the business it
names, and the error exit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from core.errors import WeposError

if TYPE_CHECKING:
    from api.runtime import Runtime

TenantOption = Annotated[str, typer.Option("--tenant", help="The business's name.")]


def get_runtime(ctx: typer.Context, *, schema: bool = True) -> Runtime:
    """The parts the command works on: the runtime handed in as the context's `obj` (a test's:
    `CliRunner().invoke(app, args, obj=runtime)`), else one built from the settings and closed when the
    command ends.

    A built one is over a database at the newest schema (`schema=False`: as it is). The embedded SQLite
    default migrates itself, as `make run` does; another database is left to the operator's `wepos migrate`,
    and a command on an old one stops saying so."""
    # Built here, on the command's first use, not in a root callback: that runs before every command,
    # `--help` and `serve` included, which need no runtime.
    root = ctx.find_root()
    if root.obj is None:
        root.obj = _build_runtime(schema=schema)
        root.call_on_close(root.obj.close)
    runtime: Runtime = root.obj
    return runtime


def _build_runtime(*, schema: bool) -> Runtime:
    from api.runtime import Runtime
    from core import migrate as migrations
    from core.logs import configure_logging
    from core.settings import load_settings

    settings = load_settings()
    configure_logging("WARNING", settings.log_dir)
    runtime = Runtime(settings)
    if schema:
        try:
            migrations.ensure_current(runtime.engine)
        except WeposError:
            if settings.database_url is not None:
                raise
            runtime.migrate()
    return runtime


def business_id_for(runtime: Runtime, tenant: str) -> int:
    """The id of the business named `tenant` (NotFound when there is none)."""
    from core.db import session_scope
    from core.tenants import get_business_by_name

    with session_scope(runtime.engine) as session:
        business_id = get_business_by_name(session, tenant).id
    assert business_id is not None
    return business_id


def fail(message: str) -> NoReturn:
    """Say what went wrong on stderr, in red, and exit 1."""
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(1)
