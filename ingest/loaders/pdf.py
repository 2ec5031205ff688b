from __future__ import annotations

import io

from pypdf import PdfReader

from core.errors import CorruptDocument
from ingest.loaders.base import LoadedDocument, Section
from ingest.loaders.limits import MAX_PDF_PAGES, check_count


def load_pdf(data: bytes, stem: str) -> LoadedDocument:
    """The PDF's text layer, a section a page. A scan with no text layer comes back empty."""
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise CorruptDocument(f"{stem}.pdf: the PDF is password-protected")
    title = stem
    if reader.metadata and reader.metadata.title:
        title = str(reader.metadata.title).strip() or stem
    check_count(len(reader.pages), MAX_PDF_PAGES, f"{stem}.pdf", "pages")
    sections = []
    for number, page in enumerate(reader.pages, start=1):
        text = (page.extract_text() or "").strip()
        if text:
            sections.append(Section(text, (f"page {number}",)))
    return LoadedDocument(title=title, sections=sections)
