"""PDF: the text layer read back into headings, paragraphs and lists.

A PDF keeps no structure, only text placed in fonts of some size. Read as pypdf's plain text, a help page
printed to PDF is one run of hard-wrapped lines a page: headings, list items and paragraphs run together, and
a section's heading path is "page 3". Here every piece of text comes with its position and font size
(pypdf's text visitor); lines are rebuilt from the pieces on one baseline, and then:

- a line in type larger than the body's is a heading, its level by size (the largest is level 1), and
  heading lines that wrap are joined;
- a line that starts with a bullet or a number ("•", "1.") starts a list item, and the lines under it
  until the next item or a gap are its continuation;
- other lines are a paragraph's, joined, until a blank line, a vertical gap, a heading or a list;
- a line that is only a page number is dropped.

Sections follow the headings across pages, as for Markdown and HTML. A PDF with no usable positions (or none
of its text in a size other than the body's) still gets its paragraphs and lists."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader

from core.errors import CorruptDocument
from ingest.loaders.base import LoadedDocument, Outline
from ingest.loaders.limits import MAX_PDF_PAGES, check_count

_BULLET = re.compile(r"^\s*(?:[•◦▪‣●○■\-–*]|\d{1,2}[.)])\s+\S")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?\s*$", re.I)
HEADING_RATIO = 1.15  # a line this much larger than the body's type is a heading
PARAGRAPH_GAP = 1.6  # a gap between baselines of this many body sizes ends a paragraph
MAX_HEADING_CHARS = 200


@dataclass
class _Line:
    y: float
    size: float
    page: int
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


def load_pdf(data: bytes, stem: str) -> LoadedDocument:
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise CorruptDocument(f"{stem}.pdf: the PDF is password-protected")
    title = ""
    if reader.metadata and reader.metadata.title:
        title = str(reader.metadata.title).strip()
    check_count(len(reader.pages), MAX_PDF_PAGES, f"{stem}.pdf", "pages")
    lines: list[_Line] = []
    for number, page in enumerate(reader.pages, start=1):
        lines.extend(_page_lines(page, number))
    if not lines:
        return LoadedDocument(title=title or stem, sections=[])
    return _outline(lines, title).document(stem)


def _page_lines(page: Any, number: int) -> list[_Line]:
    """The page's lines, top to bottom: pieces on one baseline joined, blank lines kept (they part blocks)."""
    lines: list[_Line] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _font: Any, size: float) -> None:
        if text == "\n" or not text:
            if text == "\n" and lines and lines[-1].parts:
                lines.append(_Line(lines[-1].y, 0.0, number))  # pypdf's own line break: the next is new
            return
        y = tm[5] * cm[3] + cm[5]
        effective = abs(size * (tm[3] or 1.0) * (cm[3] or 1.0))
        line = lines[-1] if lines else None
        if line is None or (line.parts and abs(line.y - y) > 0.5 * max(effective, line.size, 1.0)):
            line = _Line(y, 0.0, number)
            lines.append(line)
        elif not line.parts:
            line.y = y
        line.parts.append(text)
        if text.strip():
            line.size = max(line.size, effective)

    try:
        page.extract_text(visitor_text=visit)
    except Exception as error:  # pypdf raises many kinds on a damaged content stream
        raise CorruptDocument(f"page {number}: its text cannot be read ({type(error).__name__})") from None
    return [line for line in lines if line.parts]


def _outline(lines: list[_Line], title: str) -> Outline:
    sized = Counter[float]()
    for line in lines:
        if line.text and line.size:
            sized[round(line.size, 1)] += len(line.text)
    body = sized.most_common(1)[0][0] if sized else 0.0
    heading_sizes = sorted((s for s in sized if body and s >= body * HEADING_RATIO), reverse=True)
    outline = Outline(title)
    blocks = _Blocks(outline)
    previous: _Line | None = None
    for line in lines:
        text = line.text
        if not text or _PAGE_NUMBER.match(text):
            blocks.end()  # a blank line, or a page's end: what came before is complete
            if not text:
                previous = None
            continue
        size = round(line.size, 1)
        gap = (
            bool(body)
            and previous is not None
            and previous.page == line.page
            and (previous.y - line.y) > PARAGRAPH_GAP * max(body, previous.size, line.size)
        )
        if size in heading_sizes and len(text) <= MAX_HEADING_CHARS:
            level = min(heading_sizes.index(size) + 1, 6)
            blocks.heading(level, text, wrapped=previous is not None and not gap)
        elif _BULLET.match(text):
            blocks.item(text)
        else:
            blocks.line(text, new_paragraph=bool(gap))
        previous = line
    blocks.end()
    return outline


class _Blocks:
    """Builds the outline's text: a paragraph a line, a list's items one a line, a blank line between."""

    def __init__(self, outline: Outline) -> None:
        self._outline = outline
        self._heading: tuple[int, str] | None = None
        self._paragraph: list[str] = []
        self._items: list[str] = []

    def heading(self, level: int, text: str, *, wrapped: bool) -> None:
        """A heading line; `wrapped`: it follows the line before with no gap, so it continues a heading of
        its own level still pending."""
        if wrapped and self._heading is not None and self._heading[0] == level:
            self._heading = (level, f"{self._heading[1]} {text}")
            return
        self.end()
        self._heading = (level, text)

    def item(self, text: str) -> None:
        self._flush_heading()
        self._end_paragraph()
        self._items.append(text.strip())

    def line(self, text: str, *, new_paragraph: bool) -> None:
        self._flush_heading()
        if self._items and not new_paragraph:
            self._items[-1] = _joined(self._items[-1], text)  # an item's wrapped continuation
            return
        self._end_items()
        if new_paragraph:
            self._end_paragraph()
        self._paragraph.append(text)

    def end(self) -> None:
        self._flush_heading()
        self._end_paragraph()
        self._end_items()

    def _flush_heading(self) -> None:
        if self._heading is not None:
            self._outline.heading(*self._heading)
            self._heading = None

    def _end_paragraph(self) -> None:
        if self._paragraph:
            text = self._paragraph[0]
            for more in self._paragraph[1:]:
                text = _joined(text, more)
            self._outline.text(text + "\n")
            self._paragraph = []

    def _end_items(self) -> None:
        if self._items:
            self._outline.text("\n".join(self._items) + "\n")
            self._items = []


def _joined(text: str, more: str) -> str:
    """Two wrapped lines as one: a word hyphenated at the line's end is put back together."""
    if text.endswith("-") and more[:1].islower():
        return text[:-1] + more
    return f"{text} {more}"
