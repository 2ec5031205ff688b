"""`wepos dsar`, `wepos retention`, `wepos privacy audit` and `wepos privacy rotate-key`: the compliance commands.

Registered on the `wepos` app by api/cli.py; the runtime comes from `cli._runtime` at call time (so tests
can hand in theirs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from api.runtime import Runtime

dsar_app = typer.Typer(help="Data-subject requests: a customer's copy of their data, or its erasure.")
retention_app = typer.Typer(help="Purge conversations older than each business keeps them.")

TenantOption = Annotated[str, typer.Option("--tenant", help="The business's name.")]
PhoneOption = Annotated[
    str, typer.Option("--phone", help="The customer's WhatsApp number, e.g. +44 7700 900123.")
]


def _runtime() -> Runtime:
    from api import cli

    return cli._runtime()


def _business_id(runtime: Runtime, tenant: str) -> int:
    from api import cli

    return cli._business_id(runtime, tenant)


@dsar_app.command("export")
def dsar_export(
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

    runtime = _runtime()
    business_id = _business_id(runtime, tenant)
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
    tenant: TenantOption,
    phone: PhoneOption,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Erase one customer: messages, conversations, vault originals, redaction log, consent, the contact."""
    from compliance.data_rights import erase_contact_data

    if not yes:
        typer.secho("error: erasure cannot be undone; add --yes to confirm", fg="red", err=True)
        raise typer.Exit(1)
    runtime = _runtime()
    record = erase_contact_data(
        runtime.engine, runtime.box, business_id=_business_id(runtime, tenant), phone=phone
    )
    typer.echo(
        f"erased: {record.messages} messages, {record.conversations} conversations, "
        f"{record.vault_entries} vault entries, {record.redaction_events} redaction events, "
        f"{record.consent_records} consent records (erasure record {record.id})"
    )


@retention_app.command("run")
def retention_run() -> None:
    """Purge conversations idle longer than their business's retention days (`tenant configure`)."""
    from compliance.retention import run_retention

    report = run_retention(_runtime().engine)
    for business_id, counts in report.purged.items():
        typer.echo(
            f"business {business_id}: {counts.conversations} conversations, {counts.messages} messages, "
            f"{counts.vault_entries} vault entries, {counts.redaction_events} redaction events purged"
        )
    typer.echo(f"{report.conversations} conversations purged in all")


def privacy_audit(
    as_json: Annotated[bool, typer.Option("--json", help="Findings as JSON (no values, ever).")] = False,
) -> None:
    """Search the database, Chroma's files and the logs for any value held in the vault; exit 1 on a find."""
    from privacy.audit import audit_leaks

    runtime = _runtime()
    settings = runtime.settings
    directories = [settings.log_dir] if settings.chroma_url else [settings.chroma_dir, settings.log_dir]
    findings = audit_leaks(runtime.engine, runtime.box, directories=directories)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"place": f.place, "entity_type": f.entity_type, "vault_entry_id": f.vault_entry_id}
                    for f in findings
                ]
            )
        )
    else:
        for f in findings:
            typer.echo(f"{f.place}\t{f.entity_type}\tvault entry {f.vault_entry_id}")
        typer.echo(f"{len(findings)} leak(s) found" if findings else "no leaks found")
    if findings:
        raise typer.Exit(1)


def privacy_rotate_key(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Re-encrypt every sealed value under a new vault key and recompute the lookup hashes.

    Stop the API and the workers first: a process still holding the old key ring cannot read what is
    sealed under the new key until it restarts with it."""
    from cryptography.fernet import Fernet

    from compliance.key_rotation import rotate_vault_key
    from core.crypto import SecretBox, key_file, load_or_create_keys, write_secret

    runtime = _runtime()
    settings = runtime.settings
    configured = settings.vault_key.get_secret_value() if settings.vault_key else None
    if not yes:
        typer.confirm("re-encrypt every sealed value under a new key (services stopped)?", abort=True)
    old_keys = load_or_create_keys(configured, settings.data_dir)
    new_key = Fernet.generate_key()
    ring = ",".join(k.decode("ascii") for k in [new_key, *old_keys])
    report = rotate_vault_key(runtime.engine, runtime.box, SecretBox([new_key, *old_keys]))
    typer.echo(
        f"{sum(report.resealed.values())} sealed values re-encrypted, {sum(report.rehashed.values())} lookup hashes recomputed"
    )
    if configured:
        typer.secho(
            "set this before starting Wepos again (new key first; the old ones can go once backups made "
            "before now have expired):",
            err=True,
        )
        typer.echo(f"WEPOS_VAULT_KEY={ring}")
    else:
        write_secret(key_file(settings.data_dir), ring)
        typer.echo(f"the new key ring is in {key_file(settings.data_dir)}")


def privacy_policy(
    tenant: TenantOption,
    mask: Annotated[list[str] | None, typer.Option("--mask", help="Also mask this entity type.")] = None,
    keep: Annotated[list[str] | None, typer.Option("--keep", help="Stop masking this entity type.")] = None,
    allow: Annotated[
        list[str] | None, typer.Option("--allow", help="Never mask this word (a product name).")
    ] = None,
    disallow: Annotated[
        list[str] | None, typer.Option("--disallow", help="Take a word off the allow list.")
    ] = None,
    deny: Annotated[
        list[str] | None, typer.Option("--deny", help="TYPE:VALUE to mask always, e.g. PERSON:Ann Other.")
    ] = None,
) -> None:
    """Show a business's masking policy, changing it first when options are given."""
    from core.db import session_scope
    from core.errors import InvalidInput
    from privacy.policy import PolicyChange, change_policy, deny_value, to_public

    runtime = _runtime()
    business_id = _business_id(runtime, tenant)
    with session_scope(runtime.engine) as session:
        change = PolicyChange(mask=mask or [], keep=keep or [], allow=allow or [], disallow=disallow or [])
        if change != PolicyChange():
            change_policy(session, runtime.box, business_id, change)
        for item in deny or []:
            entity_type, sep, value = item.partition(":")
            if not sep:
                raise InvalidInput("--deny takes TYPE:VALUE, e.g. PERSON:Ann Other")
            deny_value(session, runtime.box, business_id, entity_type=entity_type.strip(), value=value)
        typer.echo(json.dumps(to_public(session, runtime.box, business_id).model_dump(), indent=2))
