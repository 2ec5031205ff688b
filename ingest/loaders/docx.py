from __future__ import annotations

import io

import docx

from ingest.loaders.base import LoadedDocument, Outline, Section
from ingest.loaders.limits import check_zip_container


def load_docx(data: bytes, stem: str) -> LoadedDocument:
    """Word paragraphs split at Heading styles, keeping the heading path; tables row by row."""
    check_zip_container(data, f"{stem}.docx", "docx document")
    document = docx.Document(io.BytesIO(data))
    outline = Outline((document.core_properties.title or "").strip())
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style == "Title":
            outline.title = outline.title or text
        elif style.startswith("Heading"):
            last = style.split()[-1]
            outline.heading(int(last) if last.isdigit() else 1, text)
        else:
            outline.text(text)
    loaded = outline.document(stem)
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                loaded.sections.append(Section(" | ".join(cells), outline.heading_path))
    return loaded
