"""Phone numbers as people type them in chat, including numbers libphonenumber calls invalid.

Presidio's PhoneRecognizer only accepts numbers valid for libphonenumber, so reserved or new ranges
(`+44 7700 900123`) slip through, and spaCy then calls them DATE_TIME. A number written in international
form is a phone number whatever its range; a national form needs a context word.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer


class ChatPhoneRecognizer(PatternRecognizer):
    ENTITY = "PHONE_NUMBER"
    PATTERNS: ClassVar[list[Pattern]] = [
        # +CC then groups separated by spaces, dots, dashes or brackets: "+44 7700 900123", "+1 (415) 555-0100".
        Pattern(
            "international",
            r"(?<![\w+])\+\d{1,3}(?:[ .\-]?(?:\(\d{1,5}\)|\d{1,5})){2,6}(?![\w])",
            0.75,
        ),
        # 00-prefixed international: "0044 7700 900123".
        Pattern("international_00", r"(?<![\w])00\d{1,3}(?:[ .\-]?\d{2,5}){2,5}(?![\w])", 0.6),
        # National forms: "07700 900123", "(415) 555-0100", "415-555-0100". Weak without context.
        Pattern(
            "national",
            r"(?<![\w+])(?:\(\d{2,5}\)|0\d{2,4}|\d{3})[ .\-]?\d{3,4}[ .\-]?\d{3,4}(?![\w])",
            0.3,
        ),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "phone",
        "call",
        "number",
        "mobile",
        "cell",
        "whatsapp",
        "tel",
        "ring",
        "text me",
        "contact",
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="ChatPhoneRecognizer",
            supported_language="en",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", pattern_text)
        # E.164 allows at most 15 digits; fewer than 8 is a time, a price or an order number.
        if not 8 <= len(digits) <= 15:
            return False
        return None
