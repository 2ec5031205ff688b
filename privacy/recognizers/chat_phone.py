"""Phone numbers as people type them in chat, including numbers libphonenumber calls invalid.

Presidio's PhoneRecognizer only accepts numbers valid for libphonenumber, so reserved or new ranges
(`+44 7700 900123`) slip through, and spaCy then calls them DATE_TIME. A number in international form, in
North American form or with a national trunk prefix (`07700 900123`) is a phone number whatever its range;
other groupings of 7 to 15 digits (`467 3395`, `60-56-85-91`) need a context word on either side.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.recognizers.context import ContextPatternRecognizer

_EXTENSION = r"(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,5})?"
_END = r"(?![\w])"

# Shapes of things that are not phone numbers although they are groups of digits.
_NOT_A_PHONE = re.compile(
    r"\d{4}[.\-/]\d{1,2}[.\-/]\d{1,2}"  # 2020-06-20
    r"|\d{1,2}[.\-/]\d{1,2}[.\-/]\d{2,4}"  # 20.06.2020
    r"|\d{1,3}(?:\.\d{1,3}){3}"  # an IPv4 address
    r"|\d{3}-\d{2}-\d{4}"  # a US social security number
)


class ChatPhoneRecognizer(ContextPatternRecognizer):
    ENTITY = "PHONE_NUMBER"
    PATTERNS: ClassVar[list[Pattern]] = [
        # +CC then groups separated by spaces, dots, dashes or brackets: "+44 7700 900123", "+46 (0)8 928 571 38".
        Pattern(
            "international",
            rf"(?<![\w+])\+\d{{1,3}}(?:[ .\-]?(?:\(\d{{1,5}}\)|\d{{1,5}})){{1,6}}{_EXTENSION}{_END}",
            0.75,
        ),
        # 00-prefixed international: "0044 7700 900123", "001-518-640-0854".
        Pattern(
            "international_00", rf"(?<![\w])00\d{{1,3}}(?:[ .\-]?\d{{1,5}}){{2,5}}{_EXTENSION}{_END}", 0.6
        ),
        # North American: "(415) 555-0100", "415.555.0100x12", "(579)888-3058".
        Pattern(
            "north_american",
            rf"(?<![\w+])(?:\(\d{{3}}\)[ \t]?\d{{3}}[ .\-]?|\d{{3}}[.\-]\d{{3}}[.\-])\d{{4}}{_EXTENSION}{_END}",
            0.6,
        ),
        # A national trunk prefix: "07700 900123", "085 175 7641".
        Pattern(
            "trunk_prefix", rf"(?<![\w+.,:/\-])0\d{{2,4}}(?:[ .\-]?\d{{2,4}}){{2,3}}{_EXTENSION}{_END}", 0.5
        ),
        # Any other grouping: "467 3395", "60-56-85-91", "(37) 788-063". Weak: needs context.
        Pattern(
            "grouped",
            rf"(?<![\w+.:/\-])(?<!\d,)\(?\d{{1,5}}\)?(?:[ .\-]\(?\d{{1,8}}\)?){{1,5}}{_EXTENSION}(?![\w]|[.,:/\-]\d)",
            0.3,
        ),
        # Ten or eleven digits in a row: "3660170548". Weak: needs context.
        Pattern("digits", r"(?<![\w+.:/\-])(?<!\d,)\d{10,11}(?![\w]|[.,:/\-]\d)", 0.3),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "phone",
        "call",
        "called",
        "calling",
        "number",
        "mobile",
        "cell",
        "cellphone",
        "whatsapp",
        "tel",
        "telephone",
        "ring",
        "text",
        "texts",
        "sms",
        "contact",
        "reach",
        "fax",
        "office",
        "desk",
        "home",
        "work",
        "landline",
        "answering",
        "messages",
        "registered",
    ]
    # A number after these words is someone's order, card or account, not a phone.
    NOT_AFTER: ClassVar[list[str]] = [
        "order",
        "tracking",
        "invoice",
        "reference",
        "ref",
        "booking",
        "account",
        "card",
        "iban",
        "ssn",
        "passport",
        "licence",
        "license",
        "policy",
        "parcel",
        "item",
        "zip",
        "postcode",
        "price",
        "total",
    ]
    AFTER: ClassVar[int] = 15

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="ChatPhoneRecognizer",
            supported_language="en",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", re.sub(r"(?i)(?:x|ext\.?)\s?\d+$", "", pattern_text))
        # E.164 allows at most 15 digits; fewer than 7 is a time, a price or an order number.
        if not 7 <= len(digits) <= 15 or _NOT_A_PHONE.fullmatch(pattern_text.strip("()")):
            return False
        return None
