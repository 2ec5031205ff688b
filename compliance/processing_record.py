"""The business's record of processing (GDPR art. 30 style), generated from the live configuration: which
systems receive customers' data, what each receives, where it is kept and for how long. Generated on every
request, so it cannot drift from what the running install actually does."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlmodel import Session, select

from bot.models import policy_for
from core.db import utcnow
from core.errors import ConfigError
from core.settings import LLMProvider, Settings
from core.tenants import Business
from privacy.detect import DEFAULT_ENTITIES
from privacy.models import PrivacyPolicy

OPENAI_DEFAULT_ENDPOINT = "https://api.openai.com/v1"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class Recipient(BaseModel):
    """A system that receives customers' data: an outside processor, or a part running in this install."""

    name: str
    purpose: str
    endpoint: str | None  # scheme, host and path only: never a credential
    external: bool  # the data leaves this install's machines
    active: bool  # in use with the current configuration
    receives: list[str]


class Store(BaseModel):
    name: str
    location: str
    holds: str
    retention: str
    retention_days: int | None  # None: kept until erased (or, for records without personal data, kept)


class ProcessingRecord(BaseModel):
    controller: str
    tenant: str
    compliance_contact: str | None
    generated_at: datetime
    purposes: list[str]
    data_subjects: list[str]
    data_categories: list[str]
    masked_entity_types: list[str]
    recipients: list[Recipient]
    stores: list[Store]
    safeguards: list[str]


def processing_record(session: Session, settings: Settings, business: Business) -> ProcessingRecord:
    """The record for one business under the settings this process runs with."""
    assert business.id is not None
    policy = policy_for(session, business.id)
    days = policy.retention_days
    privacy = session.exec(select(PrivacyPolicy).where(PrivacyPolicy.business_id == business.id)).first()
    masked = (json.loads(privacy.masked_entities) if privacy else []) or list(DEFAULT_ENTITIES)
    return ProcessingRecord(
        controller=business.display_name,
        tenant=business.name,
        compliance_contact=policy.compliance_contact or None,
        generated_at=utcnow(),
        purposes=[
            "Answering customers' questions on WhatsApp from the business's own documents",
            "Handing conversations to the business's staff when the assistant cannot help",
            "Keeping customers' consent choices (STOP, START, marketing) and honouring data-subject requests",
            f"De-identified analytics: counts and rates only, any count below {settings.analytics_k} suppressed",
        ],
        data_subjects=["Customers and prospective customers who message the business on WhatsApp"],
        data_categories=[
            "WhatsApp number and profile name",
            "What customers write, which may hold names, contact details, addresses, payment or identity numbers",
            "Consent choices and data-subject requests",
            "Satisfaction ratings (1-5) of resolved conversations, when the business asks for them",
            "Delivery statuses of replies",
        ],
        masked_entity_types=sorted(masked),
        recipients=[
            _whatsapp(settings, business),
            _language_model(settings),
            _vector_store(settings),
            _database(settings),
        ],
        stores=_stores(days),
        safeguards=[
            "Personal data is detected and masked before anything is embedded, indexed, stored as text, "
            "logged or shown to a language model",
            "Original values are encrypted (Fernet) in a vault tied to one conversation and restored only "
            "when a reply is sent",
            "Phone numbers and names are stored encrypted, found by a keyed hash",
            "Logs carry ids, counts and timings only, never message text",
            "Webhook deliveries are checked against Meta's signature; API keys are stored as hashes",
            "Erasure deletes messages, originals, redaction log, consent and the contact, keeping counts only",
        ],
    )


def _whatsapp(settings: Settings, business: Business) -> Recipient:
    live = business.access_token_sealed is not None
    return Recipient(
        name="WhatsApp Business Cloud API (Meta Platforms)",
        purpose="The channel: carries customers' messages to the business and its replies back"
        + ("" if live else " (console mode: no access token, so nothing is sent)"),
        endpoint=_endpoint(settings.whatsapp_api_base),
        external=True,
        active=live,
        receives=[
            "Customers' phone numbers",
            "Replies as the customer reads them, their own details restored (Meta already holds what they sent)",
        ],
    )


def _language_model(settings: Settings) -> Recipient:
    match settings.llm_provider:
        case LLMProvider.EXTRACTIVE:
            return Recipient(
                name="Answer composer (extractive, inside Wepos)",
                purpose="Picks the answer from the business's documents; no language model is called",
                endpoint=None,
                external=False,
                active=True,
                receives=["Masked text only: the masked question and masked passages, in memory"],
            )
        case LLMProvider.OPENAI:
            endpoint = settings.llm_base_url or OPENAI_DEFAULT_ENDPOINT
            model = f" ({settings.llm_model})" if settings.llm_model else ""
            return Recipient(
                name=f"Language model, OpenAI-compatible API{model}",
                purpose="Writes answers from the retrieved passages",
                endpoint=_endpoint(endpoint),
                external=not _loopback(endpoint),
                active=True,
                receives=[
                    "Masked text only: the masked question, the last masked turns of the conversation, "
                    "masked knowledge passages and the business's instructions",
                    "Never a phone number, a name or any other original value",
                ],
            )
        case _:
            raise ConfigError(f"WEPOS_LLM_PROVIDER: unknown provider {settings.llm_provider!r}")


def _vector_store(settings: Settings) -> Recipient:
    receives = ["Masked knowledge passages and their embeddings", "No customer messages"]
    if settings.chroma_url:
        return Recipient(
            name="Chroma vector store (server)",
            purpose="Finds the passages that answer a question",
            endpoint=_endpoint(settings.chroma_url),
            external=not _loopback(settings.chroma_url),
            active=True,
            receives=receives,
        )
    return Recipient(
        name="Chroma vector store (embedded in the data directory)",
        purpose="Finds the passages that answer a question",
        endpoint=None,
        external=False,
        active=True,
        receives=receives,
    )


def _database(settings: Settings) -> Recipient:
    url = settings.database_url_resolved
    receives = [
        "Masked message text",
        "Encrypted original values, phone numbers and profile names",
        "Consent ledger, data-subject requests, redaction log (types and offsets, never values)",
    ]
    if url.startswith("sqlite"):
        return Recipient(
            name="SQLite database (a file in the data directory)",
            purpose="Stores conversations, the vault and the compliance records",
            endpoint=None,
            external=False,
            active=True,
            receives=receives,
        )
    parts = urlsplit(url)
    host = parts.hostname or ""
    return Recipient(
        name="PostgreSQL database",
        purpose="Stores conversations, the vault and the compliance records",
        endpoint=f"postgresql://{host}{f':{parts.port}' if parts.port else ''}{parts.path}",
        external=not _loopback(url),
        active=True,
        receives=receives,
    )


def _stores(days: int) -> list[Store]:
    after = f"{days} days after the conversation's last message"
    return [
        Store(
            name="Conversations and messages",
            location="database",
            holds="masked text",
            retention=after,
            retention_days=days,
        ),
        Store(
            name="Vault",
            location="database",
            holds="original values, encrypted",
            retention=after,
            retention_days=days,
        ),
        Store(
            name="Redaction log",
            location="database",
            holds="entity type, offsets, score (never the value)",
            retention=after,
            retention_days=days,
        ),
        Store(
            name="Contacts and consent ledger",
            location="database",
            holds="encrypted number and name, consent choices",
            retention="until the customer's data is erased (so a STOP outlives the conversation)",
            retention_days=None,
        ),
        Store(
            name="Data-subject requests",
            location="database",
            holds="kind, status, deadline; unlinked from the customer once erased",
            retention="kept as the record of what was asked and done",
            retention_days=None,
        ),
        Store(
            name="Erasure records",
            location="database",
            holds="keyed hash and counts only",
            retention="kept as proof of erasure",
            retention_days=None,
        ),
        Store(
            name="Knowledge base",
            location="database and vector store",
            holds="the business's documents, masked",
            retention="until the business deletes the document",
            retention_days=None,
        ),
        Store(
            name="Logs",
            location="data directory",
            holds="ids, counts and timings (no personal data)",
            retention="rotated by the operator",
            retention_days=None,
        ),
    ]


def _endpoint(url: str) -> str:
    """Scheme, host, port and path: user names, passwords and query strings are left out."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK


# --- the printable page ---------------------------------------------------------------------------
STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:1.8rem;border-bottom:1px solid #999}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;"
    "border:1px solid #bbb}th{background:#eee}.muted{color:#555}ul{padding-left:1.2rem}"
    "@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}"
)
# The page's only style, allowed by its hash: the page runs no script and loads nothing.
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HTML_CSP = f"default-src 'none'; style-src '{STYLE_HASH}'; frame-ancestors 'none'; base-uri 'none'"


def render_html(record: ProcessingRecord) -> str:
    """The record as one self-contained printable page (no scripts, no external assets)."""
    e = escape
    recipients = "".join(
        f"<tr><td>{e(r.name)}</td><td>{e(r.purpose)}</td><td>{e(r.endpoint or 'inside this install')}</td>"
        f"<td>{'yes' if r.external else 'no'}</td><td>{'yes' if r.active else 'no'}</td>"
        f"<td>{_list(r.receives)}</td></tr>"
        for r in record.recipients
    )
    stores = "".join(
        f"<tr><td>{e(s.name)}</td><td>{e(s.location)}</td><td>{e(s.holds)}</td><td>{e(s.retention)}</td></tr>"
        for s in record.stores
    )
    contact = e(record.compliance_contact or "not set (wepos tenant configure --compliance-contact)")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Record of processing: {e(record.controller)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Record of processing activities</h1><p class=muted>{e(record.controller)} ({e(record.tenant)}), "
        f"generated {e(record.generated_at.strftime('%Y-%m-%d %H:%M UTC'))} from the live configuration</p>"
        f"<p>Compliance contact: {contact}</p>"
        f"<h2>Purposes</h2>{_list(record.purposes)}"
        f"<h2>Data subjects</h2>{_list(record.data_subjects)}"
        f"<h2>Categories of data</h2>{_list(record.data_categories)}"
        f"<p>Masked before storage and before any AI: {e(', '.join(record.masked_entity_types))}</p>"
        "<h2>Recipients and processors</h2><table><tr><th>system</th><th>purpose</th><th>endpoint</th>"
        f"<th>external</th><th>active</th><th>receives</th></tr>{recipients}</table>"
        "<h2>Stores and retention</h2><table><tr><th>store</th><th>where</th><th>holds</th><th>retention</th>"
        f"</tr>{stores}</table>"
        f"<h2>Safeguards</h2>{_list(record.safeguards)}"
        "</body></html>"
    )


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"
