"""What a passage is made of, as an answer sees it: sentences, list items, table rows and the headings and
lead-in lines they belong to.

Documents arrive hard-wrapped (a text file, an RST page), with lists under a lead-in line ("You can leave it
at any time:"), with price tables and bold labels. Splitting at every line break made a heading, a label or
half a sentence the "best sentence" of a passage; here a paragraph's lines are joined before it is cut into
sentences, a list item or a table row is one unit that remembers its lead-in (or the table's header), and a
line that only titles what follows is a heading: context for the units under it, never an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    SENTENCE = "sentence"
    ITEM = "item"  # a list item
    ROW = "row"  # a table row
    HEADING = "heading"  # titles what follows; never an answer on its own


@dataclass(frozen=True)
class Unit:
    position: int
    kind: UnitKind
    text: str
    lead: int | None = None  # the lead-in line of a list item, the header of a table row
    heading: int | None = None  # the nearest heading above, within the passage
    paragraph: int = 0  # sentences of one paragraph share it; each item and row has its own


_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+(?=\S)")
_ROW_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MARKUP = re.compile(r"\*\*|__|`|(?<![\w*])\*(?=\w)|(?<=\w)\*(?![\w*])")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(<\[*])")
_TERMINAL = (".", "!", "?", ":", ";")
HEADING_WORDS = 12  # a lone line this short with no closing punctuation titles what follows


def _is_row(line: str) -> bool:
    return line.count("|") >= 2


def _clean(text: str) -> str:
    return " ".join(_MARKUP.sub("", text).split())


def _looks_like_heading(line: str) -> bool:
    text = _clean(line)
    return bool(text) and not text.endswith(_TERMINAL) and len(text.split()) <= HEADING_WORDS


def parse_units(body: str) -> list[Unit]:
    """The units of a passage body, in reading order."""
    parser = _Parser()
    block: list[str] = []
    for line in [*body.splitlines(), ""]:
        if line.strip():
            block.append(line)
        elif block:
            parser.block(block)
            block = []
    return parser.units


class _Parser:
    """Reads a passage block by block (blocks are separated by blank lines)."""

    def __init__(self) -> None:
        self.units: list[Unit] = []
        self._heading: int | None = None  # the nearest heading so far
        self._lead: int | None = None  # the line a following list hangs from
        self._header: int | None = None  # the current table's header row
        self._paragraph = 0
        self._prose: list[str] = []
        self._item: list[str] = []

    def block(self, lines: list[str]) -> None:
        line = lines[0]
        if len(lines) == 1 and _looks_like_heading(line) and not (_ITEM.match(line) or _is_row(line)):
            self._heading = self._lead = self._add(UnitKind.HEADING, _clean(line))
            self._header = None
            return
        for line in lines:
            if _ITEM.match(line):
                self._end_prose()
                self._end_item()
                self._item.append(line.strip())
            elif _is_row(line):
                self._end_prose()
                self._end_item()
                self._row(line)
            elif self._item and (line[:1].isspace() or not line.strip()[:1].isupper()):
                self._item.append(line.strip())  # an item's wrapped continuation
            else:
                self._end_item()
                self._prose.append(line.strip())
        self._end_item()
        self._end_prose()
        if not any(_is_row(line) for line in lines):
            self._header = None

    def _add(self, kind: UnitKind, text: str, lead: int | None = None, *, new_paragraph: bool = True) -> int:
        self._paragraph += new_paragraph
        self.units.append(Unit(len(self.units), kind, text, lead, self._heading, self._paragraph))
        return len(self.units) - 1

    def _row(self, line: str) -> None:
        if _ROW_RULE.match(line):
            return
        text = " | ".join(cell for cell in (_clean(c) for c in line.strip().strip("|").split("|")) if cell)
        if not text:
            return
        if self._header is None:
            self._header = self._add(UnitKind.ROW, text, self._lead)
        else:
            self._add(UnitKind.ROW, text, self._header)

    def _end_item(self) -> None:
        if self._item:
            self._add(UnitKind.ITEM, _clean(_ITEM.sub("", " ".join(self._item), count=1)), self._lead)
            self._item = []

    def _end_prose(self) -> None:
        if not self._prose:
            return
        sentences = [s.strip() for s in _SENTENCE_END.split(_clean(" ".join(self._prose))) if s.strip()]
        self._prose = []
        self._paragraph += 1
        for sentence in sentences:
            last = self._add(UnitKind.SENTENCE, sentence, new_paragraph=False)
        # The last sentence before a list introduces it, with a colon or without ("... a number of things
        # to check.").
        self._lead = last if sentences else self._heading


# A sentence that opens with one of these leans on the sentence before it.
_LEANS_BACK = re.compile(
    r"^(this|that|these|those|it|its|they|them|there|such|however|but|so|then|otherwise|also|instead|"
    r"in that case|if so|if not|for example|for this)\b",
    re.IGNORECASE,
)
LIST_ITEMS = 8  # a lead-in line answers with at most this many of its items
REPLY_CHARS = 900  # a reply's span stops growing here (WhatsApp allows 4,096; a customer reads less)


def unit_in_context(units: list[Unit], unit: Unit) -> str:
    """What a unit says when read alone: a list item or table row with its lead-in line or header."""
    if unit.lead is not None and unit.kind in (UnitKind.ITEM, UnitKind.ROW):
        return f"{units[unit.lead].text} {unit.text}"
    return unit.text


def _items_of(units: list[Unit], position: int) -> list[int]:
    """The list items a lead-in line introduces (none for a sentence that no list follows)."""
    return [u.position for u in units if u.lead == position and u.kind is UnitKind.ITEM]


def _list_around(units: list[Unit], unit: Unit) -> list[int]:
    """The item's lead-in line and the list's items, at most `LIST_ITEMS` of them around this one."""
    first = last = unit.position
    while first > 0 and units[first - 1].kind is UnitKind.ITEM and units[first - 1].lead == unit.lead:
        first -= 1
    while (
        last + 1 < len(units) and units[last + 1].kind is UnitKind.ITEM and units[last + 1].lead == unit.lead
    ):
        last += 1
    siblings = list(range(first, last + 1))
    at = unit.position - first
    start = max(0, min(at - LIST_ITEMS // 2, len(siblings) - LIST_ITEMS))
    lead = [unit.lead] if unit.lead is not None else []
    return lead + siblings[start : start + LIST_ITEMS]


def reply_span(units: list[Unit], positions: list[int]) -> str:
    """The smallest text around the chosen units that reads on its own: a list item's lead-in line (or
    its heading as a label), a lead-in line's items, the sentence a "This ..." sentence leans on."""
    keep: set[int] = set()
    for position in positions:
        unit = units[position]
        keep.add(position)
        if unit.kind is UnitKind.ITEM:
            # A list is read whole: "Collaborators can:" with every item, not the one that matched best.
            keep.update(_list_around(units, unit))
        elif unit.kind is UnitKind.ROW and unit.lead is not None:
            keep.add(unit.lead)
        elif unit.kind is UnitKind.SENTENCE and (items := _items_of(units, position)):
            keep.update(items[:LIST_ITEMS])
        elif unit.kind is UnitKind.SENTENCE and _LEANS_BACK.match(unit.text) and position > 0:
            before = units[position - 1]
            if before.kind is UnitKind.SENTENCE:
                keep.add(before.position)
    return render(units, sorted(keep), REPLY_CHARS)


def render(units: list[Unit], positions: list[int], limit: int | None = None) -> str:
    """These units as plain text: a heading as a label line, an item as "- item", a paragraph's sentences
    on one line; up to about `limit` characters."""
    lines: list[str] = []
    size = 0
    previous: Unit | None = None
    for position in positions:
        unit = units[position]
        if limit is not None and size and size + len(unit.text) > limit:
            break
        if unit.kind is UnitKind.HEADING:
            text = f"{unit.text}:"
        elif unit.kind is UnitKind.ITEM:
            text = f"- {unit.text}"
        else:
            text = unit.text
        same_paragraph = previous is not None and previous.paragraph == unit.paragraph
        if lines and same_paragraph and unit.kind is UnitKind.SENTENCE:
            lines[-1] = f"{lines[-1]} {text}"
        else:
            lines.append(text)
        size += len(text)
        previous = unit
    return "\n".join(lines)


def structured(body: str) -> str:
    """A passage body as the units read it (paragraphs joined, lists and rows one a line, headings as
    labels): what a language model is shown."""
    units = parse_units(body)
    return render(units, list(range(len(units))))
