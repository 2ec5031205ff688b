"""FAQ workbooks (.xlsx): the first sheet with a question and an answer column."""

from __future__ import annotations

import io
import zipfile

from core.errors import CorruptDocument, IngestError
from ingest.loaders.base import LoadedDocument
from ingest.loaders.csvfaq import faq_document
from ingest.loaders.limits import MAX_SHEET_ROWS, check_count, check_zip_container


def load_xlsx(data: bytes, stem: str) -> LoadedDocument:
    from openpyxl import load_workbook

    filename = f"{stem}.xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        # An OLE container: what Excel writes for a password-protected workbook (or an old .xls).
        raise CorruptDocument(f"{filename}: the workbook is password-protected or in the old .xls format")
    check_zip_container(data, filename, "xlsx workbook")
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CorruptDocument(f"{filename}: the file is damaged or not a valid xlsx workbook") from exc
    try:
        last_error: IngestError | None = None
        for sheet in workbook.worksheets:
            rows = []
            for row in sheet.iter_rows(values_only=True):
                if any(cell is not None for cell in row):
                    rows.append(["" if cell is None else str(cell) for cell in row])
                    check_count(len(rows) - 1, MAX_SHEET_ROWS, filename, "rows")
            if not rows:
                continue
            try:
                return faq_document(rows, stem, filename)
            except CorruptDocument as exc:
                last_error = exc  # another sheet may be the FAQ
        if last_error is not None:
            raise last_error
        return LoadedDocument(title=stem)
    finally:
        workbook.close()
