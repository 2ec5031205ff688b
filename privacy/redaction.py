"""The redaction log: one row per masked span, written in the same transaction as the masked text."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from privacy.masker import MaskedSpan
from privacy.models import RedactionEvent


def record_redactions(
    session: Session, *, business_id: int, source_kind: str, source_id: int, spans: Iterable[MaskedSpan]
) -> int:
    """Log each span (type, offsets, score, recognizer, placeholder; never the value). Returns the count."""
    count = 0
    for span in spans:
        session.add(
            RedactionEvent(
                business_id=business_id,
                source_kind=source_kind,
                source_id=source_id,
                entity_type=span.entity_type,
                start=span.start,
                end=span.end,
                score=round(span.score, 4),
                recognizer=span.recognizer,
                placeholder=span.placeholder,
            )
        )
        count += 1
    return count
