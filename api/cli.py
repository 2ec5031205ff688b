"""The `wepos` command: another face over the same services as the HTTP app."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.exc import OperationalError

from api.compliance_cli import dsar_app, privacy_audit, privacy_policy, privacy_rotate_key, retention_app
from api.staff_cli import audit_app, user_app
from core.errors import WeposError

if TYPE_CHECKING:
    from api.runtime import Runtime

app = typer.Typer(
    help="Wepos: a privacy-first WhatsApp Business assistant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
tenant_app = typer.Typer(help="Manage businesses (tenants).", no_args_is_help=True)
privacy_app = typer.Typer(help="Personal-data tools.", no_args_is_help=True)
conversation_app = typer.Typer(help="Conversations handed to people.", no_args_is_help=True)
knowledge_app = typer.Typer(help="A business's knowledge documents.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for the HTTP API (/v1/...).", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(apikey_app, name="apikey")
app.add_typer(conversation_app, name="conversation")
app.add_typer(privacy_app, name="privacy")
app.add_typer(dsar_app, name="dsar")
app.add_typer(retention_app, name="retention")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
privacy_app.command("audit")(privacy_audit)
privacy_app.command("rotate-key")(privacy_rotate_key)
privacy_app.command("policy")(privacy_policy)

DEMO_TENANT = "demo-bakery"
DEMO_PHONE_NUMBER_ID = "100000000000001"
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples" / "demo-bakery"


def _runtime(*, schema: bool = True) -> Runtime:
    """The parts a command uses, over a database at the newest schema (`schema=False`: as it is).

    The embedded SQLite default migrates itself, as `make run` does; another database is left to the
    operator's `wepos migrate`, and a command on an old one stops saying so."""
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


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default WEPOS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default WEPOS_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes to start (default 1); 0 answers in a thread of this process.",
            min=0,
            max=64,
        ),
    ] = None,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker", help="Answer messages here (--no-worker: separate `wepos worker`s)."
        ),
    ] = True,
) -> None:
    """Run the HTTP server (webhooks, health checks) and the turn worker(s)."""
    import signal

    import uvicorn

    from api.main import create_app
    from api.supervisor import Supervisor
    from bot.channel.outbox import claim_owner
    from bot.channel.worker import release_claims_of
    from core.settings import load_settings
    from retrieval.local_store import LocalChromaServer

    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    typer.echo(
        f"Wepos is starting on http://{host}:{port} (data in {settings.data_dir.resolve()}).\n"
        f"  Webhook for Meta:  http://{host}:{port}/webhooks/whatsapp\n"
        f"  Talk to the demo:  .venv/bin/wepos chat --tenant {DEMO_TENANT}   (in another terminal)\n"
        f'  Ask without chat:  .venv/bin/wepos ask --tenant {DEMO_TENANT} "When are you open?"'
    )
    if workers is None:
        # One worker process by default: a turn is CPU work that, in a thread, holds the GIL the webhook
        # acknowledgements wait on (ack p99 ~300 ms against ~40 ms at 100 webhooks/s, benchmarks/load.py).
        workers = 1 if worker else 0
    # uvicorn re-raises a SIGTERM once it has shut down; under the default action that would kill this
    # process before `finally` stops the workers, leaving them orphaned. Leave through `finally` instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    # The embedded Chroma directory gets one owner: a server child of this process that the API, the
    # workers and any `wepos` command reach over loopback (retrieval.local_store).
    store = None if settings.chroma_url else LocalChromaServer(settings.chroma_dir)
    web = create_app(run_worker=worker and not workers)

    def requeue_claims_of(pid: int) -> None:
        # A killed worker's turn in flight goes back in the queue now, not after the lease (bot.channel.worker).
        runtime = getattr(web.state, "runtime", None)
        if runtime is not None:
            release_claims_of(runtime.engine, claim_owner(pid))

    supervisor = Supervisor(workers, store=store, on_death=requeue_claims_of)
    try:
        if store is not None:
            store.start()
        supervisor.start()
        uvicorn.run(
            web,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,  # a log line per webhook is time on the acknowledgement path
        )
    finally:
        supervisor.stop()  # each worker finishes its turn in flight first
        if store is not None:
            store.stop()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command("worker")
def worker_process() -> None:
    """Answer stored messages and send replies, without HTTP (run several beside `wepos serve --no-worker`)."""
    import signal

    from api.runtime import Runtime
    from core import migrate as migrations
    from core.logs import configure_logging
    from core.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_dir)
    runtime = Runtime(settings)
    migrations.ensure_current(runtime.engine)
    turn_worker = runtime.worker
    runtime.masker.detector.detect("warm up")
    runtime.embeddings.embed_query("warm up")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: turn_worker.request_stop())
    # Knowledge uploads are processed here, beside the turns: never in the API process that acknowledges.
    runtime.ingest_jobs.start()
    typer.echo(f"wepos worker {os.getpid()} ready")
    turn_worker.run_forever()
    runtime.close()
    typer.echo(f"wepos worker {os.getpid()} stopped")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    _runtime(schema=False).migrate()
    typer.echo("database is at the newest schema")


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Argument(help="Slug, e.g. acme-shop.")],
    phone_number_id: Annotated[str, typer.Option("--phone-number-id", help="The Cloud API phone_number_id.")],
    access_token: Annotated[
        str | None, typer.Option(help="Cloud API bearer token; omit for console mode.")
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in replies.")] = None,
    privacy_notice: Annotated[
        bool,
        typer.Option(
            "--privacy-notice/--no-privacy-notice",
            help="Send each new customer the privacy notice once, before the first answer (on by default).",
        ),
    ] = True,
) -> None:
    """Register a business and its WhatsApp number."""
    from bot.desk.conversations import configure_policy
    from core.db import session_scope
    from core.tenants import create_business

    runtime = _runtime()
    with session_scope(runtime.engine) as session:
        business = create_business(
            session,
            name=name,
            phone_number_id=phone_number_id,
            box=runtime.box,
            display_name=display_name,
            access_token=access_token,
        )
        configure_policy(session, business_id=business.id or 0, privacy_notice_enabled=privacy_notice)
        mode = "Cloud API" if access_token else "console mode (no access token)"
        notice = "privacy notice on" if privacy_notice else "privacy notice off"
        typer.echo(f"tenant {business.name} (id {business.id}) created, {mode}, {notice}")


@tenant_app.command("list")
def tenant_list() -> None:
    """List businesses."""
    from sqlmodel import col, select

    from core.db import session_scope
    from core.tenants import Business

    with session_scope(_runtime().engine) as session:
        for business in session.exec(select(Business).order_by(col(Business.id))).all():
            mode = "cloud-api" if business.access_token_sealed else "console"
            typer.echo(f"{business.id}\t{business.name}\t{business.phone_number_id}\t{mode}")


@tenant_app.command("configure")
def tenant_configure(
    name: Annotated[str, typer.Argument(help="The business's name.")],
    instructions: Annotated[
        str | None, typer.Option(help="Tone, language, topics: told to the language model.")
    ] = None,
    hours: Annotated[
        str | None, typer.Option(help="Staffed hours, e.g. 'mon-fri 09:00-17:00, sat 10:00-14:00'.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the hours, e.g. Europe/London.")
    ] = None,
    escalation_keyword: Annotated[
        list[str] | None, typer.Option(help="Extra phrase meaning 'a person, please' (repeatable).")
    ] = None,
    refuse_topic: Annotated[
        list[str] | None, typer.Option(help="Topic always handed to a person (repeatable).")
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Purge conversations idle longer than this (`wepos retention run`).")
    ] = None,
    privacy_notice: Annotated[
        bool | None,
        typer.Option(
            "--privacy-notice/--no-privacy-notice", help="Tell each new contact the privacy notice once."
        ),
    ] = None,
    notice_text: Annotated[
        str | None,
        typer.Option(
            help="The notice's own text ({business}, {contact}, {days} filled in); '' for the default."
        ),
    ] = None,
    compliance_contact: Annotated[
        str | None, typer.Option(help="Where customers reach the compliance officer (e-mail or phone).")
    ] = None,
) -> None:
    """Set how the assistant behaves for a business."""
    from bot.desk.conversations import configure_policy
    from core.db import session_scope
    from core.tenants import get_business_by_name

    with session_scope(_runtime().engine) as session:
        business = get_business_by_name(session, name)
        policy = configure_policy(
            session,
            business_id=business.id or 0,
            instructions=instructions,
            hours_spec=hours,
            timezone=timezone,
            escalation_keywords=escalation_keyword,
            refuse_topics=refuse_topic,
            retention_days=retention_days,
            privacy_notice_enabled=privacy_notice,
            privacy_notice=notice_text,
            compliance_contact=compliance_contact,
        )
        typer.echo(
            f"{name}: hours {policy.business_hours} ({policy.timezone}), "
            f"escalation keywords {policy.escalation_keywords}, refused topics {policy.refuse_topics}, "
            f"retention {policy.retention_days} days, "
            f"privacy notice {'on' if policy.privacy_notice_enabled else 'off'}"
        )


@conversation_app.command("list")
def conversation_list(
    tenant: Annotated[str, typer.Option(help="The business's name.")],
    waiting: Annotated[bool, typer.Option("--waiting", help="Only those waiting for a person.")] = False,
) -> None:
    """List conversations (ids, status, why they were handed over)."""
    from bot.desk.conversations import list_conversations
    from core.db import session_scope
    from core.tenants import get_business_by_name

    with session_scope(_runtime().engine) as session:
        business = get_business_by_name(session, tenant)
        for item in list_conversations(session, business_id=business.id or 0, waiting_only=waiting):
            typer.echo(
                f"{item.id}\t{item.status}\t{item.handoff_reason or '-'}\t{item.last_inbound_at or '-'}"
            )


@conversation_app.command("reply")
def conversation_reply(
    conversation_id: Annotated[int, typer.Argument(help="The conversation's id.")],
    tenant: Annotated[str, typer.Option(help="The business's name.")],
    text: Annotated[
        str | None, typer.Option(help="Free text (only within 24 h of the customer's last message).")
    ] = None,
    template: Annotated[
        str | None, typer.Option(help="An approved template's name (allowed at any time).")
    ] = None,
    language: Annotated[str, typer.Option(help="The template's language code.")] = "en_US",
) -> None:
    """Reply as a person; the server's worker sends it (masked at rest, restored when sent)."""
    from bot.desk.conversations import queue_agent_reply
    from core.db import session_scope
    from core.tenants import get_business_by_name

    runtime = _runtime()
    with session_scope(runtime.engine) as session:
        business = get_business_by_name(session, tenant)
        message = queue_agent_reply(
            session,
            business_id=business.id or 0,
            conversation_id=conversation_id,
            text=text,
            template=(template, language) if template else None,
            masker=runtime.masker,
        )
        typer.echo(f"reply {message.id} queued")


@conversation_app.command("handback")
def conversation_handback(
    conversation_id: Annotated[int, typer.Argument(help="The conversation's id.")],
    tenant: Annotated[str, typer.Option(help="The business's name.")],
) -> None:
    """Give a conversation back to the bot after a person has dealt with it."""
    from bot.desk.conversations import hand_back_to_bot
    from core.db import session_scope
    from core.tenants import get_business_by_name

    with session_scope(_runtime().engine) as session:
        business = get_business_by_name(session, tenant)
        hand_back_to_bot(session, business_id=business.id or 0, conversation_id=conversation_id)
    typer.echo(f"conversation {conversation_id} is back with the bot")


def _expand(paths: list[Path]) -> list[Path]:
    from ingest.loaders import LOADERS

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LOADERS))
        else:
            files.append(path)
    return files


def _ingest(runtime: Runtime, tenant: str, paths: list[Path], *, quiet: bool = False) -> int:
    from rich.progress import Progress

    from core.db import session_scope
    from core.tenants import get_business_by_name
    from ingest.pipeline import IngestStatus

    with session_scope(runtime.engine) as session:
        business_id = get_business_by_name(session, tenant).id
    assert business_id is not None
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


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (.md .txt .html .csv .xlsx .pdf .docx).")
    ],
    tenant: Annotated[str, typer.Option(help="The business's name.")],
) -> None:
    """Load, mask, embed and index knowledge documents. Unchanged files are skipped."""
    failures = _ingest(_runtime(), tenant, paths)
    if failures:
        raise typer.Exit(1)


def _business_id(runtime: Runtime, tenant: str) -> int:
    from core.db import session_scope
    from core.tenants import get_business_by_name

    with session_scope(runtime.engine) as session:
        business_id = get_business_by_name(session, tenant).id
    assert business_id is not None
    return business_id


TenantOption = Annotated[str, typer.Option(help="The business's name.")]


@knowledge_app.command("list")
def knowledge_list(tenant: TenantOption, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Documents with their status, chunk count and whether they are retrieved."""
    runtime = _runtime()
    documents = runtime.knowledge.list_documents(_business_id(runtime, tenant))
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in documents], indent=2))
        return
    for d in documents:
        state = "enabled" if d.enabled else "disabled"
        typer.echo(f"{d.id}\t{d.status}\t{state}\t{d.chunk_count} chunks\t{d.source_name}")
        if d.error:
            typer.echo(f"\t{d.error}")


@knowledge_app.command("show")
def knowledge_show(document_id: int, tenant: TenantOption) -> None:
    """One document, as JSON."""
    runtime = _runtime()
    document = runtime.knowledge.get_document(_business_id(runtime, tenant), document_id)
    typer.echo(json.dumps(document.model_dump(mode="json"), indent=2))


@knowledge_app.command("disable")
def knowledge_disable(document_id: int, tenant: TenantOption) -> None:
    """Keep the document but never retrieve it."""
    runtime = _runtime()
    runtime.knowledge.set_enabled(_business_id(runtime, tenant), document_id, False)
    typer.echo(f"document {document_id} disabled")


@knowledge_app.command("enable")
def knowledge_enable(document_id: int, tenant: TenantOption) -> None:
    """Retrieve a disabled document again."""
    runtime = _runtime()
    runtime.knowledge.set_enabled(_business_id(runtime, tenant), document_id, True)
    typer.echo(f"document {document_id} enabled")


@knowledge_app.command("delete")
def knowledge_delete(
    document_id: int, tenant: TenantOption, yes: Annotated[bool, typer.Option("--yes")] = False
) -> None:
    """Remove a document and its chunks from the index."""
    if not yes:
        typer.confirm(f"delete document {document_id} and its chunks?", abort=True)
    runtime = _runtime()
    removed = runtime.knowledge.delete_document(_business_id(runtime, tenant), document_id)
    typer.echo(f"document {document_id} deleted ({removed} chunks removed from the index)")


@knowledge_app.command("reindex")
def knowledge_reindex(
    tenant: TenantOption,
    document_id: Annotated[int | None, typer.Argument(help="One document; all when omitted.")] = None,
) -> None:
    """Embed stored chunks again into the vector store (after a model change or a vector-store restore)."""
    from rich.progress import Progress

    runtime = _runtime()
    business_id = _business_id(runtime, tenant)
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


@apikey_app.command("create")
def apikey_create(
    tenant: TenantOption, name: Annotated[str, typer.Option(help="What the key is for.")] = "default"
) -> None:
    """Issue an API key. It is printed once and never stored: keep it somewhere safe."""
    from core.api_keys import issue_api_key
    from core.db import session_scope

    runtime = _runtime()
    business_id = _business_id(runtime, tenant)
    with session_scope(runtime.engine) as session:
        issued = issue_api_key(session, business_id=business_id, name=name)
    typer.echo(issued.secret)
    typer.secho("shown once: store it now (send it as `Authorization: Bearer <key>`)", err=True)


@apikey_app.command("list")
def apikey_list(tenant: TenantOption) -> None:
    """Keys of a business (never the secrets)."""
    from core.api_keys import list_api_keys
    from core.db import session_scope

    runtime = _runtime()
    business_id = _business_id(runtime, tenant)
    with session_scope(runtime.engine) as session:
        for key in list_api_keys(session, business_id):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(f"{key.lookup_id}\t{key.name}\t{state}\tcreated {key.created_at:%Y-%m-%d}")


@apikey_app.command("revoke")
def apikey_revoke(
    lookup_id: Annotated[str, typer.Argument(help="The key's id (from `list`).")], tenant: TenantOption
) -> None:
    """Revoke a key at once."""
    from core.api_keys import revoke_api_key
    from core.db import session_scope

    runtime = _runtime()
    business_id = _business_id(runtime, tenant)
    with session_scope(runtime.engine) as session:
        revoke_api_key(session, business_id=business_id, lookup_id=lookup_id)
    typer.echo(f"key {lookup_id} revoked")


@app.command()
def demo() -> None:
    """Create the demo business (console mode) with its knowledge base, if missing."""
    from sqlmodel import select

    from bot.desk.conversations import configure_policy
    from core.db import session_scope
    from core.tenants import Business, create_business

    runtime = _runtime()
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
    _ingest(runtime, DEMO_TENANT, [EXAMPLES_DIR])
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, as a customer would write it.")],
    tenant: Annotated[str, typer.Option(help="The business's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Answer a question from a business's knowledge base, showing sources, scores and what was masked."""
    from bot.turn.assistant import question_policy
    from bot.turn.responders import AnswerRequest
    from core.db import session_scope
    from core.tenants import get_business_by_name
    from privacy.masker import unmask_text
    from privacy.vault import VaultScope

    runtime = _runtime()
    with session_scope(runtime.engine) as session:
        business = get_business_by_name(session, tenant)
        masked = runtime.masker.preview(
            question,
            policy=question_policy(
                runtime.masker.policy_for(session, business.id or 0), runtime.retriever, business.id or 0
            ),
        )
    passages = runtime.retriever.search(business.id or 0, masked.text)
    answer = runtime.responder.answer(
        AnswerRequest(
            question=masked.text,
            passages=passages,
            business_name=business.display_name,
            min_confidence=runtime.settings.min_confidence,
        )
    )
    with session_scope(runtime.engine) as session:
        shown = unmask_text(session, runtime.vault, answer.text, [VaultScope.knowledge(business.id or 0)])
    result = {
        "answer": shown,
        "confident": answer.confident,
        "sources": [
            {"document_id": p.document_id, "title": p.title, "score": round(p.score, 4)} for p in passages
        ],
        "masked_question": masked.text,
        "masked": [
            {"type": s.entity_type, "start": s.start, "end": s.end, "score": round(s.score, 3)}
            for s in masked.spans
        ],
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(result["answer"])
    typer.echo("\nsources:")
    for source in result["sources"]:  # type: ignore[attr-defined]
        typer.echo(f"  {source['score']:.3f}  {source['title']} (document {source['document_id']})")
    if masked.spans:
        typer.echo("masked: " + ", ".join(f"{s.entity_type}@{s.start}-{s.end}" for s in masked.spans))


@app.command()
def chat(
    tenant: Annotated[str, typer.Option(help="The business's name.")],
    sender: Annotated[str, typer.Option("--from", help="Your WhatsApp number (digits).")] = "15550001234",
    name: Annotated[str, typer.Option(help="Your WhatsApp profile name.")] = "Demo Customer",
    url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:8000",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a reply.")] = 30.0,
) -> None:
    """Talk to a running server as a WhatsApp user would: signed webhook payloads in, replies shown.

    Replies are read from the database this machine shares with the server (console mode sends nothing)."""
    import httpx
    from sqlmodel import col, select

    from bot.channel.whatsapp import signed_headers, text_webhook
    from bot.models import Message
    from core.db import session_scope
    from core.tenants import get_business_by_name
    from privacy.masker import unmask_text
    from privacy.vault import VaultScope

    runtime = _runtime()
    with session_scope(runtime.engine) as session:
        business = get_business_by_name(session, tenant)
    typer.echo(f"Chatting with {business.display_name} as {name} (+{sender}). Empty line or Ctrl-D to quit.")
    with httpx.Client(base_url=url, timeout=10) as client:
        for line in (
            sys.stdin if not sys.stdin.isatty() else iter(lambda: typer.prompt("you", default=""), "")
        ):
            text = line.strip()
            if not text:
                break
            wa_message_id = f"wamid.cli-{uuid.uuid4().hex}"
            payload = text_webhook(
                phone_number_id=business.phone_number_id,
                sender=sender,
                name=name,
                wa_message_id=wa_message_id,
                text=text,
            )
            body = json.dumps(payload).encode()
            try:
                response = client.post(
                    "/webhooks/whatsapp",
                    content=body,
                    headers=signed_headers(runtime.app_secret, body),
                )
            except httpx.HTTPError as exc:
                _fail(f"cannot reach {url} ({type(exc).__name__}); is `wepos serve` running?")
            if response.status_code != 200:
                _fail(f"server answered {response.status_code}: {response.text[:200]}")
            deadline = time.monotonic() + timeout
            shown = False
            while time.monotonic() < deadline and not shown:
                time.sleep(0.3)
                with session_scope(runtime.engine) as session:
                    inbound = session.exec(
                        select(Message).where(Message.wa_message_id == wa_message_id)
                    ).first()
                    if inbound is None:
                        continue
                    replies = session.exec(
                        select(Message).where(Message.in_reply_to_id == inbound.id).order_by(col(Message.id))
                    ).all()
                    scopes = [
                        VaultScope.conversation(inbound.conversation_id),
                        VaultScope.knowledge(business.id or 0),
                    ]
                    for reply in replies:
                        text = unmask_text(session, runtime.vault, reply.text_masked or "", scopes)
                        typer.secho(f"{business.display_name}: {text}", fg="green")
                        shown = True
            if not shown:
                typer.secho("(no reply yet; it will still be answered)", fg="yellow")


@privacy_app.command("mask")
def privacy_mask(
    text: Annotated[str, typer.Argument(help="Text to mask.")],
    as_json: Annotated[
        bool, typer.Option("--json", help='{"masked": ..., "entities": [...]}, no raw values.')
    ] = False,
) -> None:
    """Show what Wepos would mask in a text (nothing is stored)."""
    result = _runtime().masker.preview(text)
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


def main() -> None:
    from core.memory import scrub_freed_memory

    scrub_freed_memory()
    try:
        app()
    except WeposError as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        sys.exit(2)
    except OperationalError as exc:  # the database is down, unreachable or refuses us: say which
        typer.secho(f"error: {_database_problem(exc)}", fg="red", err=True)
        sys.exit(2)
    except Exception as exc:
        # A bug, not something the user did: its traceback goes to the log file, one line to the terminal.
        _log_bug(exc)
        typer.secho(
            f"error: the command failed ({type(exc).__name__}); the traceback is in the log file",
            fg="red",
            err=True,
        )
        sys.exit(1)


def _log_bug(exc: BaseException) -> None:
    """The traceback's frames to the log file, never to the terminal; without the exception's text, which
    may quote a message or a statement's parameters."""
    import traceback

    frames = "".join(traceback.format_tb(exc.__traceback__))
    record = logging.LogRecord(
        "wepos.cli", logging.ERROR, __file__, 0, "command failed: %s\n%s", (type(exc).__name__, frames), None
    )
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _database_problem(exc: OperationalError) -> str:
    """One line for a database error, without its SQL or parameters (they may hold personal data)."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return "the database has no Wepos schema: run `wepos migrate` first"
    return f"the database cannot be used ({reason}): check WEPOS_DATABASE_URL and that the server runs"


if __name__ == "__main__":
    main()
