from __future__ import annotations

import re

from ingest.loaders.base import LoadedDocument, Section, decode_text

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def load_markdown(data: bytes, stem: str) -> LoadedDocument:
    """Markdown split at headings; each section keeps the path of headings above it."""
    title: str | None = None
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    buffer: list[str] = []
    in_code = False

    def flush() -> None:
        body = "\n".join(buffer).strip()
        if body:
            sections.append(Section(body, tuple(text for _level, text in path)))
        buffer.clear()

    for line in decode_text(data).splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2).strip()
            if level == 1 and title is None:
                title = heading
                continue
            path[:] = [(lvl, text) for lvl, text in path if lvl < level]
            path.append((level, heading))
        else:
            buffer.append(line)
    flush()
    return LoadedDocument(title=title or stem, sections=sections)
