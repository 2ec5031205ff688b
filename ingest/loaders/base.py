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
