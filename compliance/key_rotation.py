"""Vault key rotation: every sealed value re-encrypted under a new key, every keyed lookup hash recomputed.

Lives in `bot` because it must know every table that holds sealed values or hashes derived from the key
(contacts, messages, businesses, the vault)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import MetaData, Table, select, update
from sqlalchemy.engine import Connection, Engine

from core.crypto import SecretBox
from privacy.vault import normalise_value

log = logging.getLogger(__name__)

SEALED_SUFFIX = "_sealed"


@dataclass(frozen=True)
class RotationReport:
    resealed: dict[str, int]  # "table.column" -> values re-encrypted
    rehashed: dict[str, int]  # "table.column" -> lookup hashes recomputed


def rotate_vault_key(engine: Engine, old: SecretBox, new: SecretBox) -> RotationReport:
    """Re-encrypt every `*_sealed` column of every table under `new`'s primary key and recompute the lookup
    hashes derived from the key, in one transaction: it all changes, or nothing does.

    `old` must open every stored value (it holds the current keys); `new` must hold the new key first."""
    metadata = MetaData()
    metadata.reflect(engine)
    resealed: dict[str, int] = {}
    rehashed: dict[str, int] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            sealed = [c.name for c in table.columns if c.name.endswith(SEALED_SUFFIX)]
            if sealed:
                resealed.update(_reseal(connection, table, sealed, old, new))
        rehashed["contact.wa_id_hash"] = _rehash(
            connection,
            metadata.tables["contact"],
            "wa_id_hash",
            lambda row: new.lookup_hash(new.open(row.wa_id_sealed)),
        )
        rehashed["vault_entry.value_hash"] = _rehash(
            connection,
            metadata.tables["vault_entry"],
            "value_hash",
            lambda row: new.lookup_hash(normalise_value(row.entity_type, new.open(row.value_sealed))),
        )
    log.info("vault key rotated", extra={"values": sum(resealed.values()), "hashes": sum(rehashed.values())})
    return RotationReport(resealed, rehashed)


def _reseal(
    connection: Connection, table: Table, columns: list[str], old: SecretBox, new: SecretBox
) -> dict[str, int]:
    counts = dict.fromkeys((f"{table.name}.{c}" for c in columns), 0)
    key = table.primary_key.columns.values()[0]
    for row in connection.execute(select(key, *(table.c[c] for c in columns))).all():
        values = {}
        for column in columns:
            token = getattr(row, column)
            if token is not None:
                values[column] = new.seal(old.open(token))
                counts[f"{table.name}.{column}"] += 1
        if values:
            connection.execute(update(table).where(key == row[0]).values(**values))
    return counts


def _rehash(connection: Connection, table: Table, column: str, compute: object) -> int:
    assert callable(compute)
    key = table.primary_key.columns.values()[0]
    rows = connection.execute(select(table)).all()  # read after re-sealing: values open under the new key
    for row in rows:
        connection.execute(update(table).where(key == row._mapping[key.name]).values({column: compute(row)}))
    return len(rows)
