"""Who speaks in a pasted chat or transcript: "Nicole: Remember me?", "[12/03/2024, 10:31] Ana Sousa: hi".

Customers paste exported WhatsApp chats, e-mail threads and call notes, where each line starts with the
speaker's name and a colon. spaCy's small model rarely tags a name there (it reads "Ubul:" as anything), but
the shape is plain. A label with WhatsApp's export time before it is a name whatever its words; without one,
the first word must be a first name that is no everyday word, or no English word at all, so the field labels
of a form ("Address:", "Note:", "Mobile:", "Answer:") and abbreviations ("Tel:", "Attn:") stay readable.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from privacy.recognizers.name_lexicon import CALENDAR, FIRM_OR_PLACE_WORDS, NOT_NAME_WORDS, NameLexicon

_WORD = r"[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*"


class SpeakerLabelRecognizer(EntityRecognizer):
    ENTITY = "PERSON"
    SCORE: ClassVar[float] = 0.6
    # WhatsApp's export puts the time first: "[12/03/2024, 10:31:05] Ana: ..." or "12/03/24, 10:31 - Ana: ...".
    EXPORT_TIME: ClassVar[str] = (
        r"(?:\[[^\]\n]{6,30}\][ \t]*"
        r"|\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4},?[ \t]+\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]*[AaPp]\.?[Mm]\.?)?[ \t]+-[ \t]+)"
    )
    PATTERN: ClassVar[str] = (
        rf"^[ \t>]*(?P<time>{EXPORT_TIME})?(?P<name>{_WORD}(?:[ \t]+{_WORD}){{0,2}})[ \t]*:(?![/\d])"
    )
    # Labels of forms, mails and FAQs that are no English word in the lexicon, or are first names too.
    LABELS: ClassVar[frozenset[str]] = frozenset(
        {
            "tel",
            "mob",
            "ph",
            "fax",
            "attn",
            "ref",
            "re",
            "fwd",
            "fw",
            "cc",
            "bcc",
            "ps",
            "nb",
            "faq",
            "url",
            "sku",
            "iban",
            "bic",
            "dob",
            "dept",
            "addr",
            "apt",
            "qty",
            "eta",
            "tldr",
            "pls",
            "edit",
            "update",
            "bot",
            "user",
            "agent",
            "admin",
            "customer",
            "support",
            "me",
            "you",
        }
    )

    def __init__(self, lexicon: NameLexicon) -> None:
        self._lexicon = lexicon
        self._regex = re.compile(self.PATTERN, re.MULTILINE)
        super().__init__(
            supported_entities=[self.ENTITY], name="SpeakerLabelRecognizer", supported_language="en"
        )

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        lower_case_text = not any(c.isupper() for c in text)
        labels = [
            (m, m.group("name").split(), m.group("time") is not None) for m in self._regex.finditer(text)
        ]
        speakers = [
            self._is_speaker(words, exported=exported, lower_case=lower_case_text)
            for _, words, exported in labels
        ]
        if any(speakers):
            # Once a text is a transcript, the other speakers may have names that are words too: "Ella: What a
            # wife.\nDestiny: Remember me?". A first name still, so "Note:" under a chat stays readable.
            speakers = [
                found
                or (
                    self._plain_label(words, lower_case=lower_case_text)
                    and self._lexicon.is_given_name(words[0])
                )
                for found, (_, words, _) in zip(speakers, labels, strict=True)
            ]
        return [
            RecognizerResult(self.ENTITY, *match.span("name"), self.SCORE)
            for found, (match, _, _) in zip(speakers, labels, strict=True)
            if found
        ]

    def _is_speaker(self, words: list[str], *, exported: bool, lower_case: bool) -> bool:
        if not self._plain_label(words, lower_case=lower_case):
            return False
        if exported:
            return True
        first = words[0]
        if self._lexicon.is_given_name(first):
            return not self._lexicon.is_ambiguous(first)
        # No English word at all, first or last: "Ubul:", "Kowalczyk:"; "Shipping policy:" is words.
        return not any(self._lexicon.is_word(w) for w in words)

    def _plain_label(self, words: list[str], *, lower_case: bool) -> bool:
        """Words that may be a name: no field label, function word or firm word, each capitalised."""
        folded = [w.casefold() for w in words]
        if any(f in self.LABELS or f in NOT_NAME_WORDS or f in STOP_WORDS or f in CALENDAR for f in folded):
            return False
        if any(f in FIRM_OR_PLACE_WORDS for f in folded):
            return False  # "Bakery:", "Main Street:"
        if not lower_case and not all(w[0].isupper() and not w.isupper() for w in words):
            return False  # "NB:", "Next steps:", "FAQ:"
        return all(len(w) > 1 for w in words)  # not "Q:", "A:"
