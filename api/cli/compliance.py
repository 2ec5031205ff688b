"""`wepos dsar` and `wepos retention`: a customer's copy of their data or its erasure, and the purge of
conversations kept past their business's days."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.context import TenantOption, business_id_for, fail, get_runtime

dsar_app = typer.Typer(help="Data-subject requests: a customer's copy of their data, or its erasure.")
retention_app = typer.Typer(help="Purge conversations older than each business keeps them.")

PhoneOption = Annotated[
    str, typer.Option("--phone", help="The customer's WhatsApp number, e.g. +44 7700 900123.")
]


@dsar_app.command("export")
def dsar_export(
    ctx: typer.Context,
    tenant: TenantOption,
    phone: PhoneOption,
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON here (mode 0600) instead of stdout.")
    ] = None,
) -> None:
    """Everything held about one customer, as JSON, with their original values restored."""
    import os

    from compliance.data_rights import export_contact_data
    from core.db import session_scope

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    with session_scope(runtime.engine) as session:
        data = export_contact_data(session, runtime.box, business_id=business_id, phone=phone)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    # The file holds personal data: readable by its owner only.
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    messages = sum(len(c["messages"]) for c in data["conversations"])
    typer.echo(f"exported {messages} messages in {len(data['conversations'])} conversations to {out}")


@dsar_app.command("erase")
def dsar_erase(
    ctx: typer.Context,
    tenant: TenantOption,
    phone: PhoneOption,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Erase one customer: messages, conversations, vault originals, redaction log, consent, the contact."""
    from compliance.data_rights import erase_contact_data

    if not yes:
        fail("erasure cannot be undone; add --yes to confirm")
    runtime = get_runtime(ctx)
    record = erase_contact_data(
        runtime.engine, runtime.box, business_id=business_id_for(runtime, tenant), phone=phone
    )
    typer.echo(
        f"erased: {record.messages} messages, {record.conversations} conversations, "
        f"{record.vault_entries} vault entries, {record.redaction_events} redaction events, "
        f"{record.consent_records} consent records (erasure record {record.id})"
    )


@retention_app.command("run")
def retention_run(ctx: typer.Context) -> None:
    """Purge conversations idle longer than their business's retention days (`tenant configure`)."""
    from compliance.retention import run_retention

    report = run_retention(get_runtime(ctx).engine)
    for business_id, counts in report.purged.items():
        typer.echo(
            f"business {business_id}: {counts.conversations} conversations, {counts.messages} messages, "
            f"{counts.vault_entries} vault entries, {counts.redaction_events} redaction events purged"
        )
    typer.echo(f"{report.conversations} conversations purged in all")
