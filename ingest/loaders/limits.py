"""What one uploaded document may hold, checked before it is read: a small file must not become gigabytes
in memory (a zip bomb inside a .docx or .xlsx), hours of parsing (a PDF of 99,000 pages) or a write that
holds the database for minutes (a sheet of a million rows)."""

from __future__ import annotations

import io
import zipfile

from core.errors import CorruptDocument, DocumentTooLarge

# A Word document or a workbook unpacked: their XML, images left aside, is far below this in practice.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_PDF_PAGES = 2_000
MAX_SHEET_ROWS = 20_000
# Chunks of one document (a 20 MiB text file splits into about 25,000 of 800 characters; a help centre's
# longest article into tens): past this, a knowledge base is several documents.
MAX_CHUNKS = 5_000


def check_zip_container(data: bytes, filename: str, kind: str) -> None:
    """Refuse an Office file whose members unpack to more than MAX_UNPACKED_BYTES (read from its directory,
    before anything is inflated). The sizes a zip declares are what `zipfile` enforces as it inflates."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise CorruptDocument(f"{filename}: the file is damaged or not a valid {kind}") from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise DocumentTooLarge(
            f"{filename}: unpacks to {unpacked // (1024 * 1024)} MiB, more than the "
            f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MiB a document may hold"
        )


def check_count(count: int, limit: int, filename: str, what: str) -> None:
    if count > limit:
        raise DocumentTooLarge(f"{filename}: more than {limit:,} {what}; split it into several documents")
