"""People's names that spaCy's small model misses, cuts short or files as an organisation or a place.

The recognizer runs named rules (`person_name_rules.RULES`) over spaCy's analysis of the message, in order:

1. spaCy's own names run on over the surname tokens after them: "Gabriella" -> "Gabriella Villanueva",
   "Amy-leigh", "Vide A. Persson", "Donald van der Voet";
2. a known first name (see `name_lexicon`) starts a name, and so do two capitalised words no dictionary knows
   and a surname the census knows: "Isabel", "Zoe Young" (which spaCy calls an ORG), "Gyala Antall";
3. a name makes the words listed with it names too: "Maslow, Anthony and Perry";
4. a lone capitalised word is a name where only a person fits around it: "Okonkwo's flat", "Zdravko lives
   next door", "says Yudina", "Irenka ... depend on him";
5. a part of a name found once is a name wherever it is said again.

Each result names the rule that found it (`recognition_metadata["rule"]`) and scores that rule's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult

from privacy.recognizers.person_name_rules import RULES, Reading, Rule

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.tokens import Span

    from privacy.recognizers.name_lexicon import NameLexicon


class PersonNameRecognizer(EntityRecognizer):
    """People's names by the shape of a message's words, rule by rule; each result names its rule."""

    ENTITY = "PERSON"
    NAME = "PersonNameRecognizer"

    def __init__(self, lexicon: NameLexicon, rules: Sequence[Rule] = RULES) -> None:
        self._lexicon = lexicon
        self._rules = tuple(rules)
        super().__init__(supported_entities=[self.ENTITY], name=self.NAME, supported_language="en")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = getattr(nlp_artifacts, "tokens", None)
        if doc is None:
            return []
        reading = Reading(doc, self._lexicon, lower_case=not any(c.isupper() for c in text))
        for rule in self._rules:
            if reading.case in rule.cases:
                reading.take(rule.find(reading), rule)
        return [
            self._result(doc[start:end], reading.found_by[start])
            for start, end in sorted(reading.names.items())
            if reading.spacy_names.get(start) != end  # spaCy's span unchanged: Presidio reports it already
        ]

    def _result(self, span: Span, rule: Rule) -> RecognizerResult:
        return RecognizerResult(
            self.ENTITY,
            span.start_char,
            span.end_char,
            rule.score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.NAME, original_score=rule.score, textual_explanation=f"rule {rule.name}"
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                "rule": rule.name,
            },
        )
