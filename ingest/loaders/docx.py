from __future__ import annotations

import io

import docx

from ingest.loaders.base import LoadedDocument, Section


def load_docx(data: bytes, stem: str) -> LoadedDocument:
    """Word paragraphs split at Heading styles, keeping the heading path."""
    document = docx.Document(io.BytesIO(data))
    title = (document.core_properties.title or "").strip()
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    buffer: list[str] = []

    def flush() -> None:
        text = "\n".join(buffer).strip()
        if text:
            sections.append(Section(text, tuple(t for _l, t in path)))
        buffer.clear()

    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style == "Title":
            title = title or text
            continue
        if style.startswith("Heading"):
            flush()
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            path[:] = [(lvl, t) for lvl, t in path if lvl < level]
            path.append((level, text))
        else:
            buffer.append(text)
    flush()
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                sections.append(Section(" | ".join(cells), tuple(t for _l, t in path)))
    return LoadedDocument(title=title or stem, sections=sections)
