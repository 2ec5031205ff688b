"""Database engine and sessions (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, create_engine


def utcnow() -> datetime:
    """Aware UTC; SQLModel's UTCDateTime stores it as UTC on every database."""
    return datetime.now(UTC)


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its folder."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def create_db_engine(url: str, *, pre_ping: bool = True) -> Engine:
    """Build the engine; SQLite gets WAL, foreign keys and a busy timeout so threads can share it. A server
    database's pool tests each connection before handing it out (`pre_ping`: one more round trip) unless the
    caller retries on a connection found dead instead."""
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=pre_ping, pool_size=10, max_overflow=10)


def autocommit(engine: Engine) -> Engine:
    """The engine for work that is one statement at a time: on a server database each commits on its own
    (no BEGIN and COMMIT, two round trips fewer); SQLite, in process, keeps its transactions."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def savepoint(session: Session) -> SessionTransaction:
    """`session.begin_nested()`, inside the unit of work on every database. Python's sqlite3 opens no
    transaction before a SAVEPOINT (it begins one implicitly before a write only), so there the SAVEPOINT
    would open the transaction and its RELEASE commit what it wrote, on its own: a turn's new vault entries,
    say, kept though the turn's other writes were rolled back. So the transaction is begun first."""
    raw = session.connection().connection.driver_connection
    if isinstance(raw, sqlite3.Connection) and not raw.in_transaction:
        raw.execute("BEGIN")
    return session.begin_nested()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def scrub_deleted_rows(engine: Engine) -> None:
    """After an erasure: SQLite keeps deleted rows in free pages and in its WAL until rebuilt, so rebuild the
    file (VACUUM) and empty the WAL. PostgreSQL's dead tuples are not readable through SQL and autovacuum
    reclaims them, so nothing is done there."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("VACUUM")
        # Readers of other connections can hold the WAL a moment; TRUNCATE waits on the busy timeout.
        for _attempt in range(20):
            busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return
            time.sleep(0.1)
