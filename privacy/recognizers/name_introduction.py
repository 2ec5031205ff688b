"""Names a person gives in so many words: "my name is maria", "this is Tom", "Mr. Alan Ng", "Name: Ana Sá".

spaCy's small model misses single, lower-case or foreign names that a phrase around them makes plain. The
phrase decides how much the words after it must look like a name: after "my name is" any word that is no
function word, verb or interjection; after "this is" or "I'm" only a proper noun
(or a capitalised noun, as the small model tags names it does not know); after a title, capitalised words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from privacy.recognizers.name_lexicon import (
    CALENDAR,  # days and months: proper nouns, no one's name
    GREETING_WORDS,
    NOT_NAME_WORDS,
)

_WORD = r"[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*"
_NAME = rf"(?P<name>{_WORD}\.?(?:[ \t]+{_WORD}\.?){{0,3}})"

# How sure each kind of phrase makes us, and what the words after it must be.
_LABELLED, _INTRODUCED, _ADDRESSED, _TITLED = "labelled", "introduced", "addressed", "titled"
# Parts of speech a lower-case word after "my name is" cannot have and be a name ("please", "and", "here").
_NOT_NAME = frozenset(
    {"VERB", "AUX", "INTJ", "ADP", "DET", "PRON", "CCONJ", "SCONJ", "PART", "NUM", "PUNCT", "SYM"}
)


class NameIntroductionRecognizer(EntityRecognizer):
    ENTITY = "PERSON"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            _LABELLED,
            r"(?i:\bmy[ \t]+name[ \t]+is|\bmy[ \t]+name's|\bname[ \t]+is|\bcalls?[ \t]+me|\bname[ \t]*:)"
            rf"[ \t]+{_NAME}",
            0.7,
        ),
        # "my name is" in the languages customers write in, and as typed in chat ("my naam is", "mera naam").
        Pattern(
            _LABELLED,
            r"(?i:\bmy[ \t]+naam[ \t]+is|\bmera[ \t]+naam(?:[ \t]+hai)?|\bmein[ \t]+name[ \t]+ist|"
            r"\bich[ \t]+hei(?:ß|ss)e|\bje[ \t]+m['’][ \t]*appelle|\bmon[ \t]+nom[ \t]+est|\bme[ \t]+llamo|"
            r"\bmi[ \t]+nombre[ \t]+es|\bmi[ \t]+chiamo|\bil[ \t]+mio[ \t]+nome[ \t]+è|\bmeu[ \t]+nome[ \t]+é|"
            r"\bme[ \t]+chamo|\bbenim[ \t]+ad[ıi]m)"
            rf"[ \t]+{_NAME}",
            0.7,
        ),
        # The answer to a question about the name: "What's your last name? Boyle", "the name on the
        # account? User: Ágnes Földesy" (a speaker's label may stand between).
        Pattern(
            _LABELLED,
            r"(?i:\b(?:sur)?name(?:[ \t]+on[ \t]+(?:the|your|my)[ \t]+\w+)?[ \t]*\?)[ \t]*(?:[A-Za-z]+[ \t]*:[ \t]*)?"
            rf"{_NAME}",
            0.7,
        ),
        Pattern(
            _INTRODUCED,
            r"(?i:\bthis[ \t]+is|\bi'm|\bi’m|\bi[ \t]+am|\bit's|\bit[ \t]+is|\bname|"
            r"\bich[ \t]+bin|\bhier[ \t]+ist|\bje[ \t]+suis|\bc['’]est|\bsono|\bsoy|\beu[ \t]+sou|"
            r"^(?:hi|hello|hey|dear|thanks|thank[ \t]+you|hallo|bonjour|salut|hola|ciao|olá|ola|merhaba),?)"
            rf"[ \t]+{_NAME}",
            0.6,
        ),
        # Someone named by their tie to the writer: "remove my kid Tadzio from the will", "my wife Agi".
        Pattern(
            _INTRODUCED,
            r"(?i:\b(?:my|our|his|her|their)[ \t]+(?:(?:little|older|younger|eldest|youngest|best)[ \t]+)?"
            r"(?:son|daughter|kid|child|wife|husband|partner|fianc[ée]e?|friend|mum|mom|mother|dad|father|"
            r"sister|brother|cousin|aunt|uncle|niece|nephew|grandson|granddaughter|colleague|boss|neighbour|"
            r"neighbor|flatmate|roommate))[ \t]+"
            rf"{_NAME}",
            0.6,
        ),
        # Someone addressed at the start of a message: "Mathilde, can I speak to your boss?"
        Pattern(_ADDRESSED, rf"^{_NAME}(?=,)", 0.6),
        # "Mr. Alan Ng", and as typed in chat: "ms. Quinzia", "mr smith" (see `_title_fits`).
        Pattern(_TITLED, rf"(?P<title>\b(?i:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame)\b\.?)[ \t]+{_NAME}", 0.7),
    ]

    def __init__(self) -> None:
        self._compiled = [(p, re.compile(p.regex, re.MULTILINE)) for p in self.PATTERNS]
        super().__init__(
            supported_entities=[self.ENTITY], name="NameIntroductionRecognizer", supported_language="en"
        )

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        tokens = {t.idx: t for t in nlp_artifacts.tokens} if nlp_artifacts is not None else {}
        results: list[RecognizerResult] = []
        for pattern, regex in self._compiled:
            pos = 0
            while match := regex.search(text, pos):
                end = self._name_end(text, match, pattern.name, tokens)
                if pattern.name == _TITLED and not _title_fits(match.group("title")):
                    end = None
                if end is None:
                    pos = match.start() + 1  # "it's under my partner's name Ann": "name Ann" overlaps
                    continue
                pos = end
                start = match.start("title") if pattern.name == _TITLED else match.start("name")
                results.append(
                    RecognizerResult(
                        self.ENTITY,
                        start,
                        end,
                        pattern.score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: "NameIntroductionRecognizer",
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            "rule": pattern.name,  # labelled, introduced, addressed or titled
                        },
                    )
                )
        return results

    @staticmethod
    def _name_end(text: str, match: re.Match[str], kind: str, tokens: Mapping[int, object]) -> int | None:
        """Where the name ends: after the last word that fits the phrase; None when the first does not."""
        end = None
        lower_case = not any(c.isupper() for c in text)
        for word in re.finditer(r"\S+", match.group("name")):
            start = match.start("name") + word.start()
            bare = word.group().rstrip(".")
            # "I'm Misty's daughter": the name without its possessive, and no word after it.
            possessive = re.search(r"['’]s$", bare) is not None
            if possessive:
                bare = bare[:-2]
            if (
                not bare
                or bare.casefold() in STOP_WORDS
                or bare.casefold() in CALENDAR
                or bare.casefold() in NOT_NAME_WORDS
                or bare.casefold() in GREETING_WORDS
                # A contraction, not a name: "C'mon, sing it", "Y'all"; names keep a capital: "O'Brien".
                or re.search(r"['’][a-z]", bare)
            ):
                break
            pos = getattr(tokens.get(start), "pos_", "")
            capitalised = bare[0].isupper()
            if kind == _TITLED and not capitalised and (match.group("title")[0].isupper() or not lower_case):
                break
            if (
                kind in (_INTRODUCED, _ADDRESSED)
                and pos != "PROPN"
                and not (capitalised and pos in {"NOUN", "X"})
            ):
                break
            if kind in (_LABELLED, _TITLED) and not capitalised and pos in _NOT_NAME:
                break
            end = start + len(bare)
            if possessive:
                break
        return end


# Titles typed in lower case that are no everyday word: "miss", "sir" and "dame" are ("i miss paris").
_LOWER_CASE_TITLES = frozenset({"mr", "mrs", "ms", "mx", "dr", "prof"})


def _title_fits(title: str) -> bool:
    """A title as written: capitalised, or in lower case one that is no everyday word or has its full stop.
    All capitals is an acronym, not a title: "MS Office", "DR Congo"."""
    bare = title.rstrip(".")
    if len(bare) > 1 and bare.isupper():
        return False
    return title[0].isupper() or title.endswith(".") or title.casefold() in _LOWER_CASE_TITLES
