"""The `wepos` command: another face over the same services as the HTTP app.

One module a command group; `context` holds what they share (the runtime, `--tenant`, the error exit).
The whole command tree is put together here."""

from __future__ import annotations

import logging
import sys

import typer
from sqlalchemy.exc import OperationalError

from api.cli import chat, demo, knowledge, server
from api.cli.answer import answer_app
from api.cli.apikey import apikey_app
from api.cli.compliance import dsar_app, retention_app
from api.cli.conversation import conversation_app
from api.cli.knowledge import knowledge_app
from api.cli.privacy import privacy_app
from api.cli.staff import audit_app, user_app
from api.cli.templates import templates_app
from api.cli.tenant import tenant_app
from core.errors import WeposError

app = typer.Typer(
    help="Wepos: a privacy-first WhatsApp Business assistant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(server.serve)
app.command("worker")(server.worker_process)
app.command()(server.migrate)
app.command()(knowledge.ingest)
app.command()(demo.demo)
app.command()(chat.ask)
app.command()(chat.chat)
app.add_typer(tenant_app, name="tenant")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(answer_app, name="answer")
app.add_typer(apikey_app, name="apikey")
app.add_typer(conversation_app, name="conversation")
app.add_typer(templates_app, name="templates")
app.add_typer(privacy_app, name="privacy")
app.add_typer(dsar_app, name="dsar")
app.add_typer(retention_app, name="retention")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")


def main() -> None:
    """The `wepos` console script: the app, with Wepos's errors and the database's said in one line."""
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
