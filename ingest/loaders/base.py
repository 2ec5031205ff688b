"""What every loader returns: a title and sections that keep their heading path."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    text: str
    heading_path: tuple[str, ...] = ()
    # FAQ entries are indexed whole (question with its answer), never split.
    atomic: bool = False


@dataclass(frozen=True)
class LoadedDocument:
    title: str
    sections: list[Section] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not any(section.text.strip() for section in self.sections)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), falling back to Windows-1252, which never fails."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class Outline:
    """Collects text under headings for the heading-structured formats (Markdown, HTML, DOCX).

    The first level-1 heading (or one equal to a title already known) becomes the title, not a section.
    """

    def __init__(self, title: str = "") -> None:
        self.title = title
        self._path: list[tuple[int, str]] = []
        self._buffer: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        self._flush()
        if level == 1 and (not self.title or text == self.title):
            self.title = self.title or text
            return
        self._path = [(lvl, t) for lvl, t in self._path if lvl < level]
        self._path.append((level, text))

    def text(self, text: str) -> None:
        self._buffer.append(text)

    def document(self, fallback_title: str) -> LoadedDocument:
        self._flush()
        return LoadedDocument(title=self.title or fallback_title, sections=list(self._sections))

    @property
    def heading_path(self) -> tuple[str, ...]:
        return tuple(text for _level, text in self._path)

    def _flush(self) -> None:
        body = "\n".join(self._buffer).strip()
        if body:
            self._sections.append(Section(body, self.heading_path))
        self._buffer.clear()
