"""The answer sets' documents as PDFs, the way a business often uploads its help pages: printed from the page.

    python -m benchmarks.answers --sets logingov-pdf ente-pdf

A set named `<set>-pdf` asks `<set>`'s questions of its documents rendered to PDF here (fpdf2's HTML
layout: headings in larger bold type, paragraphs, bulleted and numbered lists, tables), so the figures
compare with `<set>`'s and measure what the PDF loader keeps of a document's structure. Rendering is
deterministic (a fixed creation date), so every run reads the same bytes."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

PDF_SUFFIX = "-pdf"
_FONTS = Path("/usr/share/fonts/truetype/dejavu")
# Code spans go in the body font (the monospace core font is Latin-1) and links as their text (a page's
# anchors name no PDF destination).
_PLAIN = re.compile(r"</?(?:code|pre|a)\b[^>]*>", re.I)
_MAIN = re.compile(r"<main[^>]*>(.*)</main>|<body[^>]*>(.*)</body>", re.S | re.I)


def base_set(name: str) -> str | None:
    """`logingov` for `logingov-pdf`; None for a set that is not a PDF rendering."""
    return name.removesuffix(PDF_SUFFIX) if name.endswith(PDF_SUFFIX) else None


def page_html(path: Path) -> str:
    """A document as the HTML a browser would print: Markdown rendered, an HTML page's main content."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".md", ".markdown"}:
        from markdown_it import MarkdownIt

        return MarkdownIt("commonmark").enable("table").render(text)
    if path.suffix.lower() in {".html", ".htm"}:
        match = _MAIN.search(text)
        return (match.group(1) or match.group(2)) if match else text
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())


def _title(path: Path) -> str:
    """What a browser puts in a printed page's title: the page's <title>, a Markdown page's first heading."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r"<title>(.*?)</title>", text, re.S | re.I) or re.search(r"^#\s+(.+)$", text, re.M)
    return html.unescape(match.group(1).strip()) if match else path.stem


def render_pdf(path: Path) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # fixed: the same bytes every run
    pdf.set_title(_title(path))
    family = "Helvetica"
    if (_FONTS / "DejaVuSans.ttf").exists():
        family = "DejaVu"
        pdf.add_font(family, "", str(_FONTS / "DejaVuSans.ttf"))
        pdf.add_font(family, "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
        pdf.add_font(family, "I", str(_FONTS / "DejaVuSans-Oblique.ttf"))
        pdf.add_font(family, "BI", str(_FONTS / "DejaVuSans-BoldOblique.ttf"))
    pdf.set_font(family, size=11)
    pdf.add_page()
    body = _PLAIN.sub("", page_html(path))
    if family == "Helvetica":  # the core fonts are Latin-1 only
        body = body.encode("latin-1", "replace").decode("latin-1")
    pdf.write_html(body, font_family=family)
    return bytes(pdf.output())


def render_set(documents: list[Path], target: Path) -> list[Path]:
    """Each document rendered into `target` as `<stem>.pdf`."""
    target.mkdir(parents=True, exist_ok=True)
    rendered = []
    for path in documents:
        out = target / f"{path.stem}.pdf"
        out.write_bytes(render_pdf(path))
        rendered.append(out)
    return rendered
