"""The rules `PersonNameRecognizer` reads names by, in the order it runs them (`RULES`).

A rule is one way a name shows in a message ("a known first name", "a word before 's address"). It reads the
message's tokens and the names the rules before it found (a `Reading`), and returns the names it finds among
the tokens still free, as token ranges start -> end. Its name goes with every result it gives, so a masked
span says which rule masked it; its score is the result's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Literal

from spacy.lang.en.stop_words import STOP_WORDS

from privacy.recognizers.name_lexicon import (
    CALENDAR,
    FIRM_OR_PLACE_WORDS,
    NOT_NAME_WORDS,
    PLACE_PREFIXES,
    NameLexicon,
)

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

# How a message is typed: with a capital somewhere, or all in lower case (where names lose their shape).
Case = Literal["capitalised", "lower case"]
BOTH_CASES: frozenset[Case] = frozenset({"capitalised", "lower case"})

# spaCy labels a name may hide under; dates, amounts and the like never do.
NAME_LABELS = frozenset({"", "PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "PRODUCT", "WORK_OF_ART", "EVENT"})
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# Words before a place, not a person: "delivery to Charlotte", "a shop in Florence".
PLACE_WORDS = frozenset(
    {"to", "in", "from", "at", "near", "via", "into", "around", "across", "toward", "towards", "outside"}
)
# Verbs after which "at" points to a person, not a place: "shouted at Tyler", "smiled at Angelica".
AT_A_PERSON = frozenset(
    {"shouted", "yelled", "screamed", "looked", "stared", "glanced", "smiled", "laughed", "waved", "winked"}
)
# Works a person makes or performs: a name before one is its author's ("the Nielsen novel"), where a name
# before another thing is that thing's brand ("a Dyson vacuum", "the Rose cake").
WORK_NOUNS = frozenset(
    {"novel", "novels", "book", "books", "biography", "memoir", "poem", "poems", "song", "songs", "album"}
    | {"albums", "film", "films", "movie", "movies", "concert", "concerts", "painting", "paintings"}
)
# Parts of a surname written in lower case: "van der Voet", "da Silva", "bin Said".
PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "la", "le", "ter"}
    | {"ten", "bin", "ibn", "al", "el"}
)
# Parts of speech a first name is never read as, whatever the list says ("Hi", "Will" as AUX).
NOT_NAME_POS = frozenset(
    {"AUX", "DET", "ADP", "PRON", "CCONJ", "SCONJ", "PART", "NUM", "PUNCT", "SYM", "INTJ", "SPACE"}
)
MAX_SURNAMES = 4
# The tagger reads an unknown capitalised word standing alone as anything ("Trivo/ADJ", "Yudina/X").
LONE_WORD_TAGS = frozenset({"PROPN", "NOUN", "ADJ", "X"})


class Reading:
    """One message as the rules read it: its tokens, how it is typed, and the names found in it so far.

    `names` maps a name's first token to the token after its last; `covered` holds every token of them, kept
    up to date as each rule's names are taken in; `found_by` says which rule found each name."""

    def __init__(self, doc: Doc, lexicon: NameLexicon, *, lower_case: bool) -> None:
        self.doc = doc
        self.lexicon = lexicon
        self.lower_case = lower_case
        self.case: Case = "lower case" if lower_case else "capitalised"
        # spaCy's own names, which Presidio reports already: the first rule runs them on.
        self.spacy_names = {ent.start: ent.end for ent in doc.ents if ent.label_ == "PERSON"}
        self.names: dict[int, int] = {}
        self.found_by: dict[int, Rule] = {}
        self.covered: set[int] = set()

    def take(self, found: dict[int, int], rule: Rule) -> None:
        """Add the names a rule found."""
        for start, end in found.items():
            self.names[start] = end
            self.found_by[start] = rule
            self.covered.update(range(start, end))

    def surnames(self, end: int) -> int:
        """Where a name that ends before token `end` ends once the surname tokens after it are taken in."""
        doc = self.doc
        taken = 0
        i = end
        while i < len(doc) and taken < MAX_SURNAMES and _joined(doc, i):
            token = doc[i]
            if token.text in {"-", "‐"} and not doc[i - 1].whitespace_ and not token.whitespace_:
                # "Amy-leigh", "Garcia-Marquez": the part after the hyphen is taken in any case.
                if i + 1 < len(doc) and doc[i + 1].is_alpha:
                    i += 2
                    end, taken = i, taken + 1
                    continue
                break
            if token.lower_ in PARTICLES or _is_initial(token) or (self.lower_case and _is_letter(token)):
                i += 1  # "van der Voet", "Brad L Key", "leidy t muris": kept only with a surname after them
                continue
            if not self.is_surname(token):
                break
            i += 1
            end, taken = i, taken + 1
        return end

    def is_surname(self, token: Token) -> bool:
        word = token.text
        folded = word.casefold()
        if not word.replace("'", "").replace("’", "").isalpha() or token.ent_type_ not in NAME_LABELS:
            return False
        if folded in STOP_WORDS or folded in CALENDAR or folded in NOT_NAME_WORDS:
            return False
        if folded in FIRM_OR_PLACE_WORDS and word[0].isupper():
            return False  # "Nera Economic Consulting", "Anna Street": the firm or place the name begins
        if token.pos_ in NOT_NAME_POS:
            return False
        if self.lower_case:
            # The tagger reads unknown lower-case words as anything; only the word lists can tell.
            return len(word) > 1 and not self.lexicon.is_word(word)
        if not (word[0].isupper() and (not word.isupper() or len(word) == 1)):
            return False
        # The tagger reads some surnames as verbs ("Cynthia Martins"); a capitalised "verb" that is no verb,
        # adjective or adverb the lists know, nor a form of one ("runs"), is a surname.
        verbs = self.lexicon.english_words
        return token.pos_ != "VERB" or not (folded in verbs or token.lemma_.casefold() in verbs)

    def after_a_place_word(self, i: int) -> bool:
        """Whether token `i` follows a word that puts a place after it ("to", "in"; "at", but not after
        "shouted")."""
        doc = self.doc
        if i == 0 or doc[i - 1].lower_ not in PLACE_WORDS:
            return False
        return not (doc[i - 1].lower_ == "at" and i > 1 and doc[i - 2].lower_ in AT_A_PERSON)

    def beside_a_place(self, i: int) -> bool:
        """Whether a place that is no first name stands next to token `i` in a list or after a comma:
        "Florence, Italy", "ship to Ireland and France"; not the next name of "Kristi, Stephen"."""
        doc = self.doc
        joiners = {",", "and", "or", "&", "/"}
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(doc) and doc[j].lower_ in joiners:
                j += step
            if j == i + step or not 0 <= j < len(doc):
                continue  # nothing joins them
            other = doc[j]
            if other.ent_type_ in PLACE_LABELS and not self.lexicon.is_given_name(other.text):
                return True
        return False

    def names_a_firm_or_place(self, end: int) -> bool:
        """Whether a name ending before token `end` is the first part of a firm's or a place's: "Rand
        Corporation", "Anna Street"."""
        doc = self.doc
        after = doc[end] if end < len(doc) and _joined(doc, end) else None
        return after is not None and after.text[0].isupper() and after.lower_ in FIRM_OR_PLACE_WORDS

    def modifies_a_thing(self, end: int) -> bool:
        """Whether a capitalised name ending before token `end` stands in front of a lower-case noun: "the Rose
        cake", "a Victoria sponge"."""
        doc = self.doc
        if end >= len(doc):
            return False
        last, after = doc[end - 1], doc[end]
        # With the parser off (it is, for speed) the tag decides alone: a proper noun before a lower-case noun.
        modifies = last.dep_ in {"compound", "amod", "nmod"} if doc.has_annotation("DEP") else True
        if after.lower_ in CALENDAR or after.ent_type_ in {"DATE", "TIME"}:
            return False  # "I spoke to Ana Souza yesterday": a time, not a thing the name qualifies
        if after.lower_ in WORK_NOUNS:
            return False
        return modifies and after.pos_ == "NOUN" and after.text.islower()

    def lone_capitalised(
        self, token: Token, tags: frozenset[str] = frozenset({"PROPN"}), *, places: bool = False
    ) -> bool:
        """A capitalised proper noun standing alone (no capitalised word on either side) that is no everyday
        word, or is a first name spaCy did not take for one ("Christian had given Lukas his address")."""
        word, folded = token.text, token.text.casefold()
        if not (token.is_alpha and len(word) > 1 and word[0].isupper() and not word.isupper()):
            return False
        if token.pos_ not in tags or token.ent_type_ not in NAME_LABELS:
            return False
        if (
            folded in NOT_NAME_WORDS
            or folded in FIRM_OR_PLACE_WORDS
            or folded in CALENDAR
            or folded in STOP_WORDS
        ):
            return False
        if token.ent_type_ in PLACE_LABELS and not (places or self.lexicon.is_given_name(word)):
            return False
        if self.lexicon.is_word(word) and not self.lexicon.is_given_name(word):
            return False
        # Part of a longer name or title: "Palantir Technologies", "Dr Who".
        return not _beside_capitalised(self.doc, token.i)

    def listed_after(self, end: int) -> int | None:
        """The token a list goes on with after a name ending before token `end`: "Kasia, Bjorn and ..."."""
        doc = self.doc
        i = end
        if i < len(doc) and doc[i].text == ",":
            i += 1
        if i < len(doc) and doc[i].lower_ in {"and", "or", "&"}:
            i += 1
        return i if end < i < len(doc) else None

    def listed_before(self, start: int) -> int | None:
        """The single word listed before a name starting at token `start`: "Kadiev" of "Kadiev and Adams"."""
        doc = self.doc
        i = start - 1
        if i >= 0 and doc[i].lower_ in {"and", "or", "&"}:
            i -= 1
        if i >= 0 and doc[i].text == ",":
            i -= 1
        if not 0 <= i < start - 1:
            return None
        # A single word: "Kadiev and Adams", not the surname of "Ann Kadiev and Adams".
        return i if i == 0 or not (doc[i - 1].is_alpha and doc[i - 1].text[0].isupper()) else None


class Rule(ABC):
    """One way a name shows in a message: a name for the results, their score, and where it finds names."""

    name: ClassVar[str]
    # Every rule scores 0.6, what the recognizer scored as one piece, so the same spans are masked: above the
    # masking threshold (0.4) and below spaCy's PERSON (0.85), for the score decides which of two overlapping
    # results Presidio's duplicate removal and the Detector's `resolve_overlaps` keep. Tune it rule by rule.
    score: ClassVar[float] = 0.6
    # The messages it reads: some shapes exist only with capitals, some only in lower case.
    cases: ClassVar[frozenset[Case]] = BOTH_CASES

    @abstractmethod
    def find(self, reading: Reading) -> dict[int, int]:
        """Names as token ranges, start -> end, starting on tokens no earlier rule took."""


class SpacyNameRunOn(Rule):
    """spaCy's own names, cut at a line break ("Allan\\nEchocardiographer") and run on over the surnames
    after them: "Gabriella" -> "Gabriella Villanueva". The recognizer reports only those this changed."""

    name = "spacy_name_run_on"

    def find(self, reading: Reading) -> dict[int, int]:
        return {
            start: reading.surnames(_line_end(reading.doc, start, end))
            for start, end in reading.spacy_names.items()
        }


class KnownFirstName(Rule):
    """A known first name (see `name_lexicon`) and the surnames after it: "Isabel", "Heather Larsen", "Zoe
    Young" (which spaCy calls an ORG). A first name that is also an English word ("May", "Will", "Grace")
    needs a surname after it that is not one ("Grace Okafor"), so "May I order?" and "Grace period" stay
    readable. A first name spaCy calls a place is taken only when it is no English word at all and does not
    follow "to", "in", "from" ("delivery to Charlotte?"), and a name that only modifies a thing ("the Rose
    cake", "a Victoria sponge") is no one's name."""

    name = "known_first_name"

    def find(self, reading: Reading) -> dict[int, int]:
        doc, lexicon = reading.doc, reading.lexicon
        found: dict[int, int] = {}
        after_last = 0  # the token after the last name found here: its surnames start no name of their own
        for token in doc:
            if token.i < after_last or token.i in reading.covered or not self._is_first_name(reading, token):
                continue
            end = reading.surnames(token.i + 1)
            if lexicon.is_ambiguous(token.text) and not self._has_plain_surname(reading, token.i + 1, end):
                continue
            # In lower case every word looks like a noun: "leone mazzi nurse" is a name and a job.
            plain = reading.lower_case and self._plain_lower_case_surname(reading, token.i + 1)
            # A first name and a surname no dictionary knows are a person even before a noun: "the Ernest
            # Takuda version", "the Ana Nowak account"; "the Rose cake" has no such surname.
            plain = plain or (
                end > token.i + 1
                and not lexicon.is_word(doc[end - 1].text)
                and not _camel_case(doc[end - 1].text)
            )
            if (reading.modifies_a_thing(end) and not plain) or reading.names_a_firm_or_place(end):
                continue
            if self._all_words(reading, doc[token.i : end]) and end > token.i + 1:
                continue  # "the Lily Collection", "a Victoria Sponge": a thing's name
            found[token.i] = end
            after_last = end
        return found

    def _is_first_name(self, reading: Reading, token: Token) -> bool:
        doc, lexicon = reading.doc, reading.lexicon
        word = token.text
        if not token.is_alpha or token.pos_ in NOT_NAME_POS or token.ent_type_ not in NAME_LABELS:
            return False
        folded = word.casefold()
        if not lexicon.is_given_name(word) or folded in NOT_NAME_WORDS or folded in FIRM_OR_PLACE_WORDS:
            return False
        surname_follows = False
        if reading.lower_case:
            # In a message typed all in lower case a name is no English word at all, or is followed by a
            # surname that is none: "naomi ryan" no, "leone mazzi" and "benjamin a seiler" yes.
            if len(word) < 3:
                return False
            # Only a name that is otherwise a noun ("benjamin"), never an adjective or verb ("novel
            # coronavirus", "young adults"): those read as the phrase they are.
            surname_follows = folded not in lexicon.english_words and self._plain_lower_case_surname(
                reading, token.i + 1
            )
            if lexicon.is_word(word) and not surname_follows:
                return False
        elif not (word[0].isupper() and not word.isupper()):
            return False
        if lexicon.is_ambiguous(word) and token.pos_ != "PROPN" and not surname_follows:
            return False
        before = doc[token.i - 1].lower_ if token.i > 0 else ""
        if before in PLACE_PREFIXES and doc[token.i - 1].text[0].isupper():
            return False  # "San Bernardino", "Costa Rica"
        if token.ent_type_ in PLACE_LABELS:
            if token.ent_iob_ == "I":
                return False  # inside a longer place name: "Los Angeles"
            if self._strange_surname_follows(reading, token.i):
                # "the verses from Emmie Ström", "Bridgewater's Parker Suknović": no place has such a surname.
                return True
            if reading.after_a_place_word(token.i):
                return False  # "delivery to Charlotte"
            # The small model files many first names as places ("Why is Rebecca so...", "Xavier is from",
            # "add Tiffany Červenková"). A name that is no everyday word, or a noun only as a common name,
            # is read as the name unless a place follows it after a comma ("Florence, Italy").
            return not lexicon.is_ambiguous(word) and not reading.beside_a_place(token.i)
        return True

    @staticmethod
    def _strange_surname_follows(reading: Reading, i: int) -> bool:
        """Whether a capitalised proper noun that is no word, first name or place prefix follows token `i`:
        a surname ("Ström", "Suknović"), where a place's second word is a word ("Victoria Falls")."""
        doc, lexicon = reading.doc, reading.lexicon
        if i + 1 >= len(doc) or not _joined(doc, i + 1):
            return False
        after = doc[i + 1]
        word = after.text
        return (
            after.is_alpha
            and len(word) > 2
            and word[0].isupper()
            and not word.isupper()
            and after.pos_ == "PROPN"
            and not lexicon.is_word(word)
            and not lexicon.is_given_name(word)
            and word.casefold() not in FIRM_OR_PLACE_WORDS
            and not _camel_case(word)
        )

    @staticmethod
    def _has_plain_surname(reading: Reading, start: int, end: int) -> bool:
        """Whether an ambiguous first name has a surname after it that is no English word ("Grace Okafor")."""
        return any(
            (t.pos_ == "PROPN" or reading.lower_case)
            and not t.is_punct
            and not reading.lexicon.is_ambiguous(t.text)
            and len(t) > 1
            for t in reading.doc[start:end]
        )

    @staticmethod
    def _plain_lower_case_surname(reading: Reading, i: int) -> bool:
        """Whether a lower-case surname that is no English word follows token `i - 1` (an initial between)."""
        doc, lexicon = reading.doc, reading.lexicon
        if i < len(doc) and _joined(doc, i) and _is_letter(doc[i]):
            i += 1
        if i >= len(doc) or not _joined(doc, i):
            return False
        word = doc[i].text
        return (
            word.isalpha()
            and len(word) > 2
            and word.casefold() not in STOP_WORDS
            and word.casefold() not in NOT_NAME_WORDS
            and not lexicon.is_word(word)
            and not lexicon.is_word(doc[i].lemma_)  # "adults", "symptoms": plurals of words
        )

    @staticmethod
    def _all_words(reading: Reading, tokens: Span) -> bool:
        """Every word an English word, the surnames no first names either: "Lily Collection"."""
        lexicon = reading.lexicon
        first, *rest = [t for t in tokens if t.is_alpha]
        return lexicon.is_word(first.text) and all(
            lexicon.is_word(t.text) and not lexicon.is_given_name(t.text) for t in rest
        )


class UnknownNameWords(Rule):
    """Two capitalised words in a row that are no English words, first names or firm words, and that spaCy
    reads as no place: "Gyala Antall", "Wisława Szczepańska", "Mijail C Adomo". A name the first-name list
    does not know (nor the small model) still has this shape; brands and places rarely do."""

    name = "unknown_name_words"
    cases = frozenset({"capitalised"})
    # spaCy labels under which two unknown capitalised words are read as a name (places are left alone).
    LABELS: ClassVar[frozenset[str]] = frozenset({"", "PERSON", "ORG", "NORP"})

    def find(self, reading: Reading) -> dict[int, int]:
        doc = reading.doc
        found: dict[int, int] = {}
        i = 0
        while i < len(doc) - 1:
            if i in reading.covered or not self._unknown_capitalised(reading, doc[i]):
                i += 1
                continue
            j = i + 1
            if j < len(doc) and _joined(doc, j) and (_is_initial(doc[j]) or doc[j].lower_ in PARTICLES):
                j += 1
            if (
                j < len(doc)
                and j not in reading.covered
                and _joined(doc, j)
                and self._unknown_capitalised(reading, doc[j])
            ):
                end = reading.surnames(j + 1)
                if not reading.names_a_firm_or_place(end):
                    found[i] = end
                    i = end
                    continue
            i += 1
        return found

    def _unknown_capitalised(self, reading: Reading, token: Token) -> bool:
        lexicon = reading.lexicon
        word = token.text
        return (
            token.is_alpha
            and len(word) > 1
            and word[0].isupper()
            and not word.isupper()
            and token.pos_ == "PROPN"
            and token.ent_type_ in self.LABELS
            and word.casefold() not in NOT_NAME_WORDS
            and word.casefold() not in FIRM_OR_PLACE_WORDS
            and word.casefold() not in CALENDAR
            and not lexicon.is_word(word)
            and not self._is_plural_noun(lexicon, word)
            and not lexicon.is_given_name(word)
        )

    @staticmethod
    def _is_plural_noun(lexicon: NameLexicon, word: str) -> bool:
        """ "Pages", "Boxes": the tagger leaves a capitalised plural unlemmatised, so "GitHub Pages" would read
        as two unknown words; the singular in the word list says it is a product's name."""
        folded = word.casefold()
        return folded.endswith("s") and any(
            lexicon.is_word(stem)
            for stem in (folded[:-1], folded[:-2] if folded.endswith("es") else "")
            if stem
        )


class KnownSurname(Rule):
    """A lone capitalised proper noun the census knows as a surname: "starring Cavazos", "says Lugo",
    "Hermansen and Lowery were engineers". Not before the thing it names ("a Dyson vacuum", "the Hilton
    hotel"), not inside a firm's longer name ("Burger King"), not where spaCy or a preposition reads a
    place ("delivery to Ewing"), and a surname that is also a noun not at a sentence's start ("Parks")."""

    name = "known_surname"
    cases = frozenset({"capitalised"})

    def find(self, reading: Reading) -> dict[int, int]:
        doc, lexicon = reading.doc, reading.lexicon
        found: dict[int, int] = {}
        for token in doc:
            i, word = token.i, token.text
            if i in reading.covered or not (
                token.is_alpha and len(word) > 2 and word[0].isupper() and not word.isupper()
            ):
                continue
            # The tagger reads a lone surname as anything ("starring Alves/NOUN", "says Lugo/WORK_OF_ART").
            if token.pos_ not in {"PROPN", "NOUN"} or token.ent_type_ not in NAME_LABELS:
                continue
            if token.pos_ == "NOUN" and _starts_sentence(doc, i):
                continue
            if token.ent_type_ and (
                token.ent_iob_ != "B" or (i + 1 < len(doc) and doc[i + 1].ent_iob_ == "I")
            ):
                continue  # one word of a longer entity: "ex-Zombie Salonen", "Burger King"
            if token.ent_type_ in PLACE_LABELS and (lexicon.is_word(word) or reading.beside_a_place(i)):
                continue  # "Houston", "Dallas" (nouns to WordNet), "Ewing, NJ"
            folded = word.casefold()
            if folded in NOT_NAME_WORDS or folded in FIRM_OR_PLACE_WORDS or folded in CALENDAR:
                continue
            if not lexicon.is_known_surname(word) or _beside_capitalised(doc, i):
                continue
            if reading.after_a_place_word(i):
                continue
            if reading.modifies_a_thing(i + 1) or reading.names_a_firm_or_place(i + 1):
                continue
            if folded in lexicon.nouns and _starts_sentence(doc, i):
                continue
            found[i] = i + 1
        return found


class LowerCaseSurnameList(Rule):
    """In a message typed in lower case, census surnames listed together where one at least is no English
    word at all: "quirion and robinson", "lopez, garcia and quirion"; never "salt and pepper"."""

    name = "lower_case_surname_list"
    cases = frozenset({"lower case"})

    def find(self, reading: Reading) -> dict[int, int]:
        doc = reading.doc
        found: dict[int, int] = {}
        for token in doc:
            i = token.i
            if (
                i in reading.covered
                or not self._lower_case_surname(reading, token)
                or reading.lexicon.is_word(token.text)
            ):
                continue
            for j in (reading.listed_after(i + 1), reading.listed_before(i)):
                if j is not None and j not in reading.covered and self._lower_case_surname(reading, doc[j]):
                    found[i], found[j] = i + 1, j + 1
        return found

    @staticmethod
    def _lower_case_surname(reading: Reading, token: Token) -> bool:
        word = token.text
        return (
            token.is_alpha
            and len(word) > 2
            and word.islower()
            and word not in STOP_WORDS
            and word not in NOT_NAME_WORDS
            and token.pos_ not in NOT_NAME_POS
            and reading.lexicon.is_known_surname(word)
        )


class ListedName(Rule):
    """The words listed with a name are names too: "Kadiev and Adams", "Efimiya, Mary, Ariana", "Maslow,
    Anthony and Perry", and so on down the list as each new name brings in the next."""

    name = "listed_with_name"

    def find(self, reading: Reading) -> dict[int, int]:
        found: dict[int, int] = {}
        taken: set[int] = set()  # the tokens of the names found here
        changed = True
        while changed:
            changed = False
            for start, end in [*reading.names.items(), *found.items()]:
                for candidate in (reading.listed_after(end), reading.listed_before(start)):
                    if candidate is None or candidate in reading.covered or candidate in taken:
                        continue
                    if not self._listed_name(reading, reading.doc[candidate]):
                        continue
                    found[candidate] = reading.surnames(candidate + 1)
                    taken.update(range(candidate, found[candidate]))
                    changed = True
        return found

    @staticmethod
    def _listed_name(reading: Reading, token: Token) -> bool:
        """Whether a word listed with a name is one too: a proper noun that reads as a surname ("Kadiev and
        Adams"), or a first name that is no verb or adjective, even where spaCy calls it a place or the message
        is typed in lower case ("Efimiya, Mary, Ariana", "silvana, adam, chad")."""
        lexicon = reading.lexicon
        word, folded = token.text, token.text.casefold()
        shaped = reading.lower_case or (word[0].isupper() and not word.isupper())
        if (
            token.is_alpha
            and len(word) > 2
            and shaped
            and lexicon.is_given_name(word)
            and folded not in lexicon.english_words
            and folded not in NOT_NAME_WORDS
            and folded not in FIRM_OR_PLACE_WORDS
        ):
            return True
        if (
            token.is_alpha
            and len(word) > 2
            and token.pos_ not in NOT_NAME_POS
            and shaped
            and lexicon.is_known_surname(word)
        ):
            return True  # "zhang and edwards", "Schulz, Strickland and Matthews"
        if token.pos_ != "PROPN":
            return False
        if token.ent_type_ in PLACE_LABELS:
            # "Leehy, Perkins and Copeland": a census surname that is no word, though spaCy reads a town.
            return lexicon.is_known_surname(word) and not lexicon.is_word(word)
        return reading.is_surname(token)


class PossessiveName(Rule):
    """A capitalised word no dictionary knows before "'s" and a word only people have: "Hleb's address",
    "send it to Okonkwo's flat". Firms and products rarely have a wife, a birthday or a flat."""

    name = "possessive_name"
    cases = frozenset({"capitalised"})
    # What only a person has, after "X's".
    PERSONAL_NOUNS: ClassVar[frozenset[str]] = frozenset(
        {"address", "flat", "house", "home", "phone", "mobile", "number", "email", "account", "order"}
        | {"parcel", "booking", "birthday", "name", "surname", "wife", "husband", "partner", "son"}
        | {"daughter", "kid", "kids", "children", "baby", "mum", "mom", "mother", "dad", "father"}
        | {"sister", "brother", "friend", "boyfriend", "girlfriend", "fiancé", "fiancée", "cousin", "aunt"}
        | {"uncle", "grandmother", "grandfather", "boss", "colleague", "family"}
    )

    def find(self, reading: Reading) -> dict[int, int]:
        doc, lexicon = reading.doc, reading.lexicon
        found: dict[int, int] = {}
        for token in doc[: len(doc) - 2]:
            i = token.i
            if i in reading.covered or doc[i + 1].lower_ not in {"'s", "’s"} or token.whitespace_:
                continue
            after = doc[i + 2]
            if after.lower_ not in self.PERSONAL_NOUNS and after.pos_ == "ADJ" and i + 3 < len(doc):
                after = doc[i + 3]  # "Hleb's new address"
            if after.lower_ not in self.PERSONAL_NOUNS:
                continue
            word, folded = token.text, token.text.casefold()
            if not (token.is_alpha and len(word) > 1 and word[0].isupper() and not word.isupper()):
                continue
            if folded in NOT_NAME_WORDS or folded in FIRM_OR_PLACE_WORDS or folded in CALENDAR:
                continue
            if lexicon.is_word(word) and not (
                lexicon.is_given_name(word) and folded not in lexicon.english_words
            ):
                continue  # "Amazon's address", "the Bank's number"
            found[i] = i + 1
        return found


class PronounName(Rule):
    """A lone capitalised word no dictionary knows that "he" or "she" soon refers to: "Irenka is very
    reliable. You can always depend on him.", "Okonkwo said she would collect it". Firms and products are
    "it" or "they", so the pronoun tells a person from a brand where the word alone cannot."""

    name = "pronoun_name"
    cases = frozenset({"capitalised"})
    # Pronouns only a person takes, and how many tokens after a word one may stand and still point back to it.
    PRONOUNS: ClassVar[frozenset[str]] = frozenset(
        {"he", "she", "him", "her", "his", "hers", "himself", "herself"}
    )
    WINDOW: ClassVar[int] = 12

    def find(self, reading: Reading) -> dict[int, int]:
        doc = reading.doc
        found: dict[int, int] = {}
        for token in doc:
            i = token.i
            if i in reading.covered or not reading.lone_capitalised(token):
                continue
            for later in doc[i + 1 : i + 1 + self.WINDOW]:
                if later.i in reading.covered or later.i in found or reading.lone_capitalised(later):
                    break  # another person (or candidate) stands between: the pronoun may be theirs
                if later.lower_ in self.PRONOUNS:
                    found[i] = i + 1
                    break
        return found


class LivingName(Rule):
    """A lone capitalised word that lives, was born or married: "Trivo lives on Grössgstötten 50". Firms
    are founded and based, not born; they say and tell too, so those verbs prove nothing here."""

    name = "living_name"
    cases = frozenset({"capitalised"})
    # Verbs only a person is the subject of, right after a lone capitalised word.
    VERBS: ClassVar[frozenset[str]] = frozenset({"lives", "lived", "married", "grew"})

    def find(self, reading: Reading) -> dict[int, int]:
        doc = reading.doc
        found: dict[int, int] = {}
        for token in doc[: len(doc) - 1]:
            i = token.i
            # The verb decides, whatever the tagger read the word as.
            if i in reading.covered or not reading.lone_capitalised(token, tags=LONE_WORD_TAGS):
                continue
            after = doc[i + 1].lower_
            second = doc[i + 2].lower_ if i + 2 < len(doc) else ""
            if after in self.VERBS or (after in {"was", "is", "got"} and second in {"born", "married"}):
                found[i] = i + 1
        return found


class CuedName(Rule):
    """A lone capitalised word no dictionary knows right after a word that only a person follows: "starring
    Mikolčić", "says Yudina"."""

    name = "cued_name"
    cases = frozenset({"capitalised"})
    # Words right before a capitalised word that make it a person's name: a film's cast, a quote's speaker.
    CUES: ClassVar[frozenset[str]] = frozenset({"starring", "featuring", "says", "said", "asked", "replied"})

    def find(self, reading: Reading) -> dict[int, int]:
        doc = reading.doc
        return {
            token.i: token.i + 1
            for token in doc[1:]
            if token.i not in reading.covered
            and doc[token.i - 1].lower_ in self.CUES
            # The cue outweighs spaCy's guess of a place ("says Yudina/GPE"): places do not star or speak.
            and reading.lone_capitalised(token, tags=LONE_WORD_TAGS, places=True)
        }


class RepeatedName(Rule):
    """A part of a name found once is the same person later in the text: "directed by Brad L Key and
    starring Key", "Ana Souza here ... Souza is my married name"."""

    name = "repeated_name"

    def find(self, reading: Reading) -> dict[int, int]:
        doc, covered = reading.doc, reading.covered
        parts = {doc[i].text for i in covered if self._name_part(reading, doc[i])}
        if not parts:
            return {}
        found: dict[int, int] = {}
        for token in doc:
            if token.i in covered or token.text not in parts:
                continue
            if reading.lexicon.is_ambiguous(token.text) and (
                token.pos_ != "PROPN" or _starts_sentence(doc, token.i)
            ):
                continue  # "Will Smith called. Will you call back?"
            found[token.i] = token.i + 1
        return found

    @staticmethod
    def _name_part(reading: Reading, token: Token) -> bool:
        word, folded = token.text, token.text.casefold()
        if not token.is_alpha or len(word) < 3:
            return False
        if (
            folded in STOP_WORDS
            or folded in CALENDAR
            or folded in NOT_NAME_WORDS
            or folded in FIRM_OR_PLACE_WORDS
        ):
            return False
        if reading.lower_case:
            return not reading.lexicon.is_word(word)
        # A part that is a word too ("Mac", "Chrome", "Key") is left alone: spaCy calls products PERSON, and
        # repeating its mistake over a help text costs more than a repeated surname that is a word.
        return word[0].isupper() and not word.isupper() and not reading.lexicon.is_word(word)


# In this order: each rule reads the names the ones before it found (a list grows from them, a name said
# again repeats one of them), and takes only the tokens they left.
RULES: tuple[Rule, ...] = (
    SpacyNameRunOn(),
    KnownFirstName(),
    UnknownNameWords(),
    KnownSurname(),
    LowerCaseSurnameList(),
    ListedName(),
    PossessiveName(),
    PronounName(),
    LivingName(),
    CuedName(),
    RepeatedName(),
)


def _joined(doc: Doc, i: int) -> bool:
    """Whether token `i` follows the one before it on the same line, at most a few spaces away."""
    # Tokens tile the text, each with its trailing whitespace: the gap is the previous one's `whitespace_`
    # (reading `doc.text` here would rebuild the whole text for every token pair).
    gap = doc[i - 1].whitespace_
    return len(gap) <= 3 and all(c in " \t" for c in gap)


# Surname prefixes after which a capital is a name's own: "McDonald", "MacLeod", "DeRose", "O'Neil".
_CAPITAL_PREFIXES = (
    "mc",
    "mac",
    "o'",
    "o’",
    "d'",
    "d’",
    "de",
    "di",
    "da",
    "du",
    "la",
    "le",
    "van",
    "von",
    "fitz",
)


def _camel_case(word: str) -> bool:
    """A capital inside a word that no surname prefix explains: a product's name ("UniversalSubtitles",
    "GitHub", "PayPal"), not "McDonald" or "DeRose"."""
    inner = [i for i, ch in enumerate(word) if i > 0 and ch.isupper()]
    return any(not word[:i].casefold().endswith(_CAPITAL_PREFIXES) or i > 4 for i in inner)


def _beside_capitalised(doc: Doc, i: int) -> bool:
    """Whether a capitalised word stands right before or after token `i` on the same line."""
    return any(
        0 <= j < len(doc) and doc[j].is_alpha and doc[j].text[0].isupper() and _joined(doc, max(j, i))
        for j in (i - 1, i + 1)
    )


def _line_end(doc: Doc, start: int, end: int) -> int:
    """`end`, or the first token of the span [start, end) that follows a line break."""
    for i in range(start + 1, end):
        if "\n" in doc[i - 1].whitespace_ or "\n" in doc[i].text:
            return i
    return end


def _starts_sentence(doc: Doc, i: int) -> bool:
    """Whether token `i` opens a sentence or a line, where any word is capitalised."""
    return (
        i == 0
        or doc[i - 1].text in {".", "!", "?", ":", '"', "“"}
        or "\n" in doc[i - 1].whitespace_ + doc[i - 1].text
    )


def _is_letter(token: Token) -> bool:
    """A lone letter, as an initial in a message typed in lower case ("leidy t muris")."""
    return len(token.text) == 1 and token.is_alpha


def _is_initial(token: Token) -> bool:
    """An initial ("L", "A."): one capital letter, with or without its full stop."""
    text = token.text.rstrip(".")
    return len(text) == 1 and text.isupper()
