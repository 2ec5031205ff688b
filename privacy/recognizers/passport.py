"""Passport numbers of any country: six to nine letters and digits right after the word "passport"."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.recognizers.context import ContextPatternRecognizer


class PassportRecognizer(ContextPatternRecognizer):
    ENTITY = "PASSPORT"
    PATTERNS: ClassVar[list[Pattern]] = [
        # Weak: without the word "passport" close before, this is any code at all.
        Pattern("passport_number", r"(?<![\w\-])(?=[A-Z]*\d)[A-Z0-9]{6,9}(?![\w\-])", 0.2),
    ]
    CONTEXT: ClassVar[list[str]] = ["passport", "passport no", "passport number", "travel document"]
    BEFORE: ClassVar[int] = 25

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="PassportRecognizer",
            supported_language="en",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # A passport number has digits; "expired" or "renewal" after the word passport has none.
        return None if re.search(r"\d", pattern_text) else False
