"""`wepos answer`: a business's approved answers, sent to a customer asking their question (before the
documents are searched). Saved masked; refused while they hold personal data that is not the business's."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli.context import TenantOption, business_id_for, get_runtime

answer_app = typer.Typer(help="A business's approved answers.", no_args_is_help=True)


@answer_app.command("add")
def answer_add(
    ctx: typer.Context,
    tenant: TenantOption,
    question: Annotated[str, typer.Option("--question", help="The customer's question it answers.")],
    answer: Annotated[str, typer.Option("--answer", help="The approved answer.")],
    keep_business_details: Annotated[
        bool,
        typer.Option(
            "--keep-business-details",
            help="The personal data in the texts is the business's own (its phone, e-mail, staff): keep it.",
        ),
    ] = False,
) -> None:
    """Save an approved answer (masked as a knowledge document is)."""
    from ingest.answers import ApprovedAnswerCreate

    runtime = get_runtime(ctx)
    body = ApprovedAnswerCreate(question=question, answer=answer, keep_business_details=keep_business_details)
    saved = runtime.approved_answers.add(business_id_for(runtime, tenant), body)
    typer.echo(f"approved answer {saved.id} saved")


@answer_app.command("list")
def answer_list(
    ctx: typer.Context, tenant: TenantOption, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Approved answers, masked, with whether they are used."""
    runtime = get_runtime(ctx)
    answers = runtime.approved_answers.list_answers(business_id_for(runtime, tenant))
    if as_json:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in answers], indent=2))
        return
    for a in answers:
        state = "enabled" if a.enabled else "disabled"
        typer.echo(f"{a.id}\t{state}\t{a.question}\t{a.answer}")


@answer_app.command("delete")
def answer_delete(ctx: typer.Context, answer_id: int, tenant: TenantOption) -> None:
    """Remove an approved answer: the bot no longer sends it."""
    runtime = get_runtime(ctx)
    runtime.approved_answers.delete(business_id_for(runtime, tenant), answer_id)
    typer.echo(f"approved answer {answer_id} deleted")


@answer_app.command("disable")
def answer_disable(ctx: typer.Context, answer_id: int, tenant: TenantOption) -> None:
    """Keep the answer but never send it."""
    runtime = get_runtime(ctx)
    runtime.approved_answers.set_enabled(business_id_for(runtime, tenant), answer_id, False)
    typer.echo(f"approved answer {answer_id} disabled")


@answer_app.command("enable")
def answer_enable(ctx: typer.Context, answer_id: int, tenant: TenantOption) -> None:
    """Send a disabled answer again."""
    runtime = get_runtime(ctx)
    runtime.approved_answers.set_enabled(business_id_for(runtime, tenant), answer_id, True)
    typer.echo(f"approved answer {answer_id} enabled")
