"""Split sections into chunks that carry their document title and heading path as context (a section's
later chunks marked as its continuation)."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.loaders import LoadedDocument


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str


def split_document(document: LoadedDocument, *, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        keep_separator="end",
    )
    chunks: list[Chunk] = []
    for section in document.sections:
        path = [h for h in section.heading_path if h != document.title]
        context = " > ".join((document.title, *path))
        pieces = [section.text] if section.atomic else splitter.split_text(section.text)
        pieces = [piece.strip() for piece in pieces if piece.strip()]
        for number, piece in enumerate(pieces):
            # A later piece says so: its first paragraph does not open the section under its heading.
            label = f"{context} {CONTINUED}" if number else context
            chunks.append(Chunk(len(chunks), f"{label}\n{piece}"))
    return chunks


CONTINUED = "(continued)"
