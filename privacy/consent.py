"""The consent ledger: per contact and purpose, granted or withdrawn, by what means, under which policy.

Append-only. The newest record of a purpose is its current state; a purpose never recorded has its
default (the customer wrote to us, so answering them and processing their messages to do so is allowed;
marketing needs an explicit grant).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from functools import cache

from pydantic import BaseModel
from sqlalchemy import bindparam
from sqlmodel import Session, col, delete, select
from sqlmodel.sql.expression import Select

from core.db import utcnow
from core.errors import InvalidInput
from privacy.models import ConsentRecord

# Bump when the privacy notice changes, so each record says which text the customer was shown.
POLICY_VERSION = "2026-01"


class Purpose(StrEnum):
    SERVICE_REPLIES = "service_replies"  # the bot or a person answers the customer
    AI_PROCESSING = "ai_processing"  # retrieval and a language model work on their messages
    MARKETING = "marketing"  # messages the customer did not ask for


class ConsentSource(StrEnum):
    KEYWORD = "keyword"  # STOP / START typed by the customer
    AGE_STATEMENT = "age_statement"  # the customer said they are a child
    USER_PREFERENCES = "user_preferences"  # WhatsApp's `user_preferences` webhook (stop/resume marketing)
    AGENT = "agent"  # a person of the business, on the customer's word
    API = "api"  # the business's own systems


DEFAULTS = {Purpose.SERVICE_REPLIES: True, Purpose.AI_PROCESSING: True, Purpose.MARKETING: False}

# The age of digital consent we apply (GDPR art. 8 lets member states go down to 13; 16 is the default).
AGE_OF_CONSENT = 16
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
}  # fmt: skip
_AGE = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
# "I'm 14", "im 13", "I am 15 years old", "i am fourteen yo", "my age is 12", "I'm under 16".
# The age must end the clause (or be followed by years/yo), so "I'm 5 minutes away" is no age.
_STATED_AGE = re.compile(
    r"\b(?:i\s*'?\s*m|i\s+am|my\s+age\s+is|age)\s+(?:only\s+|just\s+)?" + _AGE
    + r"(?:\s*(?:years?|yrs?)(?:\s*old)?|\s*y\.?\s*/?\s*o\.?)?(?=\s*(?:$|[.,!?;:)]|\s(?:and|but|so|btw)\b))",
    re.IGNORECASE,
)  # fmt: skip
_UNDER = re.compile(r"\b(?:i\s*'?\s*m|i\s+am)\s+(?:under|below|not\s+yet)\s+(\d{1,2})\b", re.IGNORECASE)


def states_under_age(text: str, age: int = AGE_OF_CONSENT) -> bool:
    """Whether the customer says they are younger than `age` ("I'm 14", "I am 15 years old", "im 13")."""
    for match in _STATED_AGE.finditer(text):
        raw = match.group(1).lower()
        stated = _NUMBER_WORDS[raw] if raw in _NUMBER_WORDS else int(raw)
        if 0 < stated < age:
            return True
    return any(int(m.group(1)) <= age for m in _UNDER.finditer(text))


def record_consent(
    session: Session,
    *,
    business_id: int,
    contact_id: int,
    purpose: Purpose | str,
    granted: bool,
    source: ConsentSource | str,
    policy_version: str = POLICY_VERSION,
    at: datetime | None = None,
) -> ConsentRecord:
    """Append one grant or withdrawal."""
    try:
        purpose, source = Purpose(purpose), ConsentSource(source)
    except ValueError as exc:
        raise InvalidInput(
            f"purpose must be one of {', '.join(Purpose)}; source one of {', '.join(ConsentSource)}"
        ) from exc
    record = ConsentRecord(
        business_id=business_id,
        contact_id=contact_id,
        purpose=purpose,
        granted=granted,
        source=source,
        policy_version=policy_version,
        created_at=at or utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def record_consent_once(
    session: Session,
    *,
    business_id: int,
    contact_id: int,
    purpose: Purpose | str,
    granted: bool,
    source: ConsentSource | str,
    at: datetime | None,
) -> ConsentRecord | None:
    """Append a choice made at `at`, unless the ledger holds it already (None then).

    For events that carry their own time (a webhook Meta may deliver more than once): the same contact,
    purpose, choice, source and time is the same event. Recording it at its own time also keeps the order
    right when deliveries arrive out of order. Without a time a repeat cannot be told from a new event, so
    it is recorded: a second row of the same choice is harmless, a lost withdrawal is not."""
    if at is None:
        return record_consent(
            session,
            business_id=business_id,
            contact_id=contact_id,
            purpose=purpose,
            granted=granted,
            source=source,
        )
    seen = session.exec(
        select(ConsentRecord.id).where(
            ConsentRecord.contact_id == contact_id,
            ConsentRecord.purpose == Purpose(purpose),
            ConsentRecord.granted == granted,
            ConsentRecord.source == ConsentSource(source),
            ConsentRecord.created_at == at,
        )
    ).first()
    if seen is not None:
        return None
    return record_consent(
        session,
        business_id=business_id,
        contact_id=contact_id,
        purpose=purpose,
        granted=granted,
        source=source,
        at=at,
    )


def current_consent(session: Session, contact_id: int) -> dict[Purpose, bool]:
    """Every purpose's state now: its newest record, or the default (one statement)."""
    state = dict(DEFAULTS)
    # Oldest first, so each newer record overwrites.
    for purpose, granted in session.exec(_states(), params={"contact_id": contact_id}):
        state[Purpose(purpose)] = granted
    return state


@cache
def _states() -> Select[str, bool]:
    """A contact's records as (purpose, granted), oldest first (ids break ties within one clock tick).
    Built once: building a statement costs about what running this one does."""
    return (
        select(ConsentRecord.purpose, ConsentRecord.granted)
        .where(col(ConsentRecord.contact_id) == bindparam("contact_id"))
        .order_by(col(ConsentRecord.created_at), col(ConsentRecord.id))
    )


def allows(session: Session, contact_id: int, purpose: Purpose) -> bool:
    latest = session.exec(
        select(ConsentRecord.granted)
        .where(ConsentRecord.contact_id == contact_id, ConsentRecord.purpose == purpose)
        .order_by(col(ConsentRecord.created_at).desc(), col(ConsentRecord.id).desc())
    ).first()
    return DEFAULTS[purpose] if latest is None else latest


def consent_history(session: Session, contact_id: int) -> list[ConsentRecord]:
    """Every record of a contact, oldest first."""
    return list(
        session.exec(
            select(ConsentRecord)
            .where(ConsentRecord.contact_id == contact_id)
            .order_by(col(ConsentRecord.created_at), col(ConsentRecord.id))
        ).all()
    )


class ConsentRecordPublic(BaseModel):
    purpose: Purpose
    granted: bool
    source: ConsentSource
    policy_version: str
    at: datetime


class ConsentStatePublic(BaseModel):
    """A contact's consent now (every purpose, defaults included) and the ledger behind it, oldest first."""

    current: dict[Purpose, bool]
    history: list[ConsentRecordPublic]


def consent_state(session: Session, contact_id: int) -> ConsentStatePublic:
    """The current state and the full history of one contact, as the API shows them."""
    history = consent_history(session, contact_id)
    current = dict(DEFAULTS)
    for record in history:
        current[Purpose(record.purpose)] = record.granted
    return ConsentStatePublic(
        current=current,
        history=[
            ConsentRecordPublic(
                purpose=Purpose(r.purpose),
                granted=r.granted,
                source=ConsentSource(r.source),
                policy_version=r.policy_version,
                at=r.created_at,
            )
            for r in history
        ],
    )


def forget_consent(session: Session, contact_id: int) -> int:
    """Delete a contact's ledger (data-subject erasure only); returns how many records went."""
    result = session.exec(delete(ConsentRecord).where(col(ConsentRecord.contact_id) == contact_id))
    return int(result.rowcount or 0)
