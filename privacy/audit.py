"""Leak audit: look for the values held in the vault anywhere they should not be.

Every original in the vault is decrypted (in memory only) and searched for, also in normalised forms
(lower case; a phone number's digits), in every text column of every table, in Chroma's files when it is
embedded, and in the log files. A finding names the place, the entity type and the vault entry: never the
value. Generic: it reflects the schema, so it knows no table of the bot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from core.crypto import SecretBox
from privacy.models import VaultEntry

# Values shorter than this (a first name like "Al") would match everywhere by chance.
MIN_LENGTH = 4
# Digits of a phone number are also searched with every non-digit of the haystack removed; shorter
# numbers would match runs of unrelated digits.
MIN_PHONE_DIGITS = 9
_SKIP_TABLES = {"vault_entry", "alembic_version"}
_SKIP_SUFFIXES = ("_sealed", "_hash")  # encrypted values and keyed hashes
_CHUNK = 1 << 20


@dataclass(frozen=True)
class LeakFinding:
    """A vault value found outside the vault. `place` is `table.column#row id` or `file:relative path`."""

    place: str
    entity_type: str
    vault_entry_id: int


@dataclass(frozen=True)
class _Needle:
    entry_id: int
    entity_type: str
    text: str  # casefolded
    digits: str | None  # for phone numbers long enough to search without separators


def audit_leaks(engine: Engine, box: SecretBox, *, directories: Iterable[Path] = ()) -> list[LeakFinding]:
    """Every place a vault value occurs outside the vault (database text columns, then files)."""
    needles = _needles(engine, box)
    if not needles:
        return []
    findings = list(_scan_database(engine, needles))
    for directory in directories:
        if directory.is_dir():
            findings.extend(_scan_directory(directory, needles))
    return findings


def _needles(engine: Engine, box: SecretBox) -> list[_Needle]:
    needles = []
    with Session(engine) as session:
        for entry in session.exec(sm_select(VaultEntry).order_by(col(VaultEntry.id))).all():
            assert entry.id is not None
            value = box.open(entry.value_sealed)
            digits = re.sub(r"\D", "", value) if entry.entity_type == "PHONE_NUMBER" else ""
            text = " ".join(value.casefold().split())
            if len(text) >= MIN_LENGTH:
                needles.append(
                    _Needle(
                        entry.id, entry.entity_type, text, digits if len(digits) >= MIN_PHONE_DIGITS else None
                    )
                )
    return needles


def _matches(haystack: str, needles: list[_Needle]) -> Iterator[_Needle]:
    folded = " ".join(haystack.casefold().split())
    digits = re.sub(r"\D", "", haystack)
    for needle in needles:
        if needle.text in folded or (needle.digits and needle.digits in digits):
            yield needle


def _text_columns(table: Table) -> list[str]:
    return [
        column.name
        for column in table.columns
        if isinstance(column.type, String | Text) and not column.name.endswith(_SKIP_SUFFIXES)
    ]


def _scan_database(engine: Engine, needles: list[_Needle]) -> Iterator[LeakFinding]:
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = _text_columns(table)
            if table.name in _SKIP_TABLES or not columns:
                continue
            keys = list(table.primary_key.columns)
            query = select(*keys, *(table.c[name] for name in columns))
            for row in connection.execute(query).yield_per(500):
                row_id = ",".join(str(value) for value in row[: len(keys)])
                for name, value in zip(columns, row[len(keys) :], strict=True):
                    if isinstance(value, str) and value:
                        for needle in _matches(value, needles):
                            yield LeakFinding(
                                f"{table.name}.{name}#{row_id}", needle.entity_type, needle.entry_id
                            )


def _scan_directory(directory: Path, needles: list[_Needle]) -> Iterator[LeakFinding]:
    forms = []
    for needle in needles:
        raw = {needle.text.encode(), needle.text.encode("utf-16-le")}
        if needle.digits:
            raw.add(needle.digits.encode())
        forms.append((needle, raw))
    overlap = max(len(form) for _needle, raw in forms for form in raw)
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        place = f"file:{path.relative_to(directory.parent)}"
        if ".log" in path.name:
            # Text: searched like a column, so "+44 7700 900123" matches a number stored as digits.
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            seen = {needle.entry_id: needle for line in lines for needle in _matches(line, needles)}
            yield from (LeakFinding(place, n.entity_type, n.entry_id) for n in seen.values())
            continue
        found: set[int] = set()
        with path.open("rb") as handle:
            tail = b""
            while chunk := handle.read(_CHUNK):
                # Lower-cased bytes: ASCII case-insensitive, which covers names and e-mail addresses.
                window = (tail + chunk).lower()
                for needle, raw in forms:
                    if needle.entry_id not in found and any(form in window for form in raw):
                        found.add(needle.entry_id)
                tail = window[-overlap:]
        for needle, _raw in forms:
            if needle.entry_id in found:
                yield LeakFinding(place, needle.entity_type, needle.entry_id)
