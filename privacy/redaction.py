"""The redaction log: one row per masked span, written in the same transaction as the masked text."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, delete, func, select

from core.errors import InvalidInput
from privacy.masker import MaskedSpan
from privacy.models import RedactionEvent, RedactionEventPublic, RedactionPage


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
                rule=span.rule,
                placeholder=span.placeholder,
            )
        )
        count += 1
    return count


def forget_redactions(session: Session, *, source_kind: str, source_ids: list[int]) -> int:
    """Delete the log rows of these sources (their text is being erased); returns how many went."""
    if not source_ids:
        return 0
    result = session.exec(
        delete(RedactionEvent).where(
            col(RedactionEvent.source_kind) == source_kind, col(RedactionEvent.source_id).in_(source_ids)
        )
    )
    return int(result.rowcount or 0)


def list_redactions(
    session: Session,
    *,
    business_id: int,
    entity_type: str | None = None,
    recognizer: str | None = None,
    min_score: float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> RedactionPage:
    """One business's redaction log, newest first, filtered; a page of it and the filtered total."""
    if since is not None and until is not None and since > until:
        raise InvalidInput("`since` must not be after `until`")
    conditions = [col(RedactionEvent.business_id) == business_id]
    if entity_type:
        conditions.append(col(RedactionEvent.entity_type) == entity_type)
    if recognizer:
        conditions.append(col(RedactionEvent.recognizer) == recognizer)
    if min_score is not None:
        conditions.append(col(RedactionEvent.score) >= min_score)
    if since is not None:
        conditions.append(col(RedactionEvent.created_at) >= since)
    if until is not None:
        conditions.append(col(RedactionEvent.created_at) < until)
    total = session.exec(select(func.count()).select_from(RedactionEvent).where(*conditions)).one()
    rows = session.exec(
        select(RedactionEvent)
        .where(*conditions)
        .order_by(col(RedactionEvent.created_at).desc(), col(RedactionEvent.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [RedactionEventPublic.model_validate(row, from_attributes=True) for row in rows]
    return RedactionPage(items=items, total=total, limit=limit, offset=offset)
