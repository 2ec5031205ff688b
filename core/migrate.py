"""Alembic, driven from code: `wepos migrate` and the start-up schema check."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from core.db import ensure_sqlite_dir
from core.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def _config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database to the newest schema."""
    from alembic import command

    ensure_sqlite_dir(url)
    command.upgrade(_config(url), "head")


def ensure_current(engine: Engine) -> None:
    """Refuse to start on a database that is not at the newest migration, saying what to run."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config(str(engine.url))).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise ConfigError(
            f"the database schema is at {current or 'nothing'}, not {head}: run `wepos migrate` first"
        )
