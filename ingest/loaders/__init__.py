"""One reader a format, and the registry that picks one by file extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from core.errors import CorruptDocument, IngestError, UnsupportedFormat
from ingest.loaders.base import LoadedDocument, Section
from ingest.loaders.csvfaq import load_csv
from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import load_pdf
from ingest.loaders.text import load_text
from ingest.loaders.xlsxfaq import load_xlsx

Loader = Callable[[bytes, str], LoadedDocument]

LOADERS: dict[str, tuple[str, Loader]] = {
    ".md": ("markdown", load_markdown),
    ".markdown": ("markdown", load_markdown),
    ".txt": ("text", load_text),
    ".html": ("html", load_html),
    ".htm": ("html", load_html),
    ".csv": ("csv", load_csv),
    ".pdf": ("pdf", load_pdf),
    ".docx": ("docx", load_docx),
    ".xlsx": ("xlsx", load_xlsx),
}

__all__ = ["LOADERS", "LoadedDocument", "Section", "format_of", "load_document"]


def format_of(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix not in LOADERS:
        supported = ", ".join(sorted(LOADERS))
        raise UnsupportedFormat(
            f"{PurePath(name).name}: unsupported file type {suffix or '(none)'}; use {supported}"
        )
    return LOADERS[suffix][0]


def load_document(name: str, data: bytes) -> LoadedDocument:
    """Read one file; every failure becomes an `IngestError` naming the file."""
    format_of(name)
    _fmt, loader = LOADERS[PurePath(name).suffix.lower()]
    stem = PurePath(name).stem
    try:
        document = loader(data, stem)
    except IngestError:
        raise
    except Exception as exc:
        raise CorruptDocument(
            f"{PurePath(name).name}: the file is damaged or not a valid {_fmt} file"
        ) from exc
    return document
