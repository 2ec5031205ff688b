"""The consent ledger: per contact and purpose, granted or withdrawn, by what means, under which policy.

Append-only. The newest record of a purpose is its current state; a purpose never recorded has its
default (the customer wrote to us, so answering them and processing their messages to do so is allowed;
marketing needs an explicit grant).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, delete, select

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
    WHATSAPP = "whatsapp"  # a WhatsApp preference webhook
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


def current_consent(session: Session, contact_id: int) -> dict[Purpose, bool]:
    """Every purpose's state now: its newest record, or the default."""
    state = dict(DEFAULTS)
    # Oldest first, so each newer record overwrites; ids break ties within one clock tick.
    for record in consent_history(session, contact_id):
        state[Purpose(record.purpose)] = record.granted
    return state


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


def forget_consent(session: Session, contact_id: int) -> int:
    """Delete a contact's ledger (data-subject erasure only); returns how many records went."""
    result = session.exec(delete(ConsentRecord).where(col(ConsentRecord.contact_id) == contact_id))
    return int(result.rowcount or 0)
