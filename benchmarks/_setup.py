"""A throwaway Wepos (fresh data dir, demo business, real engines) for benchmarks."""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

for _name, _value in {
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "ANONYMIZED_TELEMETRY": "False",
}.items():
    os.environ.setdefault(_name, _value)

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402

from api.runtime import Runtime  # noqa: E402
from core.db import session_scope  # noqa: E402
from core.memory import scrub_freed_memory  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.tenants import create_business  # noqa: E402

scrub_freed_memory()  # as the entry points do (see core.memory)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "demo-bakery"
SHARED = Path(__file__).resolve().parents[2] / "shared"
APP_SECRET = "benchmark-app-secret"
PHONE_NUMBER_ID = "100000000000001"


def fresh_runtime(
    graph_base: str = "http://127.0.0.1:9/v23.0",
    database_url: str | None = None,
    settings: dict[str, object] | None = None,
    **kwargs: object,
) -> Runtime:
    """A migrated Wepos on a throwaway data dir; `settings` overrides the defaults (an LLM provider...), the
    other keyword arguments go to `Runtime` (engines)."""
    data_dir = Path(tempfile.mkdtemp(prefix="wepos-bench-")) / "var"
    configured = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        whatsapp_app_secret=APP_SECRET,  # type: ignore[arg-type]
        whatsapp_verify_token="benchmark-verify-token",  # type: ignore[arg-type]
        vault_key=Fernet.generate_key().decode(),  # type: ignore[arg-type]
        whatsapp_api_base=graph_base,
        database_url=database_url,
        log_level="WARNING",
        **(settings or {}),
    )
    runtime = Runtime(configured, **kwargs)  # type: ignore[arg-type]
    runtime.migrate()
    return runtime


def demo_business(runtime: Runtime, access_token: str | None = "EAAbenchmark") -> int:
    with session_scope(runtime.engine) as session:
        business = create_business(
            session,
            name="demo-bakery",
            phone_number_id=PHONE_NUMBER_ID,
            box=runtime.box,
            display_name="Crumb & Co. Bakery",
            access_token=access_token,
        )
    assert business.id is not None
    return business.id


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 95), 1),
        "max": round(max(values), 1),
    }


@contextmanager
def throwaway_postgres(url: str, prefix: str) -> Iterator[str | None]:
    """The URL of a new database on the PostgreSQL server at `url`, dropped on the way out (its sessions
    closed); None when no server answers there."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        connection = psycopg.connect(
            admin.set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError:
        yield None
        return
    connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


class RoundTrips:
    """Every round trip the driver makes to the database through a runtime's engines (statements, pool
    pings, and BEGIN and COMMIT where a transaction is open), counted under the current `step`: a figure the
    machine's other work does not move, unlike the milliseconds."""

    def __init__(self, runtime: Runtime) -> None:
        self.step = ""
        self.counts: Counter[str] = Counter()
        for engine in {runtime.engine, runtime.intake_engine}:  # webhooks' messages go through the second
            event.listen(engine, "before_cursor_execute", self._one)
            event.listen(engine, "begin", self._transaction)
            event.listen(engine, "commit", self._transaction)

            def ping(dbapi_connection: Any, _ping: Any = engine.dialect.do_ping) -> bool:
                self._one()  # called only by a pool that tests connections before handing them out
                return bool(_ping(dbapi_connection))

            engine.dialect.do_ping = ping  # type: ignore[method-assign]

    def _one(self, *_args: Any) -> None:
        self.counts[self.step] += 1

    def _transaction(self, connection: Connection) -> None:
        # In autocommit the driver sends no BEGIN or COMMIT, though SQLAlchemy still reports them.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self._one()
