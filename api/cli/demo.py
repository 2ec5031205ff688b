"""`wepos demo`: the demo business, its knowledge base and one console user a role."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from api.cli.context import get_runtime
from api.cli.knowledge import ingest_files

if TYPE_CHECKING:
    from api.runtime import Runtime

DEMO_TENANT = "demo-bakery"
DEMO_PHONE_NUMBER_ID = "100000000000001"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "demo-bakery"


def demo(ctx: typer.Context) -> None:
    """Create the demo business (console mode) with its knowledge base, if missing."""
    from sqlmodel import select

    from bot.desk.conversations import configure_policy
    from core.db import session_scope
    from core.tenants import Business, create_business

    runtime = get_runtime(ctx)
    runtime.migrate()
    with session_scope(runtime.engine) as session:
        if not session.exec(select(Business).where(Business.name == DEMO_TENANT)).first():
            business = create_business(
                session,
                name=DEMO_TENANT,
                phone_number_id=DEMO_PHONE_NUMBER_ID,
                box=runtime.box,
                display_name="Crumb & Co. Bakery",
            )
            # The demo shows the first-contact privacy notice (`--no-privacy-notice` turns it off).
            configure_policy(
                session,
                business_id=business.id or 0,
                privacy_notice_enabled=True,
                compliance_contact="privacy@crumb.example",
            )
    ingest_files(runtime, DEMO_TENANT, [EXAMPLES_DIR])
    typer.echo(f"demo tenant {DEMO_TENANT} is ready (phone number id {DEMO_PHONE_NUMBER_ID})")
    _demo_users(runtime)


def _demo_users(runtime: Runtime) -> None:
    """One console user a role for the demo business, passwords generated and printed once (never stored
    in clear): the newcomer can sign in to /console/ straight away."""
    import secrets

    from sqlmodel import select

    from core.db import session_scope
    from core.staff import Role, StaffUser, create_user
    from core.tenants import get_business_by_name

    with session_scope(runtime.engine) as session:
        business_id = get_business_by_name(session, DEMO_TENANT).id or 0
        for role in Role:
            email = f"{role.value}@{DEMO_TENANT}.example"
            taken = select(StaffUser).where(StaffUser.business_id == business_id, StaffUser.email == email)
            if session.exec(taken).first() is None:
                password = secrets.token_urlsafe(12)
                create_user(session, business_id=business_id, email=email, role=role, password=password)
                typer.echo(f"console user {email} ({role.value}), password (shown once): {password}")
