"""Dates of birth: a date right after "born", "date of birth", "DOB" or "birthday".

A date alone is kept (opening hours, delivery days); next to one of these words it identifies a person.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.recognizers.context import ContextPatternRecognizer

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    # German, French, Spanish, Italian, Portuguese
    r"januar|februar|m[äa]e?rz|mai|juni|juli|oktober|dezember|janvier|f[ée]vrier|mars|avril|juin|juillet|"
    r"ao[uû]t|septembre|octobre|novembre|d[ée]cembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"sep?tiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|"
    r"ottobre|dicembre|janeiro|fevereiro|mar[çc]o|maio|junho|julho|setembro|outubro|novembro|dezembro)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"


class DateOfBirthRecognizer(ContextPatternRecognizer):
    ENTITY = "DATE_OF_BIRTH"
    PATTERNS: ClassVar[list[Pattern]] = [
        # All weak: a date is a date of birth only after a context word.
        Pattern("numeric", r"(?<![\w./\-])\d{1,4}[./\-]\d{1,2}[./\-]\d{2,4}(?![\w]|[./\-]\d)", 0.3),
        Pattern(
            "day_month_year",
            rf"\b{_DAY}\.?(?:\s+(?:of|de|di|del))?\s+{_MONTH},?(?:\s+(?:de|del))?\s+\d{{4}}\b",
            0.3,
        ),
        Pattern("month_day_year", rf"\b{_MONTH}\s+{_DAY},?\s+\d{{4}}\b", 0.3),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "born",
        "birth",
        "birthday",
        "birthdate",
        "dob",
        "d.o.b",
        "d.o.b.",
        # German, French, Spanish, Italian, Portuguese, Turkish
        "geburtsdatum",
        "geburtstag",
        "geboren",
        "geb.",
        "né",
        "née",
        "naissance",
        "nacimiento",
        "nacido",
        "nacida",
        "nascita",
        "nato",
        "nata",
        "nascimento",
        "nasceu",
        "nascido",
        "nascida",
        "doğum",
        "dogum",
    ]
    BEFORE: ClassVar[int] = 30

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="DateOfBirthRecognizer",
            supported_language="en",
        )
