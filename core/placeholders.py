"""The placeholder format, in one place. Masked text carries `<PERSON_1>`, `<EMAIL_ADDRESS_2>`, and in knowledge
documents `<DOC_PERSON_1>` (a scope's label before the type): upper-case type, underscore, a number from 1.
`privacy.vault` numbers them; everything that reads masked text (retrieval, the responders, language
detection, analytics) finds them with these patterns."""

from __future__ import annotations

import re

# As Wepos writes them.
PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")
# As a language model may echo one back: `< person 1 >`, `<Person_1>`.
LOOSE_PLACEHOLDER = re.compile(r"<\s*([A-Za-z]+(?:[ _]+[A-Za-z]+)*)[ _]*(\d+)\s*>")


def placeholder_prefix(label: str, entity_type: str) -> str:
    """What every placeholder of one type in one scope starts with (`<DOC_PERSON_`)."""
    return f"<{label}{entity_type}_"


def placeholder(label: str, entity_type: str, number: int) -> str:
    return f"{placeholder_prefix(label, entity_type)}{number}>"


def canonical_placeholder(raw: str) -> str | None:
    """`< person 1 >` -> `<PERSON_1>`; None when the text is no placeholder at all."""
    match = LOOSE_PLACEHOLDER.fullmatch(raw.strip())
    if not match:
        return None
    return f"<{re.sub(r'[ _]+', '_', match.group(1).upper())}_{match.group(2)}>"


def without_placeholders(text: str) -> str:
    """The text with each placeholder replaced by a space (for counting words, detecting a language)."""
    return PLACEHOLDER.sub(" ", text)
