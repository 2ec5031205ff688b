"""`wepos ingest` and `wepos knowledge`: a business's knowledge documents in, listed, switched off, removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.context import TenantOption, business_id_for, get_runtime
from core.errors import WeposError

if TYPE_CHECKING:
    from api.runtime import Runtime

knowledge_app = typer.Typer(help="A business's knowledge documents.", no_args_is_help=True)


def _expand(paths: list[Path]) -> list[Path]:
    from ingest.loaders import LOADERS

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LOADERS))
        else:
            files.append(path)
    return files


def ingest_files(runtime: Runtime, tenant: str, paths: list[Path], *, quiet: bool = False) -> int:
    """Ingest the files and folders into the business's knowledge base, a line a file; the failures."""
    from rich.progress import Progress

    from ingest.pipeline import IngestStatus

    business_id = business_id_for(runtime, tenant)
    files = _expand(paths)
    failures = 0
    with Progress(transient=True, disable=quiet) as progress:
        task = progress.add_task("ingesting", total=len(files))
        _ = runtime.pipeline  # load the engines before the bar starts moving

        def report(outcome: object) -> None:
            nonlocal failures
            progress.advance(task)
            status = outcome.status  # type: ignore[attr-defined]
            if status is IngestStatus.FAILED:
                failures += 1
                progress.console.print(f"[red]failed[/red]    {outcome.error}")  # type: ignore[attr-defined]
            else:
                progress.console.print(
                    f"{status.value:<10} {outcome.source_name}: {outcome.chunks} chunks"  # type: ignore[attr-defined]
                )

        runtime.pipeline.ingest_paths(business_id, files, on_progress=report)
    return failures


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (.md .txt .html .csv .xlsx .pdf .docx).")
    ],
    tenant: TenantOption,
) -> None:
    """Load, mask, embed and index knowledge documents. Unchanged files are skipped."""
    failures = ingest_files(get_runtime(ctx), tenant, paths)
    if failures:
        raise typer.Exit(1)


@knowledge_app.command("list")
def knowledge_list(
    ctx: typer.Context, tenant: TenantOption, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Documents with their status, chunk count and whether they are retrieved."""
    runtime = get_runtime(ctx)
    documents = runtime.knowledge.list_documents(business_id_for(runtime, tenant))
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in documents], indent=2))
        return
    for d in documents:
        state = "enabled" if d.enabled else "disabled"
        typer.echo(f"{d.id}\t{d.status}\t{state}\t{d.chunk_count} chunks\t{d.source_name}")
        if d.error:
            typer.echo(f"\t{d.error}")


@knowledge_app.command("show")
def knowledge_show(ctx: typer.Context, document_id: int, tenant: TenantOption) -> None:
    """One document, as JSON."""
    runtime = get_runtime(ctx)
    document = runtime.knowledge.get_document(business_id_for(runtime, tenant), document_id)
    typer.echo(json.dumps(document.model_dump(mode="json"), indent=2))


@knowledge_app.command("disable")
def knowledge_disable(ctx: typer.Context, document_id: int, tenant: TenantOption) -> None:
    """Keep the document but never retrieve it."""
    runtime = get_runtime(ctx)
    runtime.knowledge.set_enabled(business_id_for(runtime, tenant), document_id, False)
    typer.echo(f"document {document_id} disabled")


@knowledge_app.command("enable")
def knowledge_enable(ctx: typer.Context, document_id: int, tenant: TenantOption) -> None:
    """Retrieve a disabled document again."""
    runtime = get_runtime(ctx)
    runtime.knowledge.set_enabled(business_id_for(runtime, tenant), document_id, True)
    typer.echo(f"document {document_id} enabled")


@knowledge_app.command("delete")
def knowledge_delete(
    ctx: typer.Context,
    document_id: int,
    tenant: TenantOption,
    yes: Annotated[bool, typer.Option("--yes")] = False,
) -> None:
    """Remove a document and its chunks from the index."""
    if not yes:
        typer.confirm(f"delete document {document_id} and its chunks?", abort=True)
    runtime = get_runtime(ctx)
    removed = runtime.knowledge.delete_document(business_id_for(runtime, tenant), document_id)
    typer.echo(f"document {document_id} deleted ({removed} chunks removed from the index)")


@knowledge_app.command("reindex")
def knowledge_reindex(
    ctx: typer.Context,
    tenant: TenantOption,
    document_id: Annotated[int | None, typer.Argument(help="One document; all when omitted.")] = None,
) -> None:
    """Embed stored chunks again into the vector store (after a model change or a vector-store restore)."""
    from rich.progress import Progress

    runtime = get_runtime(ctx)
    business_id = business_id_for(runtime, tenant)
    ids = [document_id] if document_id is not None else runtime.knowledge.document_ids(business_id)
    failures = 0
    with Progress(transient=True) as progress:
        task = progress.add_task("re-indexing", total=len(ids))
        for one in ids:
            try:
                chunks = runtime.knowledge.reindex_document(business_id, one)
                progress.console.print(f"reindexed  document {one}: {chunks} chunks")
            except WeposError as exc:
                failures += 1
                progress.console.print(f"[red]failed[/red]     document {one}: {exc.message}")
            progress.advance(task)
    if failures:
        raise typer.Exit(1)
