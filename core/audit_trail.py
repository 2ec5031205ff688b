"""The audit log: who revealed personal data, and every admin and compliance action, per business.

Entries form a hash chain: each stores the hash of the one before it and a hash over its own fields, and the
sequence numbers of a business have no gaps. Editing, deleting or inserting a row breaks the chain, and
`verify_chain` (`wepos audit verify`) says where. Entries hold ids, counts and staff identities: never a
customer's personal data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, func, select

from core.db import savepoint, utcnow
from core.errors import Conflict

GENESIS = "0" * 64


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("business_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    seq: int  # 1, 2, 3... per business; the unique pair makes two writers unable to fork the chain
    actor: str = Field(max_length=300)  # "user:<id> <e-mail>", "cli" or "system"
    action: str = Field(max_length=64)  # e.g. "conversation.reveal", "user.create", "dsar.erase"
    target: str = Field(max_length=200)  # e.g. "conversation:12"
    detail: str = Field(default="{}", max_length=2000)  # JSON of counts and names, never customer data
    created_at: datetime = Field(default_factory=utcnow)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditEntryPublic(SQLModel):
    seq: int
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    created_at: datetime


def to_public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(
        seq=entry.seq,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        detail=json.loads(entry.detail),
        created_at=entry.created_at,
    )


@dataclass(frozen=True)
class ChainBreak:
    business_id: int
    seq: int
    reason: str


def _entry_hash(entry: AuditEntry) -> str:
    fields = [
        entry.business_id,
        entry.seq,
        entry.actor,
        entry.action,
        entry.target,
        entry.detail,
        entry.created_at.isoformat(timespec="seconds"),
        entry.prev_hash,
    ]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode("utf-8")).hexdigest()


def record_action(
    session: Session,
    *,
    business_id: int,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the business's chain (in the caller's transaction: it commits with the action)."""
    body = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"))
    for _ in range(5):
        last = session.exec(
            select(AuditEntry)
            .where(AuditEntry.business_id == business_id)
            .order_by(col(AuditEntry.seq).desc())
        ).first()
        entry = AuditEntry(
            business_id=business_id,
            seq=1 if last is None else last.seq + 1,
            actor=actor[:300],
            action=action[:64],
            target=target[:200],
            detail=body[:2000],
            created_at=utcnow().replace(microsecond=0),
            prev_hash=GENESIS if last is None else last.hash,
            hash="",
        )
        entry.hash = _entry_hash(entry)
        try:
            with savepoint(session):  # a concurrent writer took this seq: read the new tail, try again
                session.add(entry)
        except IntegrityError:
            continue
        return entry
    raise Conflict("the audit log is busy: try again")


def list_entries(
    session: Session, *, business_id: int, action: str | None = None, limit: int = 200, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry).where(AuditEntry.business_id == business_id)
    if action:
        query = query.where(AuditEntry.action == action)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEntry.seq).desc()).offset(offset).limit(limit)).all()
    return list(rows), int(total)


def verify_chain(session: Session, *, business_id: int | None = None) -> list[ChainBreak]:
    """Every place the chain is broken: an edited entry, a deleted one (a gap) or a re-linked one."""
    query = select(AuditEntry)
    if business_id is not None:
        query = query.where(AuditEntry.business_id == business_id)
    breaks: list[ChainBreak] = []
    expected: dict[int, tuple[int, str]] = {}  # business -> (next seq, previous hash)
    for entry in session.exec(query.order_by(col(AuditEntry.business_id), col(AuditEntry.seq))).all():
        seq, prev = expected.get(entry.business_id, (1, GENESIS))
        if entry.seq != seq:
            breaks.append(
                ChainBreak(entry.business_id, entry.seq, f"entries {seq}..{entry.seq - 1} are missing")
            )
        elif entry.prev_hash != prev:
            breaks.append(ChainBreak(entry.business_id, entry.seq, "does not link to the entry before it"))
        if _entry_hash(entry) != entry.hash:
            breaks.append(ChainBreak(entry.business_id, entry.seq, "was changed after it was written"))
        expected[entry.business_id] = (entry.seq + 1, entry.hash)
    return breaks


@dataclass(frozen=True)
class ActorActivity:
    count: int
    last_at: datetime


def activity_by_actor(session: Session, *, business_id: int, action: str) -> dict[str, ActorActivity]:
    """How often and when last each actor did `action` (the access review: who revealed personal data)."""
    rows = session.exec(
        select(AuditEntry.actor, func.count(), func.max(AuditEntry.created_at))
        .where(AuditEntry.business_id == business_id, AuditEntry.action == action)
        .group_by(col(AuditEntry.actor))
    ).all()
    return {actor: ActorActivity(int(count), last) for actor, count, last in rows}


def export_entries(session: Session, *, business_id: int) -> list[dict[str, Any]]:
    """Every entry with its hashes, oldest first: an auditor can re-compute the chain from this alone."""
    rows = session.exec(
        select(AuditEntry).where(AuditEntry.business_id == business_id).order_by(col(AuditEntry.seq))
    ).all()
    return [
        {
            "seq": e.seq,
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "detail": e.detail,
            "created_at": e.created_at.isoformat(timespec="seconds"),
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        for e in rows
    ]
