"""The WhatsApp Cloud API channel: webhook signatures, payload parsing, and the Graph API client."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ChannelError, Forbidden, InvalidInput, Unauthenticated

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta's throttling codes come with HTTP 400 as well as 429: retry them with backoff.
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131056})
# Re-engagement window closed (131047): only an approved template can reach the customer now.
OUTSIDE_WINDOW_CODE = 131047
TEXT_KINDS = {"text", "button", "interactive"}
# Recorded for the conversation's history, never answered.
SILENT_KINDS = {"reaction", "system", "revoke", "edit", "ephemeral", "request_welcome"}
# Characters no database column or encryption takes: NUL (PostgreSQL refuses it) and lone surrogates
# (a JSON `\ud800` escape; they cannot be encoded to UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: ids, numbers, kinds
_INT32 = 2**31
# A `user_preferences` item's value -> whether the customer now accepts that category of message.
PREFERENCE_VALUES = {"stop": False, "resume": True}
# What a template listing asks for, and how many pages of it we read at most (Meta allows 250 templates
# per account, each in several languages: 50 pages of 100 is far more than any account holds).
TEMPLATE_FIELDS = "id,name,language,status,category,components,parameter_format"
MAX_TEMPLATE_PAGES = 50
# Unix seconds we accept as a webhook's time (2000-01-01 to 2100-01-01); anything else is no time at all.
_TIMESTAMP_RANGE = range(946_684_800, 4_102_444_800)


def verify_signature(app_secret: bytes, body: bytes, header: str | None) -> None:
    """Check `X-Hub-Signature-256` in constant time before the body is parsed at all."""
    if not header:
        raise Unauthenticated(f"missing {SIGNATURE_HEADER} header")
    scheme, _, received = header.partition("=")
    expected = hmac.new(app_secret, body, hashlib.sha256).hexdigest()
    if scheme != "sha256" or not hmac.compare_digest(expected, received.strip().lower()):
        raise Forbidden("webhook signature does not match")


def sign(app_secret: bytes, body: bytes) -> str:
    """The header value Meta would send for `body` (for `wepos chat`, tests and benchmarks)."""
    return "sha256=" + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def signed_headers(app_secret: bytes, body: bytes) -> dict[str, str]:
    """The headers of a webhook POST as Meta sends it."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(app_secret, body)}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Profile(_Lenient):
    name: str | None = None


class _Contact(_Lenient):
    wa_id: str | None = None
    profile: _Profile | None = None


class _Metadata(_Lenient):
    phone_number_id: str
    display_phone_number: str | None = None


class _Error(_Lenient):
    code: int | None = None
    title: str | None = None


class _Message(_Lenient):
    id: str
    type: str = "unknown"
    timestamp: str | None = None
    text: dict[str, Any] | None = None
    button: dict[str, Any] | None = None
    interactive: dict[str, Any] | None = None
    errors: list[_Error] | None = None
    # `from` is a keyword in Python.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def sender(self) -> Any:
        """`from` as sent: checked by the parser, which skips a message without a usable sender."""
        return (self.model_extra or {}).get("from")


class _UserPreference(_Lenient):
    # Typed loosely on purpose: each field is checked by the parser, which skips an item it cannot use.
    wa_id: Any = None
    category: Any = None
    value: Any = None
    timestamp: Any = None


class _Status(_Lenient):
    id: str
    status: str
    recipient_id: str | None = None
    errors: list[_Error] | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One customer message, as much as the bot needs of it."""

    phone_number_id: str
    wa_message_id: str
    from_wa_id: str
    profile_name: str | None
    kind: str
    text: str | None
    reply_id: str | None = None
    sent_at: datetime | None = None  # when the customer sent it (Meta's `timestamp`), if it came with one

    @property
    def answerable(self) -> bool:
        return self.kind in TEXT_KINDS and bool(self.text and self.text.strip())

    @property
    def silent(self) -> bool:
        return self.kind in SILENT_KINDS


@dataclass(frozen=True)
class StatusUpdate:
    phone_number_id: str
    wa_message_id: str
    status: str
    error_code: int | None = None
    error_title: str | None = None


@dataclass(frozen=True)
class PreferenceUpdate:
    """A customer's choice in WhatsApp's own settings (`user_preferences`): stop or resume a category of
    message from this business, e.g. `marketing_messages`."""

    phone_number_id: str
    wa_id: str
    profile_name: str | None
    category: str
    granted: bool  # "resume": True, "stop": False
    at: datetime | None  # when WhatsApp sent it; None when the payload carried no usable time


@dataclass
class WebhookBatch:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    preferences: list[PreferenceUpdate] = field(default_factory=list)
    skipped: int = 0  # parts of the payload we could not use (counted, never fatal)


def parse_webhook(body: bytes) -> WebhookBatch:
    """Every entry, change, message, status and preference of one POST; unknown keys tolerated, broken
    parts skipped.

    Whatever the signed body holds, the answer is a batch or `InvalidInput`: a part with a wrong type, an id
    no column can store (too long, NUL, unpaired surrogate) is skipped and counted, and free text is cleaned,
    so nothing downstream fails on a value Meta would never send."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8; nesting deeper than the parser goes
        raise InvalidInput("webhook body is not valid JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("entry", []), list):
        raise InvalidInput("webhook body must be an object with an 'entry' list")
    batch = WebhookBatch()
    for entry in document.get("entry") or []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                batch.skipped += 1
                continue
            _parse_value(value, batch)
    return batch


def _items(value: Any, batch: WebhookBatch) -> list[Any]:
    """A list from the payload; anything else (a number, a string, an object) is skipped."""
    if value is None:
        return []
    if not isinstance(value, list):
        batch.skipped += 1
        return []
    return value


def _identifier(value: Any, max_length: int) -> str | None:
    """An id as we store and look it up: printable ASCII without spaces, at most `max_length`; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > max_length or not _IDENTIFIER.match(value):
        return None
    return value


def _free_text(value: Any, max_length: int | None = None) -> str | None:
    """Words a person typed, without NUL and with unpaired surrogates replaced (U+FFFD)."""
    if not isinstance(value, str):
        return None
    cleaned = _UNSTORABLE.sub(lambda match: "" if match.group() == "\x00" else "\ufffd", value)
    return cleaned[:max_length] if max_length is not None else cleaned


def _timestamp(value: Any) -> datetime | None:
    """Unix seconds as Meta sends them (a number, or digits in a string) as aware UTC; else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in _TIMESTAMP_RANGE:
        return None
    return datetime.fromtimestamp(value, UTC)


def _parse_value(value: dict[str, Any], batch: WebhookBatch) -> None:
    try:
        metadata = _Metadata.model_validate(value.get("metadata"))
    except ValidationError:
        batch.skipped += 1
        return
    phone_number_id = _identifier(metadata.phone_number_id, 64)
    if phone_number_id is None:
        batch.skipped += 1
        return
    names: dict[str, str | None] = {}
    for raw_contact in _items(value.get("contacts"), batch):
        try:
            contact = _Contact.model_validate(raw_contact)
        except ValidationError:
            continue
        wa_id = _identifier(contact.wa_id, 64)
        if wa_id:
            names[wa_id] = _free_text(contact.profile.name, 256) if contact.profile else None
    for raw in _items(value.get("messages"), batch):
        try:
            message = _Message.model_validate(raw)
        except ValidationError:
            batch.skipped += 1
            continue
        sender = _identifier(message.sender(), 64)
        wa_message_id = _identifier(message.id, 255)
        if not sender or not wa_message_id:
            batch.skipped += 1
            continue
        text, reply_id = _text_of(message)
        batch.messages.append(
            InboundMessage(
                phone_number_id=phone_number_id,
                wa_message_id=wa_message_id,
                from_wa_id=sender,
                profile_name=names.get(sender),
                kind=_identifier(message.type, 32) or "unknown",
                text=_free_text(text),
                reply_id=_free_text(reply_id, 256),
                sent_at=_timestamp(message.timestamp),
            )
        )
    _parse_preferences(value, phone_number_id, names, batch)
    for raw in _items(value.get("statuses"), batch):
        try:
            status = _Status.model_validate(raw)
        except ValidationError:
            batch.skipped += 1
            continue
        wa_message_id = _identifier(status.id, 255)
        if wa_message_id is None:
            batch.skipped += 1
            continue
        error = status.errors[0] if status.errors else None
        code = error.code if error else None
        batch.statuses.append(
            StatusUpdate(
                phone_number_id=phone_number_id,
                wa_message_id=wa_message_id,
                status=_identifier(status.status, 32) or "unknown",
                error_code=code if code is not None and -_INT32 <= code < _INT32 else None,
                error_title=_free_text(error.title, 255) if error else None,
            )
        )


def _parse_preferences(
    value: dict[str, Any], phone_number_id: str, names: dict[str, str | None], batch: WebhookBatch
) -> None:
    """The `user_preferences` field: Meta sends it as its own webhook field, in the same change shape."""
    for raw in _items(value.get("user_preferences"), batch):
        try:
            item = _UserPreference.model_validate(raw)
        except ValidationError:
            batch.skipped += 1
            continue
        wa_id = _identifier(item.wa_id, 64)
        category = _identifier(item.category, 64)
        choice = item.value.strip().lower() if isinstance(item.value, str) else None
        if wa_id is None or category is None or choice not in PREFERENCE_VALUES:
            batch.skipped += 1
            continue
        batch.preferences.append(
            PreferenceUpdate(
                phone_number_id=phone_number_id,
                wa_id=wa_id,
                profile_name=names.get(wa_id),
                category=category,
                granted=PREFERENCE_VALUES[choice],
                at=_timestamp(item.timestamp),
            )
        )


def _text_of(message: _Message) -> tuple[str | None, str | None]:
    """The words of a message: text body, or the title of a tapped button or list row."""
    if message.type == "text" and message.text:
        body = message.text.get("body")
        return (body if isinstance(body, str) else None), None
    if message.type == "button" and message.button:
        return _str(message.button.get("text")), _str(message.button.get("payload"))
    if message.type == "interactive" and message.interactive:
        for key in ("button_reply", "list_reply"):
            reply = message.interactive.get(key)
            if isinstance(reply, dict):
                return _str(reply.get("title")), _str(reply.get("id"))
    return None, None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def webhook_envelope(phone_number_id: str, **value: Any) -> dict[str, Any]:
    """A webhook body as Meta wraps it: one entry, one `messages` change carrying `value`."""
    metadata = {"display_phone_number": "15550000000", "phone_number_id": phone_number_id}
    change_value = {"messaging_product": "whatsapp", "metadata": metadata, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": change_value}]}],
    }


def preference_webhook(
    *, phone_number_id: str, wa_id: str, value: str, timestamp: int, category: str = "marketing_messages"
) -> dict[str, Any]:
    """A `user_preferences` webhook body shaped as Meta documents it (for tests)."""
    detail = f"User requested to {value} marketing messages"
    item = {"wa_id": wa_id, "detail": detail, "category": category, "value": value, "timestamp": timestamp}
    body = webhook_envelope(phone_number_id, contacts=[{"wa_id": wa_id}], user_preferences=[item])
    body["entry"][0]["changes"][0]["field"] = "user_preferences"
    return body


def text_webhook(
    *, phone_number_id: str, sender: str, name: str | None, wa_message_id: str, text: str
) -> dict[str, Any]:
    """A text-message webhook body shaped as Meta sends it (for `wepos chat`, tests and benchmarks)."""
    message = {
        "from": sender,
        "id": wa_message_id,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    contact = {"wa_id": sender, "profile": {"name": name} if name else {}}
    return webhook_envelope(phone_number_id, contacts=[contact], messages=[message])


class CloudAPIClient:
    """Sends through Meta's Graph API. Foreign errors become `ChannelError` with `retryable` set."""

    def __init__(
        self, base_url: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/") + "/", timeout=timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    def send_text(self, *, phone_number_id: str, token: str, to: str, body: str) -> str:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": body},
        }
        return self._message_id(self._post(phone_number_id, token, payload))

    def send_buttons(
        self, *, phone_number_id: str, token: str, to: str, body: str, buttons: list[tuple[str, str]]
    ) -> str:
        """An interactive message with up to three reply buttons, given as (id, title) pairs."""
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": body},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": bid, "title": title}} for bid, title in buttons
                    ]
                },
            },
        }
        return self._message_id(self._post(phone_number_id, token, payload))

    def send_list(
        self,
        *,
        phone_number_id: str,
        token: str,
        to: str,
        body: str,
        button: str,
        rows: list[tuple[str, str]],
    ) -> str:
        """An interactive list message: `button` opens one section of up to ten rows, given as (id, title)
        pairs (ids up to 200 characters, titles up to 24; the button's label up to 20)."""
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": body},
                "action": {
                    "button": button,
                    "sections": [{"rows": [{"id": rid, "title": title} for rid, title in rows]}],
                },
            },
        }
        return self._message_id(self._post(phone_number_id, token, payload))

    def send_template(
        self,
        *,
        phone_number_id: str,
        token: str,
        to: str,
        name: str,
        language: str,
        components: list[dict[str, Any]] | None = None,
    ) -> str:
        """An approved message template: the only kind allowed outside the 24-hour service window.
        `components` carry its variables' values (`template_components`)."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = components
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": template,
        }
        return self._message_id(self._post(phone_number_id, token, payload))

    def message_templates(
        self, *, waba_id: str, token: str, page_size: int = 100, max_pages: int = MAX_TEMPLATE_PAGES
    ) -> list[dict[str, Any]]:
        """Every message template of a WhatsApp Business Account, as the Graph API describes them, read page
        by page (`paging.cursors.after` while `paging.next` says there is more). Any status: the caller
        filters."""
        templates: list[dict[str, Any]] = []
        after: str | None = None
        for _page in range(max_pages):
            params: dict[str, Any] = {"fields": TEMPLATE_FIELDS, "limit": page_size}
            if after:
                params["after"] = after
            data = self._request("GET", f"{waba_id}/message_templates", token, params=params)
            page = data.get("data")
            if not isinstance(page, list):
                raise ChannelError("Graph API answered the templates without a `data` list", retryable=False)
            templates.extend(t for t in page if isinstance(t, dict))
            paging = data.get("paging")
            paging = paging if isinstance(paging, dict) else {}
            cursors = paging.get("cursors")
            cursor = cursors.get("after") if isinstance(cursors, dict) else None
            after = cursor if isinstance(cursor, str) else None
            if not paging.get("next") or not after:
                return templates
        raise ChannelError(f"the business has more than {max_pages} pages of templates", retryable=False)

    def mark_read(self, *, phone_number_id: str, token: str, message_id: str, typing: bool = False) -> None:
        """Blue ticks for the customer's message and, with `typing`, the typing indicator while we compose."""
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        }
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        self._post(phone_number_id, token, payload)

    @staticmethod
    def _message_id(data: dict[str, Any]) -> str:
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise ChannelError("Graph API answered without a message id", retryable=False) from exc

    def _post(self, phone_number_id: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", f"{phone_number_id}/messages", token, json=payload)

    def _request(self, method: str, path: str, token: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        except httpx.TimeoutException as exc:
            raise ChannelError("Graph API timed out", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise ChannelError(f"Graph API unreachable ({type(exc).__name__})", retryable=True) from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.is_success:
            return data if isinstance(data, dict) else {}
        error = data.get("error", {}) if isinstance(data, dict) else {}
        code = error.get("code") if isinstance(error, dict) else None
        retryable = response.status_code == 429 or response.status_code >= 500 or code in RATE_LIMIT_CODES
        raise ChannelError(
            f"Graph API refused the request (HTTP {response.status_code}, code {code})",
            retryable=retryable,
            graph_code=code if isinstance(code, int) else None,
        )
