"""The composition root: Wepos's parts, built from settings once per process.

The app's lifespan builds every part at start-up (`Runtime.build`), so no request pays for a model load;
a CLI command builds only the parts it uses (`wepos tenant create` never loads spaCy). Each part is handed
what it needs through its constructor, and nothing reaches into this object but the entry points (the
lifespan, the CLI, the HTTP dependencies in `api.deps`). A test hands its fakes to the constructor."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import httpx
from langchain_core.embeddings import Embeddings
from sqlalchemy.engine import Engine

from bot.channel.inbound import WebhookIntake
from bot.channel.outbox import Outbox
from bot.channel.rate_limit import SenderRateLimit
from bot.channel.sender import SendLanes
from bot.channel.whatsapp import CloudAPIClient
from bot.channel.worker import TurnWorker
from bot.desk.playground import KnowledgeSearch
from bot.desk.templates import TemplateCatalogue
from bot.turn.assistant import Assistant
from bot.turn.crosslingual import CrossLingualResponder
from bot.turn.responders import Responder, build_responder
from core import migrate
from core.crypto import SecretBox, load_or_create_keys, read_or_create_secret
from core.db import create_db_engine
from core.oidc import OidcClient
from core.settings import Settings
from ingest.answers import ApprovedAnswers
from ingest.jobs import IngestJobs
from ingest.knowledge import KnowledgeBase
from ingest.pipeline import IngestPipeline
from privacy.detect import Detector, build_analyzer
from privacy.masker import Masker
from privacy.vault import Vault
from retrieval.approved import ApprovedAnswerIndex
from retrieval.embeddings import build_embeddings
from retrieval.multilingual import E5Encoder, MultilingualIndex
from retrieval.search import Retriever
from retrieval.store import KnowledgeIndex, build_chroma_client, close_chroma_client

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from presidio_analyzer import AnalyzerEngine


class Runtime:
    """The process's parts. What is passed in is used instead of building it: the heavy engines (Presidio,
    MiniLM) to share them across runtimes, a retriever or responder to fake one (tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        analyzer: AnalyzerEngine | None = None,
        embeddings: Embeddings | None = None,
        retriever: Retriever | None = None,
        responder: Responder | None = None,
        graph_transport: httpx.BaseTransport | None = None,
        console: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._analyzer = analyzer
        self._embeddings = embeddings
        self._retriever = retriever
        self._responder = responder
        self._graph_transport = graph_transport
        self._console = console

    def build(self) -> None:
        """Build every part a serving process uses now, and load its models: the lifespan calls this, so
        no request or turn ever pays for a model load."""
        _ = self.assistant, self.outbox, self.worker, self.intake, self.ingest_jobs, self.knowledge_search
        self.masker.detector.detect("warm up")
        self.embeddings.embed_query("warm up")
        if self.multilingual_index is not None:
            self.multilingual_index.encoder.query("warm up")

    # --- storage -------------------------------------------------------------------------------------
    @cached_property
    def engine(self) -> Engine:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return create_db_engine(self.settings.database_url_resolved)

    def migrate(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(self.settings.database_url_resolved)

    @cached_property
    def box(self) -> SecretBox:
        key = self.settings.vault_key.get_secret_value() if self.settings.vault_key else None
        return SecretBox(load_or_create_keys(key, self.settings.data_dir))

    @cached_property
    def app_secret(self) -> bytes:
        """The Meta app secret; in development one is generated into the data dir so `wepos chat` can sign."""
        if self.settings.whatsapp_app_secret:
            return self.settings.whatsapp_app_secret.get_secret_value().encode()
        return read_or_create_secret(self.settings.data_dir / "whatsapp_app_secret").encode()

    @cached_property
    def verify_token(self) -> str:
        if self.settings.whatsapp_verify_token:
            return self.settings.whatsapp_verify_token.get_secret_value()
        return read_or_create_secret(self.settings.data_dir / "whatsapp_verify_token")

    # --- privacy -------------------------------------------------------------------------------------
    @cached_property
    def analyzer(self) -> AnalyzerEngine:
        return self._analyzer or build_analyzer(self.settings.analyzer_backend)

    @cached_property
    def masker(self) -> Masker:
        detector = Detector(self.analyzer, score_threshold=self.settings.mask_score_threshold)
        return Masker(detector, self.vault)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.box)

    # --- retrieval -----------------------------------------------------------------------------------
    @cached_property
    def embeddings(self) -> Embeddings:
        return self._embeddings or build_embeddings(self.settings)

    @cached_property
    def chroma(self) -> ClientAPI:
        return build_chroma_client(url=self.settings.chroma_url, path=self.settings.chroma_dir)

    @cached_property
    def index(self) -> KnowledgeIndex:
        return KnowledgeIndex(self.chroma, self.settings.chroma_collection_prefix)

    @cached_property
    def multilingual_index(self) -> MultilingualIndex | None:
        """The second index, for questions in other languages (`WEPOS_MULTILINGUAL`); None when off."""
        if not self.settings.multilingual:
            return None
        return MultilingualIndex(self.chroma, self.index, E5Encoder(), self.settings.chroma_collection_prefix)

    @cached_property
    def retriever(self) -> Retriever:
        if self._retriever is not None:
            return self._retriever
        return Retriever(self.embeddings, self.index, top_k=self.settings.retrieval_top_k)

    @cached_property
    def pipeline(self) -> IngestPipeline:
        return IngestPipeline(
            engine=self.engine,
            masker=self.masker,
            embeddings=self.embeddings,
            index=self.index,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
        )

    @cached_property
    def knowledge(self) -> KnowledgeBase:
        return KnowledgeBase(engine=self.engine, index=self.index, embeddings=self.embeddings)

    @cached_property
    def approved_answer_index(self) -> ApprovedAnswerIndex:
        return ApprovedAnswerIndex(self.embeddings)

    @cached_property
    def approved_answers(self) -> ApprovedAnswers:
        return ApprovedAnswers(engine=self.engine, masker=self.masker)

    @cached_property
    def knowledge_search(self) -> KnowledgeSearch:
        return KnowledgeSearch(self.engine, self.masker, self.retriever, self.settings.min_confidence)

    @cached_property
    def ingest_jobs(self) -> IngestJobs:
        return IngestJobs(
            engine=self.engine,
            staging_dir=self.settings.data_dir / "uploads",
            pipeline=lambda: self.pipeline,
            knowledge=lambda: self.knowledge,
            quota_bytes=self.settings.knowledge_quota_bytes,
            idle_step=self.multilingual_index.sync_step if self.multilingual_index is not None else None,
        )

    # --- conversation --------------------------------------------------------------------------------
    @cached_property
    def responder(self) -> Responder:
        return self._responder or build_responder(self.settings, self.embeddings)

    @cached_property
    def assistant(self) -> Assistant:
        return Assistant(
            engine=self.engine,
            box=self.box,
            masker=self.masker,
            retriever=self.retriever,
            responder=self.responder,
            min_confidence=self.settings.min_confidence,
            answer_confidence=self.settings.answer_confidence,
            approved_answers=self.approved_answer_index,
            multilingual=(
                None
                if self.multilingual_index is None
                else (
                    self.multilingual_index,
                    CrossLingualResponder(
                        self.multilingual_index.encoder, confidence=self.settings.crosslingual_confidence
                    ),
                )
            ),
        )

    @cached_property
    def graph_client(self) -> CloudAPIClient:
        return CloudAPIClient(
            self.settings.whatsapp_api_base,
            timeout=self.settings.whatsapp_timeout_s,
            transport=self._graph_transport,
        )

    @cached_property
    def templates(self) -> TemplateCatalogue:
        """The businesses' approved message templates, kept in this process (`WEPOS_TEMPLATE_CACHE_S`)."""
        return TemplateCatalogue(self.graph_client, self.box, ttl_s=self.settings.template_cache_s)

    @cached_property
    def outbox(self) -> Outbox:
        kwargs = {"console": self._console} if self._console is not None else {}
        return Outbox(
            engine=self.engine, box=self.box, masker=self.masker, client=self.graph_client, **kwargs
        )

    @cached_property
    def intake(self) -> WebhookIntake:
        return WebhookIntake(self.engine, self.box, message_engine=self.intake_engine)

    @cached_property
    def intake_engine(self) -> Engine:
        """Where webhooks' messages are stored. On PostgreSQL a pool of its own that does not ping a
        connection before each use (a round trip every acknowledgement waited on): the intake tries once
        more on a connection found dead instead. On SQLite, the one engine."""
        if self.engine.dialect.name != "postgresql":
            return self.engine
        return create_db_engine(self.settings.database_url_resolved, pre_ping=False)

    @cached_property
    def worker(self) -> TurnWorker:
        return TurnWorker(
            engine=self.engine,
            assistant=self.assistant,
            outbox=self.outbox,
            poll_interval=self.settings.worker_poll_s,
            lease_s=self.settings.worker_lease_s,
            rate_limit=SenderRateLimit(self.settings.sender_rate_per_minute),
            lanes=SendLanes(self.outbox, lanes) if (lanes := self.settings.send_lanes_in_use) else None,
        )

    @cached_property
    def oidc(self) -> OidcClient | None:
        """The console's identity provider, when one is configured (discovery is fetched on first use)."""
        s = self.settings
        if not (s.oidc_issuer and s.oidc_client_id and s.oidc_client_secret):
            return None
        return OidcClient(s.oidc_issuer, s.oidc_client_id, s.oidc_client_secret.get_secret_value())

    def close(self) -> None:
        if "worker" in self.__dict__:
            self.worker.stop()
        if "ingest_jobs" in self.__dict__:
            self.ingest_jobs.stop()
        if "graph_client" in self.__dict__:
            self.graph_client.close()
        if "intake_engine" in self.__dict__ and self.intake_engine is not self.engine:
            self.intake_engine.dispose()
        if "chroma" in self.__dict__:
            close_chroma_client(self.chroma)
        if "engine" in self.__dict__:
            self.engine.dispose()
