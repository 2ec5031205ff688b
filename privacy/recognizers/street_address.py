"""Street addresses and postcodes, which spaCy's small model mostly misses.

A house number followed by up to four capitalised words and a street-type word ("221B Baker Street",
"12 Rue de la Paix" is left to LOCATION), and UK and US postcodes with context.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer

_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Way|Boulevard|Blvd|Close|Court|Ct|Place|Pl|Square|Sq|"
    "Terrace|Crescent|Gardens|Grove|Hill|Row|Mews|Parade|Walk|Highway|Hwy|Parkway|Pkwy|Park"
)


class StreetAddressRecognizer(PatternRecognizer):
    ENTITY = "STREET_ADDRESS"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "house_number_and_street",
            rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][a-z']+\s+){{1,4}}(?:{_STREET_TYPES})\b\.?",
            0.6,
        ),
        Pattern("uk_postcode", r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", 0.5),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "live",
        "address",
        "deliver",
        "delivery",
        "postcode",
        "zip",
        "street",
        "send",
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="StreetAddressRecognizer",
            supported_language="en",
        )
