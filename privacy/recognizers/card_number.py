"""Payment card numbers a customer calls a card, whether or not they pass the Luhn check.

Presidio's CreditCardRecognizer accepts only numbers with a valid Luhn digit, which is right for text
without context; but "my card 4131 0342 8245 8809" is a card number to mask even when mistyped.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.recognizers.context import ContextPatternRecognizer


class CardNumberRecognizer(ContextPatternRecognizer):
    ENTITY = "CREDIT_CARD"
    PATTERNS: ClassVar[list[Pattern]] = [
        # 12 to 19 digits, in groups or not: "4111 1111 1111 1111", "213176828496175". Weak: needs context.
        Pattern("card_digits", r"(?<![\w\-+.])\d(?:[ \-]?\d){11,18}(?![\w\-]|[.,]\d)", 0.3),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "card",
        "cards",
        "cc",
        "credit",
        "debit",
        "visa",
        "mastercard",
        "amex",
        "maestro",
        "charge",
        "charged",
    ]
    BEFORE: ClassVar[int] = 40

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="CardNumberRecognizer",
            supported_language="en",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if 12 <= len(re.sub(r"\D", "", pattern_text)) <= 19 else False
