from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from ingest.loaders.base import LoadedDocument, Outline, decode_text

_BOILERPLATE = [
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "template",
]
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "li", "tr", "td", "th", "dd", "dt", "pre", "blockquote", "figcaption"}


def load_html(data: bytes, stem: str) -> LoadedDocument:
    """HTML without navigation and boilerplate, split at headings."""
    soup = BeautifulSoup(decode_text(data), "html.parser")
    for tag in soup.find_all(_BOILERPLATE):
        tag.decompose()
    for tag in soup.find_all(True, attrs={"role": ["navigation", "banner", "contentinfo"]}):
        tag.decompose()
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    body = soup.find("main") or soup.find("article") or soup.body or soup
    outline = Outline(title)
    for element in body.find_all(list(_HEADINGS) + list(_BLOCKS)):
        if not isinstance(element, Tag):
            continue
        # A block nested in another block is read with its parent.
        if element.name in _BLOCKS and element.find_parent(list(_BLOCKS)) is not None:
            continue
        text = _block_text(element)
        if not text:
            continue
        if element.name in _HEADINGS:
            outline.heading(_HEADINGS[element.name], text)
        else:
            # A blank line between blocks: each is a paragraph of its own, as the answer reads them.
            outline.text(text + "\n")
    return outline.document(stem)


def _block_text(element: Tag) -> str:
    """A block's text; a list item marked as one, a table row as its cells between bars (so the answer
    keeps the row together and knows it for one)."""
    if element.name == "tr":
        cells = [cell.get_text(" ", strip=True) for cell in element.find_all(["td", "th"])]
        return "| " + " | ".join(cells) + " |" if any(cells) else ""
    text = element.get_text(" ", strip=True)
    if element.name == "li" and text:
        return f"- {text}"
    return text
