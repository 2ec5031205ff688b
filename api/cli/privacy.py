"""`wepos privacy`: the leak audit, the vault key's rotation, a business's masking policy, and what would be
masked in a text."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli.context import TenantOption, business_id_for, get_runtime

privacy_app = typer.Typer(help="Personal-data tools.", no_args_is_help=True)


@privacy_app.command("audit")
def privacy_audit(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Findings as JSON (no values, ever).")] = False,
) -> None:
    """Search the database, Chroma's files and the logs for any value held in the vault; exit 1 on a find."""
    from privacy.audit import audit_leaks

    runtime = get_runtime(ctx)
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


@privacy_app.command("rotate-key")
def privacy_rotate_key(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Re-encrypt every sealed value under a new vault key and recompute the lookup hashes.

    Stop the API and the workers first: a process still holding the old key ring cannot read what is
    sealed under the new key until it restarts with it."""
    from cryptography.fernet import Fernet

    from compliance.key_rotation import rotate_vault_key
    from core.crypto import SecretBox, key_file, load_or_create_keys, write_secret

    runtime = get_runtime(ctx)
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


@privacy_app.command("policy")
def privacy_policy(
    ctx: typer.Context,
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

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
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


@privacy_app.command("mask")
def privacy_mask(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Text to mask.")],
    as_json: Annotated[
        bool, typer.Option("--json", help='{"masked": ..., "entities": [...]}, no raw values.')
    ] = False,
) -> None:
    """Show what Wepos would mask in a text (nothing is stored)."""
    result = get_runtime(ctx).masker.preview(text)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "masked": result.text,
                    "entities": [
                        {"type": s.entity_type, "start": s.start, "end": s.end, "score": round(s.score, 3)}
                        for s in result.spans
                    ],
                }
            )
        )
    else:
        typer.echo(result.text)
