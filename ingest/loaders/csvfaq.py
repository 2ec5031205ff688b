"""FAQ sheets: a question column and an answer column, one entry a row (CSV here, XLSX in `xlsxfaq`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from core.errors import CorruptDocument
from ingest.loaders.base import LoadedDocument, Section, decode_text
from ingest.loaders.limits import MAX_SHEET_ROWS, check_count

_QUESTION = {"question", "questions", "q", "faq", "query"}
_ANSWER = {"answer", "answers", "a", "response", "reply"}


def faq_document(rows: Sequence[Sequence[str]], stem: str, filename: str) -> LoadedDocument:
    """Rows whose first one names the columns -> one atomic section a question, indexed with its answer."""
    if not rows:
        return LoadedDocument(title=stem)
    header = [cell.strip().lower() for cell in rows[0]]
    q_col = next((i for i, name in enumerate(header) if name in _QUESTION), None)
    a_col = next((i for i, name in enumerate(header) if name in _ANSWER), None)
    if q_col is None or a_col is None:
        raise CorruptDocument(f"{filename}: needs a 'question' and an 'answer' column in its first row")
    sections = []
    for row in rows[1:]:
        if len(row) <= max(q_col, a_col):
            continue
        question, answer = row[q_col].strip(), row[a_col].strip()
        if question and answer:
            sections.append(Section(f"Q: {question}\nA: {answer}", (question,), atomic=True))
    return LoadedDocument(title=stem.replace("-", " ").replace("_", " ").strip().title(), sections=sections)


def load_csv(data: bytes, stem: str) -> LoadedDocument:
    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    rows = []
    for row in csv.reader(io.StringIO(text), dialect):
        rows.append(row)
        check_count(len(rows) - 1, MAX_SHEET_ROWS, f"{stem}.csv", "rows")  # the header row besides
    return faq_document(rows, stem, f"{stem}.csv")
