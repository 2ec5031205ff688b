"""Settings from `WEPOS_*` environment variables and `.env`; a bad value stops start-up naming the variable."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

DEFAULT_GRAPH_API_BASE = "https://graph.facebook.com/v23.0"
# Send threads per worker on PostgreSQL: each sends one request at a time, and a message is two of them (read
# receipt, reply) of ~100 ms each to Meta, so 8 lanes carry ~40 messages a second per worker.
DEFAULT_SEND_LANES = 8
# Values copied from examples or left as placeholders: refused as secrets in production.
_PLACEHOLDER_WORDS = ("change", "example", "placeholder", "replace", "default", "secret", "password")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LLMProvider(StrEnum):
    EXTRACTIVE = "extractive"
    OPENAI = "openai"


class EmbeddingsBackend(StrEnum):
    TORCH = "torch"
    ONNX = "onnx"  # the same model exported to int8 ONNX into `<data dir>/models` on first use
    MOCK = "mock"  # hashed words, no model: deterministic and instant, for tests (refused in production)


class AnalyzerBackend(StrEnum):
    PRESIDIO = "presidio"  # Presidio on spaCy's small English model, with Wepos's recognizers
    MOCK = (
        "mock"  # Presidio's and Wepos's pattern recognizers only, no model: for tests (refused in production)
    )


# The extractive answer's decline threshold: chosen on the dev halves of benchmarks/answers.py as the highest
# share of correct answers with at most 10% confidently wrong ones there (docs/benchmarks.md).
ANSWER_CONFIDENCE = 0.63
# The cross-lingual answer's: chosen on the dev half of the XQuAD set (benchmarks/data/answers/xquad) as the
# most correct answers with at most 15% confidently wrong there (docs/benchmarks.md).
CROSSLINGUAL_CONFIDENCE = 0.82


class Settings(BaseSettings):
    """Every knob of Wepos. Field `x` is read from `WEPOS_X`."""

    model_config = SettingsConfigDict(
        env_prefix="WEPOS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./var")
    database_url: str | None = None
    chroma_url: str | None = None
    # Several Wepos installs (or test runs) can share one Chroma server under different prefixes.
    chroma_collection_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")] = "wepos"

    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_api_base: str = DEFAULT_GRAPH_API_BASE
    whatsapp_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    # How long a business's approved message templates are kept in memory before they are read again.
    template_cache_s: Annotated[float, Field(ge=0, le=86_400)] = 600.0
    max_webhook_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    max_upload_bytes: Annotated[int, Field(ge=1024)] = 52_428_800  # one knowledge upload request, all files
    # All of one business's stored knowledge (masked text kept, plus uploads waiting to be ingested). 0: none.
    knowledge_quota_bytes: Annotated[int, Field(ge=0)] = 524_288_000

    vault_key: SecretStr | None = None

    llm_provider: LLMProvider = LLMProvider.EXTRACTIVE
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0

    embeddings_backend: EmbeddingsBackend = EmbeddingsBackend.ONNX
    analyzer_backend: AnalyzerBackend = AnalyzerBackend.PRESIDIO
    model_cache_dir: Path | None = None  # where the ONNX export lives; default <data dir>/models

    chunk_size: Annotated[int, Field(ge=100, le=8000)] = 700
    chunk_overlap: Annotated[int, Field(ge=0, le=2000)] = 100
    retrieval_top_k: Annotated[int, Field(ge=1, le=50)] = 4
    min_confidence: Annotated[float, Field(ge=-1, le=1)] = 0.35
    # An extracted answer less sure than this is declined (`Evidence.confidence`, bot/turn/responders.py).
    answer_confidence: Annotated[float, Field(ge=-1, le=1)] = ANSWER_CONFIDENCE
    mask_score_threshold: Annotated[float, Field(ge=0, le=1)] = 0.4
    # Questions in another language than the documents' are answered from a second, multilingual index
    # (retrieval/multilingual.py), kept level with the first by the ingest runner; false: handed over.
    multilingual: bool = True
    # A cross-lingual answer less sure than this hands over instead (bot/turn/crosslingual.py).
    crosslingual_confidence: Annotated[float, Field(ge=-1, le=1)] = CROSSLINGUAL_CONFIDENCE

    worker_lease_s: Annotated[float, Field(ge=1, le=3600)] = 120.0
    worker_poll_s: Annotated[float, Field(gt=0, le=10)] = 0.2
    # Threads a worker sends replies and read receipts from, so turns never wait on the Graph API (each
    # conversation keeps to one of them, in order). 0: the turn loop sends them itself, between turns.
    # Unset: `DEFAULT_SEND_LANES` on PostgreSQL, 0 on SQLite (`send_lanes_in_use`).
    send_lanes: Annotated[int | None, Field(ge=0, le=64)] = None
    # Turns one customer gets per minute; more wait in the queue (one "slow down" notice). 0: no limit.
    sender_rate_per_minute: Annotated[int, Field(ge=0, le=100_000)] = 20
    # k-anonymity of analytics: any count below this is reported as "<k", never as the number.
    analytics_k: Annotated[int, Field(ge=2, le=1000)] = 5

    # Console sign-in through an OpenID Connect provider (beside passwords); all three, or none.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_provider_name: Annotated[str, Field(max_length=60)] = "single sign-on"

    # FastAPI's /docs, /redoc and /openapi.json: on in development, off in production unless set to true.
    api_docs: bool | None = None

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    log_level: str = "INFO"

    @field_validator("whatsapp_api_base", "llm_base_url", "chroma_url", "oidc_issuer")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("WEPOS_CHUNK_OVERLAP must be smaller than WEPOS_CHUNK_SIZE")
        if any((self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret)) and not all(
            (self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret)
        ):
            raise ValueError(
                "set WEPOS_OIDC_ISSUER, WEPOS_OIDC_CLIENT_ID and WEPOS_OIDC_CLIENT_SECRET together"
            )
        if self.llm_provider is LLMProvider.OPENAI and not self.llm_model:
            raise ValueError("WEPOS_LLM_MODEL must be set when WEPOS_LLM_PROVIDER=openai")
        if self.env is Environment.PRODUCTION:
            # A mock analyzer would let names through to the model and the stores; mock vectors answer badly.
            if (
                self.analyzer_backend is AnalyzerBackend.MOCK
                or self.embeddings_backend is EmbeddingsBackend.MOCK
            ):
                raise ValueError("the mock analyzer and embeddings are for tests, never for production")
            # Generated secrets in the data dir are a development convenience only.
            for name in ("whatsapp_app_secret", "whatsapp_verify_token", "vault_key"):
                secret: SecretStr | None = getattr(self, name)
                value = secret.get_secret_value().strip() if secret is not None else ""
                if len(value) < 16:
                    raise ValueError(f"WEPOS_{name.upper()} must be set (16+ characters) in production")
                if _looks_like_placeholder(value):
                    raise ValueError(
                        f"WEPOS_{name.upper()} looks like a placeholder; set a random value in production"
                    )
            if self.whatsapp_app_secret == self.whatsapp_verify_token:
                raise ValueError(
                    "WEPOS_WHATSAPP_VERIFY_TOKEN must differ from WEPOS_WHATSAPP_APP_SECRET in production"
                )
        return self

    @property
    def database_url_resolved(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'wepos.db').resolve()}"

    @property
    def send_lanes_in_use(self) -> int:
        """`send_lanes`, or its default for the database: on SQLite a send thread's writes would queue behind
        (and stall) the webhooks' for the file's one write lock, and one worker there is the small default
        anyway; PostgreSQL locks rows, and a scaled deployment must not wait on Meta's round trips."""
        if self.send_lanes is not None:
            return self.send_lanes
        return 0 if self.database_url_resolved.startswith("sqlite") else DEFAULT_SEND_LANES

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def api_docs_enabled(self) -> bool:
        """Whether the app serves its OpenAPI schema and the interactive docs built on it."""
        return self.api_docs if self.api_docs is not None else self.env is not Environment.PRODUCTION

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def models_dir(self) -> Path:
        """Models derived from the packaged ones (the ONNX export): rebuilt if deleted."""
        return self.model_cache_dir or self.data_dir / "models"


def _looks_like_placeholder(value: str) -> bool:
    """A secret someone forgot to replace: a placeholder word, or one character repeated."""
    lowered = value.lower()
    return len(set(lowered)) <= 2 or any(word in lowered for word in _PLACEHOLDER_WORDS)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation failure into a `ConfigError` that names each variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            name = f"WEPOS_{field.upper()}" if error["loc"] else "settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc
