"""`wepos serve`, `wepos worker` and `wepos migrate`: the processes and the schema they run on."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from api.cli.context import get_runtime
from api.cli.demo import DEMO_TENANT


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

    from api.main import GRACEFUL_SHUTDOWN_S, create_app
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
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
    finally:
        supervisor.stop()  # each worker finishes its turn in flight first
        if store is not None:
            store.stop()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def worker_process() -> None:
    """Answer stored messages and send replies, without HTTP (run several beside `wepos serve --no-worker`)."""
    import signal

    from api.runtime import Runtime
    from core import migrate as migrations
    from core.logs import configure_logging
    from core.settings import load_settings

    # A process of its own (api.supervisor starts it as `python -m api.cli worker`): its runtime logs at the
    # configured level and never migrates the schema on its own.
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


def migrate(ctx: typer.Context) -> None:
    """Create or upgrade the database schema."""
    get_runtime(ctx, schema=False).migrate()
    typer.echo("database is at the newest schema")
