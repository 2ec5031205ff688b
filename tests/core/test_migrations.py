from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import bot.models  # noqa: F401
import core.audit_trail
import core.tenants  # noqa: F401
import privacy.models  # noqa: F401
import retrieval.approved
import retrieval.models  # noqa: F401
from core import migrate
from core.db import create_db_engine
from core.errors import ConfigError


def test_migrations_build_exactly_the_models_schema(empty_database_url: str) -> None:
    database_url = empty_database_url
    engine = create_db_engine(database_url)
    with pytest.raises(ConfigError, match="run `wepos migrate`"):
        migrate.ensure_current(engine)
    migrate.upgrade(database_url)
    migrate.ensure_current(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_upgrading_twice_changes_nothing(empty_database_url: str) -> None:
    sqlite_url = empty_database_url
    migrate.upgrade(sqlite_url)
    migrate.upgrade(sqlite_url)
    migrate.ensure_current(create_db_engine(sqlite_url))
