"""Shared fixtures: heavy engines once per session; a fresh data dir and database for every test."""

from __future__ import annotations

import os

# Before anything imports Presidio, transformers or Chroma: no network, no telemetry.
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
for _name in [n for n in os.environ if n.startswith("WEPOS_") and not n.startswith("WEPOS_TEST_")]:
    del os.environ[_name]

import gc  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from core.memory import scrub_freed_memory  # noqa: E402
from core.settings import Settings  # noqa: E402

scrub_freed_memory()  # before any test puts personal data on the heap (see core.memory)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PAYLOADS = SHARED / "whatsapp-payloads"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "demo-bakery"
MODEL_CACHE = Path(tempfile.gettempdir()) / "wepos-test-models"
APP_SECRET = "test-app-secret-0123456789"
VERIFY_TOKEN = "test-verify-token-0123456789"


# Fixtures that start a server (ours under uvicorn, or Chroma's): a test using one is end to end, whatever
# its module says, and stays out of `make check`.
SERVER_FIXTURES = frozenset({"light", "wepos", "quota", "injected", "served", "chroma_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_chroma_server = callspec is not None and callspec.params.get("chroma_mode") == "server"
        if fixtures & SERVER_FIXTURES or on_chroma_server:
            item.add_marker(pytest.mark.e2e)


# --- heavy engines, built once -------------------------------------------------------------------
@pytest.fixture(scope="session")
def analyzer():  # type: ignore[no-untyped-def]
    from privacy.detect import build_analyzer

    return build_analyzer()


@pytest.fixture(scope="session")
def embeddings():  # type: ignore[no-untyped-def]
    from retrieval.embeddings import MiniLMEmbeddings

    return MiniLMEmbeddings.load()


@pytest.fixture(scope="session")
def mock_analyzer():  # type: ignore[no-untyped-def]
    """Pattern recognizers only, no model (`WEPOS_ANALYZER_BACKEND=mock`): for tests not about masking."""
    from privacy.detect import build_analyzer

    return build_analyzer("mock")


@pytest.fixture(scope="session")
def mock_embeddings():  # type: ignore[no-untyped-def]
    """Hashed words, no model (`WEPOS_EMBEDDINGS_BACKEND=mock`): for tests not about retrieval quality."""
    from retrieval.embeddings import HashingEncoder, MiniLMEmbeddings

    return MiniLMEmbeddings(HashingEncoder())


@pytest.fixture(scope="session")
def onnx_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The int8 ONNX export of the packaged model, made once per run (about 5 s)."""
    from retrieval.embeddings import ONNX_MODEL_NAME, export_onnx_int8

    return export_onnx_int8(tmp_path_factory.mktemp("models") / ONNX_MODEL_NAME)


@pytest.fixture(scope="session")
def onnx_embeddings(onnx_model_file: Path):  # type: ignore[no-untyped-def]
    from retrieval.embeddings import MiniLMEmbeddings

    return MiniLMEmbeddings.load_onnx(onnx_model_file)


# --- databases ------------------------------------------------------------------------------------
def _postgres_admin_url() -> str | None:
    return os.environ.get("WEPOS_TEST_DATABASE_URL") or None


class SchemaTemplates:
    """A database migrated once per run, copied for each test that wants one at the current schema: a file
    copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL. Running every migration costs about a
    second a database; a copy, a few milliseconds."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def sqlite(self, target: Path) -> str:
        import shutil

        from core import migrate

        if self._sqlite is None:
            template = self._directory / "template.db"
            migrate.upgrade(f"sqlite:///{template}")  # its engine is disposed: no WAL is left beside it
            self._sqlite = template
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite, target)
        return f"sqlite:///{target}"

    def postgres_template(self) -> str:
        """The name of the migrated template database (made on first use)."""
        if self._postgres is None:
            from core import migrate

            url, name = _create_postgres()
            migrate.upgrade(url)
            self._postgres = name
        return self._postgres

    def close(self) -> None:
        if self._postgres is not None:
            _drop_postgres(self._postgres)


@pytest.fixture(scope="session")
def schema_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchemaTemplates]:
    templates = SchemaTemplates(tmp_path_factory.mktemp("schema"))
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, schema_templates: SchemaTemplates
) -> Iterator[str]:
    """A fresh database at the current schema for one test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield schema_templates.sqlite(tmp_path / "var" / "wepos.db")
        return
    template = schema_templates.postgres_template()
    yield from fresh_postgres(template=template)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no schema) for one test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'wepos.db'}"
        return
    yield from fresh_postgres()


def _admin_connection() -> tuple[Any, Any]:
    admin = _postgres_admin_url()
    if not admin:
        pytest.skip(
            "PostgreSQL tests need WEPOS_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
        )
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at WEPOS_TEST_DATABASE_URL is unreachable: {type(exc).__name__}")
    return connection, url


def fresh_postgres(*, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of `template`), dropped afterwards."""
    url, name = _create_postgres(template)
    try:
        yield url
    finally:
        _drop_postgres(name)


def _create_postgres(template: str | None = None) -> tuple[str, str]:
    connection, url = _admin_connection()
    name = f"wepos_test_{uuid.uuid4().hex[:12]}"
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(name: str) -> None:
    connection, _url = _admin_connection()
    with connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (from the installed chromadb package) on a loopback port, for the whole run."""
    from tests.helpers import ChromaProcess

    server = ChromaProcess(tmp_path_factory.mktemp("chroma-server"))
    if not server.installed:
        pytest.skip("the chroma command is not installed")
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def chroma_mode(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for the vector store: embedded in the data dir, or the shared server under a fresh prefix."""
    if request.param == "embedded":
        return {}
    url = request.getfixturevalue("chroma_server")
    return {"chroma_url": url, "chroma_collection_prefix": f"t{uuid.uuid4().hex[:12]}"}


@pytest.fixture
def sqlite_url(tmp_path: Path, schema_templates: SchemaTemplates) -> str:
    """A fresh SQLite database at the current schema, in the test's data dir."""
    return schema_templates.sqlite(tmp_path / "var" / "wepos.db")


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "vault_key": Fernet.generate_key().decode(),
        "whatsapp_api_base": "http://127.0.0.1:9/v23.0",
        # One ONNX export for every test data dir (written atomically, so parallel processes may share it).
        "model_cache_dir": MODEL_CACHE,
        # The multilingual index off unless a test is about it: its model would embed every test's chunks.
        "multilingual": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


from testing.graph_api import GraphStandIn  # noqa: E402


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    stand_in = GraphStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture(autouse=True)
def _collect_garbage_per_test() -> Iterator[None]:
    """Collect cycles after each test, so a connection or socket left open is reported against the test
    that leaked it (warnings are errors), not whichever test the garbage collector happens to run in.

    What exists when a test starts (the session's engines and models: millions of objects) is frozen
    first, so the collection scans only what the test made: a full one took 1-2 s a test once spaCy and
    MiniLM were loaded, more than most tests themselves."""
    gc.freeze()
    yield
    gc.collect()


@pytest.fixture(autouse=True, scope="module")
def _collect_everything_per_module() -> Iterator[None]:
    """What the frozen objects left as garbage (a module's fixtures) is collected once a module."""
    yield
    gc.unfreeze()
    gc.collect()


@pytest.fixture(autouse=True, scope="session")
def _close_the_http_client() -> Iterator[None]:
    from tests.helpers import HTTP

    yield
    HTTP.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, for what only a server database does (skipped without one)."""
    yield from fresh_postgres()
