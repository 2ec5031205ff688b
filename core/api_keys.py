"""API keys: machine access for one business. Shown once at creation; only a hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from core.db import utcnow
from core.errors import NotFound, Unauthenticated

KEY_PREFIX = "wpk"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    name: str = Field(max_length=100)
    lookup_id: str = Field(max_length=16, unique=True)  # the public part of the key, for lookup
    secret_hash: str = Field(max_length=64)  # sha256 of the whole key: it is random, so no salt is needed
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyPublic(SQLModel):
    id: int
    name: str
    lookup_id: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `secret` is the only copy there will ever be."""

    key: ApiKey
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_api_key(session: Session, *, business_id: int, name: str = "default") -> IssuedKey:
    lookup_id = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}_{lookup_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(business_id=business_id, name=name[:100], lookup_id=lookup_id, secret_hash=_digest(secret))
    session.add(key)
    session.flush()
    return IssuedKey(key, secret)


def authenticate_api_key(session: Session, presented: str) -> ApiKey:
    """The live key matching `presented`, or `Unauthenticated` (the same answer for every kind of wrong)."""
    parts = presented.strip().split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        raise Unauthenticated("invalid API key")
    key = session.exec(select(ApiKey).where(ApiKey.lookup_id == parts[1])).first()
    if (
        key is None
        or key.revoked_at is not None
        or not hmac.compare_digest(key.secret_hash, _digest(presented.strip()))
    ):
        raise Unauthenticated("invalid API key")
    key.last_used_at = utcnow()
    session.add(key)
    return key


def list_api_keys(session: Session, business_id: int) -> list[ApiKey]:
    return list(
        session.exec(select(ApiKey).where(ApiKey.business_id == business_id).order_by(col(ApiKey.id))).all()
    )


def revoke_api_key(session: Session, *, business_id: int, lookup_id: str) -> ApiKey:
    key = session.exec(
        select(ApiKey).where(ApiKey.business_id == business_id, ApiKey.lookup_id == lookup_id)
    ).first()
    if key is None:
        raise NotFound(f"no API key {lookup_id!r} for this tenant")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
    return key


def to_public(key: ApiKey) -> ApiKeyPublic:
    assert key.id is not None
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        lookup_id=key.lookup_id,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )
