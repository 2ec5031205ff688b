from __future__ import annotations

from ingest.loaders.base import LoadedDocument, Section, decode_text


def load_text(data: bytes, stem: str) -> LoadedDocument:
    """Plain text: one section; the first short line is the title when it looks like one."""
    text = decode_text(data).strip()
    lines = text.splitlines()
    title = stem
    if lines and len(lines[0]) <= 80 and len(lines) > 1 and not lines[0].rstrip().endswith("."):
        title, text = lines[0].strip(), "\n".join(lines[1:]).strip()
    return LoadedDocument(title=title, sections=[Section(text)] if text else [])
