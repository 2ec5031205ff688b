"""Tokens shaped like an identifier, with no label: a long run of digits ("1356 2467 8901 2345",
"3348917502") or letters and digits mixed ("RX12345678", "B3BLRKKZQQ7").

In a customer's message such a token is far more often their order, account or card number than anything
else, so it is masked; unless the business's own knowledge base uses it (a product code, a SKU, a model
number: `privacy.detect`'s `vocabulary`), and never in the business's documents.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer


class IdentifierShapeRecognizer(PatternRecognizer):
    # Scores just above the threshold: a recognizer that knows the format (a card, a phone) or a label wins.
    ENTITY = "ID_NUMBER"
    PATTERNS: ClassVar[list[Pattern]] = [
        # Nine or more digits, in groups or not, that are no decimal, money or time.
        Pattern("long_digits", r"(?<![\w.,:/\-+€$£])\d(?:[ \-]?\d){8,}(?![\w]|[.,:]\d)", 0.41),
        # Seven or more letters and digits with at least three digits and two letters, in either order.
        Pattern(
            "mixed_code",
            r"(?<![\w\-/.@])(?=(?:[A-Za-z]*\d){3})(?=(?:\d*[A-Za-z]){2})[A-Za-z0-9]{7,24}(?![\w\-/@]|\.\w)",
            0.41,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            name="IdentifierShapeRecognizer",
            supported_language="en",
        )
