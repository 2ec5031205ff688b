"""The one error hierarchy of Wepos.

Foreign exceptions are translated where they enter (`raise X(...) from exc`); the API maps these to HTTP
problems with a clear message, the CLI to a one-line error and a non-zero exit.
"""

from __future__ import annotations


class WeposError(Exception):
    """Base of every error Wepos raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(WeposError):
    """A setting is missing or invalid; start-up stops with a message naming the variable."""

    code = "config_error"


class InvalidInput(WeposError):
    """The caller sent something we cannot accept."""

    status_code = 400
    code = "invalid_input"


class Unauthenticated(WeposError):
    """No credentials (for a webhook: no signature)."""

    status_code = 401
    code = "unauthenticated"


class Forbidden(WeposError):
    """Credentials were given but are wrong."""

    status_code = 403
    code = "forbidden"


class NotFound(WeposError):
    status_code = 404
    code = "not_found"


class Conflict(WeposError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(WeposError):
    status_code = 413
    code = "payload_too_large"


class IngestError(WeposError):
    """A document could not be read; the rest of a batch still ingests."""

    status_code = 422
    code = "ingest_error"


class UnsupportedFormat(IngestError):
    code = "unsupported_format"


class CorruptDocument(IngestError):
    code = "corrupt_document"


class DocumentTooLarge(IngestError):
    """More pages, rows, passages or unpacked bytes than one document may hold."""

    status_code = 413
    code = "document_too_large"


class EmptyDocument(IngestError):
    code = "empty_document"


class NoExtractableText(EmptyDocument):
    """The file is readable but holds no text (a scanned PDF without OCR, an image-only page)."""

    code = "no_extractable_text"


class ChannelError(WeposError):
    """The messaging channel (WhatsApp Cloud API) refused or failed a call."""

    status_code = 502
    code = "channel_error"

    def __init__(self, message: str, *, retryable: bool, graph_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.graph_code = graph_code


class ModelError(WeposError):
    """The language model failed (timeout, refusal, bad answer)."""

    status_code = 502
    code = "model_error"


class VaultError(WeposError):
    """Encrypted data could not be decrypted (wrong or rotated-away key)."""

    code = "vault_error"
