"""The business's approved message templates, read from its WhatsApp Business Account through the Graph API
and kept a while in this process (a page view never waits on Meta), for agents to send outside the 24-hour
window."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from bot.channel.templates import MessageTemplate, approved_templates
from bot.channel.whatsapp import CloudAPIClient
from core.crypto import SecretBox
from core.errors import ChannelError, InvalidInput
from core.tenants import Business

log = logging.getLogger(__name__)

CACHE_S = 600.0  # how long a business's templates are kept before they are read again
FAILURE_CACHE_S = 30.0  # how long a failed read is answered from memory (no hammering Meta on each view)


class TemplatePublic(BaseModel):
    """An approved template as the API and the CLI show it."""

    name: str
    language: str
    category: str
    header: str | None
    body: str
    footer: str | None
    variables: list[str]
    sendable: bool
    unsupported: str | None


def template_public(template: MessageTemplate) -> TemplatePublic:
    return TemplatePublic(
        name=template.name,
        language=template.language,
        category=template.category,
        header=template.header,
        body=template.body,
        footer=template.footer,
        variables=list(template.variables),
        sendable=template.unsupported is None,
        unsupported=template.unsupported,
    )


@dataclass(frozen=True)
class _Entry:
    waba_id: str
    at: float
    templates: list[MessageTemplate] | None
    error: ChannelError | None = None


class TemplateCatalogue:
    """Each business's approved templates, read on first use and again after `ttl_s` (or on `refresh`).
    A failed read is remembered for `failure_ttl_s`, then tried again."""

    def __init__(
        self,
        client: CloudAPIClient,
        box: SecretBox,
        *,
        ttl_s: float = CACHE_S,
        failure_ttl_s: float = FAILURE_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._box = box
        self._ttl_s = ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}

    def approved(self, business: Business, *, refresh: bool = False) -> list[MessageTemplate]:
        """The business's approved templates, by name and language. `InvalidInput` when it has no WhatsApp
        Business Account id or no access token; `ChannelError` when the Graph API fails or times out."""
        assert business.id is not None
        if not business.waba_id:
            raise InvalidInput(
                "this business has no WhatsApp Business Account id, so its approved templates cannot be "
                "read: an admin sets it in Settings (or `wepos tenant configure NAME --waba-id ID`)"
            )
        if business.access_token_sealed is None:
            raise InvalidInput(
                "this business has no access token (console mode): templates are read from WhatsApp with it"
            )
        now = self._clock()
        with self._lock:
            entry = self._entries.get(business.id)
        if entry is not None and entry.waba_id == business.waba_id and not refresh:
            age = now - entry.at
            if entry.templates is not None and age < self._ttl_s:
                return entry.templates
            if entry.error is not None and age < self._failure_ttl_s:
                raise entry.error
        entry = self._read(business.id, business.waba_id, business.access_token_sealed, now)
        with self._lock:
            self._entries[business.id] = entry
        if entry.error is not None:
            raise entry.error
        assert entry.templates is not None
        return entry.templates

    def find(self, business: Business, name: str, language: str) -> MessageTemplate:
        """One approved template; refused (`InvalidInput`) when the business has none of that name and
        language, or one that is not approved (any more)."""
        for template in self.approved(business):
            if template.key == (name, language):
                return template
        raise InvalidInput(
            f"template {name!r} ({language}) is not one of this business's approved templates "
            "(refresh the list if it was approved just now)"
        )

    def forget(self, business_id: int) -> None:
        """Drop what is kept of one business (its WABA id or token changed): the next use reads again."""
        with self._lock:
            self._entries.pop(business_id, None)

    def _read(self, business_id: int, waba_id: str, token_sealed: str, now: float) -> _Entry:
        started = time.perf_counter()
        try:
            described = self._client.message_templates(waba_id=waba_id, token=self._box.open(token_sealed))
        except ChannelError as exc:
            log.warning(
                "templates could not be read",
                extra={"business_id": business_id, "graph_code": exc.graph_code, "retryable": exc.retryable},
            )
            error = ChannelError(
                f"the approved templates could not be read from WhatsApp ({exc.message}); try again shortly",
                retryable=exc.retryable,
                graph_code=exc.graph_code,
            )
            return _Entry(waba_id, now, None, error)
        templates = approved_templates(described)
        log.info(
            "templates read",
            extra={
                "business_id": business_id,
                "listed": len(described),
                "approved": len(templates),
                "ms": round((time.perf_counter() - started) * 1000),
            },
        )
        return _Entry(waba_id, now, templates)
