from __future__ import annotations

import re

from ingest.loaders.base import LoadedDocument, Outline, decode_text

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def load_markdown(data: bytes, stem: str) -> LoadedDocument:
    """Markdown split at headings; each section keeps the path of headings above it."""
    outline = Outline()
    in_code = False
    for line in decode_text(data).splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            outline.heading(len(match.group(1)), match.group(2).strip())
        else:
            outline.text(line)
    return outline.document(stem)
