"""The vault: original values behind placeholders, encrypted, one scope a conversation or knowledge base."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, select

from core.crypto import SecretBox
from core.db import savepoint
from core.placeholders import placeholder_prefix
from privacy.models import VaultEntry

DOCUMENT_LABEL = "DOC_"


@dataclass(frozen=True)
class VaultScope:
    """Where placeholders live. `label` keeps knowledge placeholders apart from a conversation's."""

    key: str
    label: str = ""

    @classmethod
    def conversation(cls, conversation_id: int) -> VaultScope:
        return cls(f"conv:{conversation_id}")

    @classmethod
    def knowledge(cls, business_id: int) -> VaultScope:
        return cls(f"kb:{business_id}", DOCUMENT_LABEL)


def normalise_value(entity_type: str, value: str) -> str:
    """The form under which two mentions count as the same value."""
    if entity_type == "PHONE_NUMBER":
        return re.sub(r"\D", "", value)
    return " ".join(value.casefold().split())


class Vault:
    """Hands out stable placeholders and keeps originals sealed with the key ring."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    @property
    def box(self) -> SecretBox:
        return self._box

    def placeholder_for(self, session: Session, scope: VaultScope, entity_type: str, value: str) -> str:
        """The placeholder of this value in this scope, creating it on first sight (same value, same one)."""
        value_hash = self._box.lookup_hash(normalise_value(entity_type, value))
        found = session.exec(
            select(VaultEntry.placeholder).where(
                VaultEntry.scope == scope.key, VaultEntry.value_hash == value_hash
            )
        ).first()
        if found:
            return found
        prefix = placeholder_prefix(scope.label, entity_type)
        for _attempt in range(5):
            count = session.exec(
                select(func.count())
                .select_from(VaultEntry)
                .where(VaultEntry.scope == scope.key, col(VaultEntry.placeholder).startswith(prefix))
            ).one()
            placeholder = f"{prefix}{count + 1}>"
            entry = VaultEntry(
                scope=scope.key,
                placeholder=placeholder,
                entity_type=entity_type,
                value_hash=value_hash,
                value_sealed=self._box.seal(value),
            )
            try:
                with savepoint(session):
                    session.add(entry)
            except IntegrityError:
                # Another worker took the number (or the value) first: look again.
                found = session.exec(
                    select(VaultEntry.placeholder).where(
                        VaultEntry.scope == scope.key, VaultEntry.value_hash == value_hash
                    )
                ).first()
                if found:
                    return found
                continue
            return placeholder
        raise RuntimeError("could not allocate a vault placeholder")

    def planner(self, session: Session, scope: VaultScope) -> PlaceholderPlan:
        """Placeholders as `placeholder_for` would hand them out now, without writing anything (one read).
        For a turn that computes first and writes at its end: see `PlaceholderPlan.keep`."""
        return PlaceholderPlan(
            self, scope, session.exec(select(VaultEntry).where(VaultEntry.scope == scope.key)).all()
        )

    def values(self, session: Session, scope: VaultScope) -> dict[str, tuple[str, str]]:
        """Placeholder -> (entity type, original value) for one scope. For unmasking and re-detection only."""
        rows = session.exec(select(VaultEntry).where(VaultEntry.scope == scope.key)).all()
        return {row.placeholder: (row.entity_type, self._box.open(row.value_sealed)) for row in rows}

    def originals(self, session: Session, scopes: list[VaultScope], placeholders: set[str]) -> dict[str, str]:
        """The values behind just these placeholders, in just these scopes (one query, only what is needed)."""
        if not placeholders or not scopes:
            return {}
        rows = session.exec(
            select(VaultEntry).where(
                col(VaultEntry.scope).in_([scope.key for scope in scopes]),
                col(VaultEntry.placeholder).in_(sorted(placeholders)),
            )
        ).all()
        return {row.placeholder: self._box.open(row.value_sealed) for row in rows}

    def forget_scope(self, session: Session, scope: VaultScope) -> int:
        """Erase every original of a scope (data-subject erasure); returns how many went."""
        rows = session.exec(select(VaultEntry).where(VaultEntry.scope == scope.key)).all()
        for row in rows:
            session.delete(row)
        return len(rows)


class PlaceholderPlan:
    """Placeholders allocated in memory, numbered after those stored in the scope when the plan was read.

    Masking a turn's message takes the write lock when a new value's placeholder is stored; planning instead
    lets the slow work (retrieval, the answer) run before any write, and `keep` stores the new values in the
    transaction's last moments. A value stored meanwhile in the scope by someone else (an agent's note) can
    shift a number: `keep` then says so, and the turn is computed again.
    """

    def __init__(self, vault: Vault, scope: VaultScope, stored: Sequence[VaultEntry]) -> None:
        self._vault = vault
        self.scope = scope
        self._stored = stored
        self._known = {row.value_hash: row.placeholder for row in stored}  # value hash -> placeholder
        self._new: list[tuple[str, str, str]] = []  # (placeholder, entity type, value), in allocation order

    def stored_values(self) -> dict[str, tuple[str, str]]:
        """`Vault.values` of the scope as it was read for this plan (no second query)."""
        return {
            row.placeholder: (row.entity_type, self._vault.box.open(row.value_sealed)) for row in self._stored
        }

    def placeholder_for(self, entity_type: str, value: str) -> str:
        value_hash = self._vault.box.lookup_hash(normalise_value(entity_type, value))
        found = self._known.get(value_hash)
        if found:
            return found
        prefix = placeholder_prefix(self.scope.label, entity_type)
        count = sum(1 for placeholder in self._known.values() if placeholder.startswith(prefix))
        placeholder = self._known[value_hash] = f"{prefix}{count + 1}>"
        self._new.append((placeholder, entity_type, value))
        return placeholder

    def keep(self, session: Session) -> bool:
        """Store the values first seen in this plan, in one insert. False when the scope changed since the plan
        was read, so that one of its numbers or values is stored already (the scope's unique keys refuse the
        insert, and nothing of the plan is stored): what was masked with the plan must be masked again.
        Where the plan's values were each looked up and numbered again, as `Vault.placeholder_for` does, it
        was five statements a value."""
        if not self._new:
            return True
        box = self._vault.box
        try:
            with savepoint(session):
                session.add_all(
                    VaultEntry(
                        scope=self.scope.key,
                        placeholder=placeholder,
                        entity_type=entity_type,
                        value_hash=box.lookup_hash(normalise_value(entity_type, value)),
                        value_sealed=box.seal(value),
                    )
                    for placeholder, entity_type, value in self._new
                )
        except IntegrityError:
            return False
        return True


def forget_scopes(session: Session, scopes: list[VaultScope]) -> int:
    """Erase every original of these scopes in one statement (erasure, retention); returns how many went."""
    if not scopes:
        return 0
    result = session.exec(delete(VaultEntry).where(col(VaultEntry.scope).in_([s.key for s in scopes])))
    return int(result.rowcount or 0)
