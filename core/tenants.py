"""The business (tenant): every other record belongs to one. Lives in core because every layer is tenant-scoped."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, select

from core.crypto import SecretBox
from core.db import utcnow
from core.errors import Conflict, InvalidInput, NotFound

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
WABA_ID_MAX = 64


class BusinessBase(SQLModel):
    name: str = Field(index=True, unique=True, max_length=63)
    display_name: str = Field(max_length=200)
    phone_number_id: str = Field(index=True, unique=True, max_length=64)


class Business(BusinessBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # The Cloud API bearer token, encrypted at rest; None means console mode (replies printed, not sent).
    access_token_sealed: str | None = None
    # The WhatsApp Business Account id: where the business's approved message templates are read from.
    waba_id: str | None = Field(default=None, max_length=WABA_ID_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class BusinessPublic(BusinessBase):
    id: int
    has_access_token: bool
    waba_id: str | None
    created_at: datetime


def to_public(business: Business) -> BusinessPublic:
    assert business.id is not None
    return BusinessPublic(
        id=business.id,
        name=business.name,
        display_name=business.display_name,
        phone_number_id=business.phone_number_id,
        has_access_token=business.access_token_sealed is not None,
        waba_id=business.waba_id,
        created_at=business.created_at,
    )


def create_business(
    session: Session,
    *,
    name: str,
    phone_number_id: str,
    box: SecretBox,
    display_name: str | None = None,
    access_token: str | None = None,
    waba_id: str | None = None,
) -> Business:
    """Register a business and its WhatsApp number; names are lower-case slugs."""
    if not _NAME.match(name):
        raise InvalidInput(
            "tenant name must be 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
        )
    if not phone_number_id.isdigit():
        raise InvalidInput("phone number id must be digits (the Cloud API's phone_number_id)")
    if session.exec(select(Business).where(Business.name == name)).first():
        raise Conflict(f"tenant {name!r} already exists")
    if session.exec(select(Business).where(Business.phone_number_id == phone_number_id)).first():
        raise Conflict("that phone number id already belongs to another tenant")
    business = Business(
        name=name,
        display_name=display_name or name.replace("-", " ").title(),
        phone_number_id=phone_number_id,
        access_token_sealed=box.seal(access_token) if access_token else None,
        waba_id=validate_waba_id(waba_id),
    )
    session.add(business)
    session.flush()
    return business


def get_business_by_name(session: Session, name: str) -> Business:
    business = session.exec(select(Business).where(Business.name == name)).first()
    if business is None:
        raise NotFound(f"no tenant named {name!r}")
    return business


def find_business_by_phone_number_id(session: Session, phone_number_id: str) -> Business | None:
    return session.exec(select(Business).where(Business.phone_number_id == phone_number_id)).first()


def validate_waba_id(waba_id: str | None) -> str | None:
    """A WhatsApp Business Account id as stored: digits, or None (an empty value clears it)."""
    value = (waba_id or "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > WABA_ID_MAX:
        raise InvalidInput(
            "the WhatsApp Business Account id must be digits (the WABA id in Meta's Business Manager)"
        )
    return value


def set_waba_id(session: Session, business: Business, waba_id: str | None) -> Business:
    """Set (or, with an empty value, clear) where the business's message templates are read from."""
    business.waba_id = validate_waba_id(waba_id)
    session.add(business)
    session.flush()
    return business
