"""People's names that spaCy's small model misses, cuts short or files as an organisation or a place.

Three moves over spaCy's own analysis of the message:

1. a known first name (see `name_lexicon`) starts a name: "Isabel", "Heather Larsen", "Zoe Young" (which
   spaCy calls an ORG). A first name that is also an English word ("May", "Will", "Grace") needs a surname
   after it that is not one ("Grace Okafor"), so "May I order?" and "Grace period" stay readable;
2. a name runs on over the surname tokens after it: "Gabriella" -> "Gabriella Villanueva", "Amy-leigh",
   "Vide A. Persson", "Donald van der Voet";
3. a name makes the capitalised words listed with it names too: "Maslow, Anthony and Perry".

Places stay readable: a first name spaCy calls a place is taken only when it is no English word at all and
does not follow "to", "in", "from" ("delivery to Charlotte?"), and a name that only modifies a thing
("the Rose cake", "a Victoria sponge") is no one's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from privacy.recognizers.name_lexicon import (
    CALENDAR,
    FIRM_OR_PLACE_WORDS,
    NOT_NAME_WORDS,
    PLACE_PREFIXES,
    NameLexicon,
)

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.tokens import Doc, Span, Token


class PersonNameRecognizer(EntityRecognizer):
    ENTITY = "PERSON"
    SCORE: ClassVar[float] = 0.6
    # spaCy labels a name may hide under; dates, amounts and the like never do.
    NAME_LABELS: ClassVar[frozenset[str]] = frozenset(
        {"", "PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "PRODUCT", "WORK_OF_ART", "EVENT"}
    )
    PLACE_LABELS: ClassVar[frozenset[str]] = frozenset({"GPE", "LOC", "FAC"})
    # Words before a place, not a person: "delivery to Charlotte", "a shop in Florence".
    PLACE_WORDS: ClassVar[frozenset[str]] = frozenset(
        {"to", "in", "from", "at", "near", "via", "into", "around", "across", "toward", "towards", "outside"}
    )
    # Verbs after which "at" points to a person, not a place: "shouted at Tyler", "smiled at Angelica".
    AT_A_PERSON: ClassVar[frozenset[str]] = frozenset(
        {
            "shouted",
            "yelled",
            "screamed",
            "looked",
            "stared",
            "glanced",
            "smiled",
            "laughed",
            "waved",
            "winked",
        }
    )
    # Words right before a capitalised word that make it a person's name: a film's cast, a quote's speaker.
    PERSON_CUES: ClassVar[frozenset[str]] = frozenset(
        {"starring", "featuring", "says", "said", "asked", "replied"}
    )
    # Works a person makes or performs: a name before one is its author's ("the Nielsen novel"), where a
    # name before another thing is that thing's brand ("a Dyson vacuum", "the Rose cake").
    WORK_NOUNS: ClassVar[frozenset[str]] = frozenset(
        {"novel", "novels", "book", "books", "biography", "memoir", "poem", "poems", "song", "songs", "album"}
        | {"albums", "film", "films", "movie", "movies", "concert", "concerts", "painting", "paintings"}
    )
    # Parts of a surname written in lower case: "van der Voet", "da Silva", "bin Said".
    PARTICLES: ClassVar[frozenset[str]] = frozenset(
        {
            "van",
            "von",
            "der",
            "den",
            "de",
            "del",
            "della",
            "di",
            "da",
            "dos",
            "das",
            "du",
            "la",
            "le",
            "ter",
            "ten",
            "bin",
            "ibn",
            "al",
            "el",
        }
    )
    # Parts of speech a first name is never read as, whatever the list says ("Hi", "Will" as AUX).
    NOT_NAME_POS: ClassVar[frozenset[str]] = frozenset(
        {"AUX", "DET", "ADP", "PRON", "CCONJ", "SCONJ", "PART", "NUM", "PUNCT", "SYM", "INTJ", "SPACE"}
    )
    MAX_SURNAMES: ClassVar[int] = 4
    # Pronouns only a person takes, and how many tokens after a word one may stand and still point back to it.
    PERSONAL_PRONOUNS: ClassVar[frozenset[str]] = frozenset(
        {"he", "she", "him", "her", "his", "hers", "himself", "herself"}
    )
    PRONOUN_WINDOW: ClassVar[int] = 12
    # Verbs only a person is the subject of, right after a lone capitalised word.
    LIVING_VERBS: ClassVar[frozenset[str]] = frozenset({"lives", "lived", "married", "grew"})
    LIVING_TAGS: ClassVar[frozenset[str]] = frozenset({"PROPN", "NOUN", "ADJ", "X"})
    # What only a person has, after "X's": the possessive makes an unknown capitalised word a name.
    PERSONAL_NOUNS: ClassVar[frozenset[str]] = frozenset(
        {
            "address",
            "flat",
            "house",
            "home",
            "phone",
            "mobile",
            "number",
            "email",
            "account",
            "order",
            "parcel",
            "booking",
            "birthday",
            "name",
            "surname",
            "wife",
            "husband",
            "partner",
            "son",
            "daughter",
            "kid",
            "kids",
            "children",
            "baby",
            "mum",
            "mom",
            "mother",
            "dad",
            "father",
            "sister",
            "brother",
            "friend",
            "boyfriend",
            "girlfriend",
            "fiancé",
            "fiancée",
            "cousin",
            "aunt",
            "uncle",
            "grandmother",
            "grandfather",
            "boss",
            "colleague",
            "family",
        }
    )
    # spaCy labels under which two unknown capitalised words are read as a name (places are left alone).
    UNKNOWN_NAME_LABELS: ClassVar[frozenset[str]] = frozenset({"", "PERSON", "ORG", "NORP"})

    def __init__(self, lexicon: NameLexicon) -> None:
        self._lexicon = lexicon
        super().__init__(
            supported_entities=[self.ENTITY], name="PersonNameRecognizer", supported_language="en"
        )

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = getattr(nlp_artifacts, "tokens", None)
        if doc is None:
            return []
        lower_case_text = not any(c.isupper() for c in text)
        # Token ranges [start, end) of names; spaCy's own are taken only to run them on.
        names: dict[int, int] = {}
        spacy_names = {ent.start: ent.end for ent in doc.ents if ent.label_ == "PERSON"}
        for start, end in spacy_names.items():
            # A name never runs over a line break, though spaCy's sometimes do ("Allan\nEchocardiographer").
            names[start] = self._surnames(doc, _line_end(doc, start, end), lower_case_text)
        covered = {i for start, end in names.items() for i in range(start, end)}
        for token in doc:
            if token.i in covered or not self._is_first_name(doc, token, lower_case_text):
                continue
            end = self._surnames(doc, token.i + 1, lower_case_text)
            if self._lexicon.is_ambiguous(token.text) and not self._has_plain_surname(
                doc, token.i + 1, end, lower_case_text
            ):
                continue
            # In lower case every word looks like a noun: "leone mazzi nurse" is a name and a job.
            plain = lower_case_text and self._plain_lower_case_surname(doc, token.i + 1)
            # A first name and a surname no dictionary knows are a person even before a noun: "the Ernest
            # Takuda version", "the Ana Nowak account"; "the Rose cake" has no such surname.
            plain = plain or (
                end > token.i + 1
                and not self._lexicon.is_word(doc[end - 1].text)
                and not _camel_case(doc[end - 1].text)
            )
            if (self._modifies_a_thing(doc, end) and not plain) or self._names_a_firm_or_place(
                doc, token.i, end
            ):
                continue
            if self._all_words(doc[token.i : end]) and end > token.i + 1:
                continue  # "the Lily Collection", "a Victoria Sponge": a thing's name
            names[token.i] = end
            covered.update(range(token.i, end))
        if not lower_case_text:
            for start, end in self._unknown_name_words(doc, covered).items():
                names[start] = end
                covered.update(range(start, end))
            found = self._known_surnames(doc, covered)
        else:
            found = self._lower_case_surname_lists(doc, covered)
        for start, end in found.items():
            names[start] = end
            covered.update(range(start, end))
        self._names_listed_with(doc, names, lower_case_text)
        if not lower_case_text:
            covered = {i for start, end in names.items() for i in range(start, end)}
            names.update(self._possessive_names(doc, covered))
            covered = {i for start, end in names.items() for i in range(start, end)}
            names.update(self._pronoun_names(doc, covered))
            covered = {i for start, end in names.items() for i in range(start, end)}
            names.update(self._living_names(doc, covered))
            covered = {i for start, end in names.items() for i in range(start, end)}
            names.update(self._cued_names(doc, covered))
        self._repeated_names(doc, names, lower_case_text)
        results = []
        for start, end in sorted(names.items()):
            if spacy_names.get(start) == end:
                continue  # spaCy's span unchanged: Presidio reports it already
            span = doc[start:end]
            results.append(RecognizerResult(self.ENTITY, span.start_char, span.end_char, self.SCORE))
        return results

    def _is_first_name(self, doc: Doc, token: Token, lower_case_text: bool) -> bool:
        word = token.text
        if not token.is_alpha or token.pos_ in self.NOT_NAME_POS or token.ent_type_ not in self.NAME_LABELS:
            return False
        folded = word.casefold()
        if not self._lexicon.is_given_name(word) or folded in NOT_NAME_WORDS or folded in FIRM_OR_PLACE_WORDS:
            return False
        surname_follows = False
        if lower_case_text:
            # In a message typed all in lower case a name is no English word at all, or is followed by a
            # surname that is none: "naomi ryan" no, "leone mazzi" and "benjamin a seiler" yes.
            if len(word) < 3:
                return False
            # Only a name that is otherwise a noun ("benjamin"), never an adjective or verb ("novel
            # coronavirus", "young adults"): those read as the phrase they are.
            surname_follows = folded not in self._lexicon.english_words and self._plain_lower_case_surname(
                doc, token.i + 1
            )
            if self._lexicon.is_word(word) and not surname_follows:
                return False
        elif not (word[0].isupper() and not word.isupper()):
            return False
        if self._lexicon.is_ambiguous(word) and token.pos_ != "PROPN" and not surname_follows:
            return False
        before = doc[token.i - 1].lower_ if token.i > 0 else ""
        if before in PLACE_PREFIXES and doc[token.i - 1].text[0].isupper():
            return False  # "San Bernardino", "Costa Rica"
        if token.ent_type_ in self.PLACE_LABELS:
            if token.ent_iob_ == "I":
                return False  # inside a longer place name: "Los Angeles"
            if self._strange_surname_follows(doc, token.i):
                return (
                    True  # "the verses from Emmie Ström", "Bridgewater's Parker Suknović": no place has one
                )
            if self._after_a_place_word(doc, token.i):
                return False  # "delivery to Charlotte"
            # The small model files many first names as places ("Why is Rebecca so...", "Xavier is from",
            # "add Tiffany Červenková"). A name that is no everyday word, or a noun only as a common name,
            # is read as the name unless a place follows it after a comma ("Florence, Italy").
            return not self._lexicon.is_ambiguous(word) and not self._beside_a_place(doc, token.i)
        return True

    def _strange_surname_follows(self, doc: Doc, i: int) -> bool:
        """Whether a capitalised proper noun that is no word, first name or place prefix follows token `i`:
        a surname ("Ström", "Suknović"), where a place's second word is a word ("Victoria Falls")."""
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
            and not self._lexicon.is_word(word)
            and not self._lexicon.is_given_name(word)
            and word.casefold() not in FIRM_OR_PLACE_WORDS
            and not _camel_case(word)
        )

    def _after_a_place_word(self, doc: Doc, i: int) -> bool:
        """Whether token `i` follows a word that puts a place after it ("to", "in"; "at", but not after
        "shouted")."""
        if i == 0 or doc[i - 1].lower_ not in self.PLACE_WORDS:
            return False
        return not (doc[i - 1].lower_ == "at" and i > 1 and doc[i - 2].lower_ in self.AT_A_PERSON)

    def _beside_a_place(self, doc: Doc, i: int) -> bool:
        """Whether a place that is no first name stands next to token `i` in a list or after a comma:
        "Florence, Italy", "ship to Ireland and France"; not the next name of "Kristi, Stephen"."""
        joiners = {",", "and", "or", "&", "/"}
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(doc) and doc[j].lower_ in joiners:
                j += step
            if j == i + step or not 0 <= j < len(doc):
                continue  # nothing joins them
            other = doc[j]
            if other.ent_type_ in self.PLACE_LABELS and not self._lexicon.is_given_name(other.text):
                return True
        return False

    def _is_surname(self, token: Token, lower_case_text: bool) -> bool:
        word = token.text
        folded = word.casefold()
        if not word.replace("'", "").replace("’", "").isalpha() or token.ent_type_ not in self.NAME_LABELS:
            return False
        if folded in STOP_WORDS or folded in CALENDAR or folded in NOT_NAME_WORDS:
            return False
        if folded in FIRM_OR_PLACE_WORDS and word[0].isupper():
            return False  # "Nera Economic Consulting", "Anna Street": the firm or place the name begins
        if token.pos_ in self.NOT_NAME_POS:
            return False
        if lower_case_text:
            # The tagger reads unknown lower-case words as anything; only the word lists can tell.
            return len(word) > 1 and not self._lexicon.is_word(word)
        if not (word[0].isupper() and (not word.isupper() or len(word) == 1)):
            return False
        # The tagger reads some surnames as verbs ("Cynthia Martins"); a capitalised "verb" that is no verb,
        # adjective or adverb the lists know, nor a form of one ("runs"), is a surname.
        verbs = self._lexicon.english_words
        return token.pos_ != "VERB" or not (folded in verbs or token.lemma_.casefold() in verbs)

    def _surnames(self, doc: Doc, end: int, lower_case_text: bool) -> int:
        """Where a name that ends before token `end` ends once the surname tokens after it are taken in."""
        taken = 0
        i = end
        while i < len(doc) and taken < self.MAX_SURNAMES and _joined(doc, i):
            token = doc[i]
            if token.text in {"-", "‐"} and not doc[i - 1].whitespace_ and not token.whitespace_:
                # "Amy-leigh", "Garcia-Marquez": the part after the hyphen is taken in any case.
                if i + 1 < len(doc) and doc[i + 1].is_alpha:
                    i += 2
                    end, taken = i, taken + 1
                    continue
                break
            if (
                token.lower_ in self.PARTICLES
                or _is_initial(token)
                or (lower_case_text and _is_letter(token))
            ):
                i += 1  # "van der Voet", "Brad L Key", "leidy t muris": kept only with a surname after them
                continue
            if not self._is_surname(token, lower_case_text):
                break
            i += 1
            end, taken = i, taken + 1
        return end

    def _has_plain_surname(self, doc: Doc, start: int, end: int, lower_case_text: bool = False) -> bool:
        """Whether an ambiguous first name has a surname after it that is no English word ("Grace Okafor")."""
        return any(
            (t.pos_ == "PROPN" or lower_case_text)
            and not t.is_punct
            and not self._lexicon.is_ambiguous(t.text)
            and len(t) > 1
            for t in doc[start:end]
        )

    def _plain_lower_case_surname(self, doc: Doc, i: int) -> bool:
        """Whether a lower-case surname that is no English word follows token `i - 1` (an initial between)."""
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
            and not self._lexicon.is_word(word)
            and not self._lexicon.is_word(doc[i].lemma_)  # "adults", "symptoms": plurals of words
        )

    def _unknown_name_words(self, doc: Doc, covered: set[int]) -> dict[int, int]:
        """Two capitalised words in a row that are no English words, first names or firm words, and that spaCy
        reads as no place: "Gyala Antall", "Wisława Szczepańska", "Mijail C Adomo". A name the first-name list
        does not know (nor the small model) still has this shape; brands and places rarely do."""
        found: dict[int, int] = {}
        i = 0
        while i < len(doc) - 1:
            if i in covered or not self._unknown_capitalised(doc[i]):
                i += 1
                continue
            j = i + 1
            if j < len(doc) and _joined(doc, j) and (_is_initial(doc[j]) or doc[j].lower_ in self.PARTICLES):
                j += 1
            if j < len(doc) and j not in covered and _joined(doc, j) and self._unknown_capitalised(doc[j]):
                end = self._surnames(doc, j + 1, False)
                if not self._names_a_firm_or_place(doc, i, end):
                    found[i] = end
                    i = end
                    continue
            i += 1
        return found

    def _known_surnames(self, doc: Doc, covered: set[int]) -> dict[int, int]:
        """A lone capitalised proper noun the census knows as a surname: "starring Cavazos", "says Lugo",
        "Hermansen and Lowery were engineers". Not before the thing it names ("a Dyson vacuum", "the Hilton
        hotel"), not inside a firm's longer name ("Burger King"), not where spaCy or a preposition reads a
        place ("delivery to Ewing"), and a surname that is also a noun not at a sentence's start ("Parks")."""
        found: dict[int, int] = {}
        for token in doc:
            i, word = token.i, token.text
            if i in covered or not (
                token.is_alpha and len(word) > 2 and word[0].isupper() and not word.isupper()
            ):
                continue
            # The tagger reads a lone surname as anything ("starring Alves/NOUN", "says Lugo/WORK_OF_ART").
            if token.pos_ not in {"PROPN", "NOUN"} or token.ent_type_ not in self.NAME_LABELS:
                continue
            if token.pos_ == "NOUN" and _starts_sentence(doc, i):
                continue
            if token.ent_type_ and (
                token.ent_iob_ != "B" or (i + 1 < len(doc) and doc[i + 1].ent_iob_ == "I")
            ):
                continue  # one word of a longer entity: "ex-Zombie Salonen", "Burger King"
            if token.ent_type_ in self.PLACE_LABELS and (
                self._lexicon.is_word(word) or self._beside_a_place(doc, i)
            ):
                continue  # "Houston", "Dallas" (nouns to WordNet), "Ewing, NJ"
            folded = word.casefold()
            if folded in NOT_NAME_WORDS or folded in FIRM_OR_PLACE_WORDS or folded in CALENDAR:
                continue
            if not self._lexicon.is_known_surname(word) or _beside_capitalised(doc, i):
                continue
            if self._after_a_place_word(doc, i):
                continue
            if self._modifies_a_thing(doc, i + 1) or self._names_a_firm_or_place(doc, i, i + 1):
                continue
            if folded in self._lexicon.nouns and _starts_sentence(doc, i):
                continue
            found[i] = i + 1
        return found

    def _lower_case_surname_lists(self, doc: Doc, covered: set[int]) -> dict[int, int]:
        """In a message typed in lower case, census surnames listed together where one at least is no
        English word at all: "quirion and robinson", "lopez, garcia and quirion"; never "salt and pepper"."""
        found: dict[int, int] = {}
        for token in doc:
            i = token.i
            if i in covered or not self._lower_case_surname(token) or self._lexicon.is_word(token.text):
                continue
            for j in (self._listed_after(doc, i + 1), self._listed_before(doc, i)):
                if j is not None and j not in covered and self._lower_case_surname(doc[j]):
                    found[i], found[j] = i + 1, j + 1
        return found

    def _lower_case_surname(self, token: Token) -> bool:
        word = token.text
        return (
            token.is_alpha
            and len(word) > 2
            and word.islower()
            and word not in STOP_WORDS
            and word not in NOT_NAME_WORDS
            and token.pos_ not in self.NOT_NAME_POS
            and self._lexicon.is_known_surname(word)
        )

    def _unknown_capitalised(self, token: Token) -> bool:
        word = token.text
        return (
            token.is_alpha
            and len(word) > 1
            and word[0].isupper()
            and not word.isupper()
            and token.pos_ == "PROPN"
            and token.ent_type_ in self.UNKNOWN_NAME_LABELS
            and word.casefold() not in NOT_NAME_WORDS
            and word.casefold() not in FIRM_OR_PLACE_WORDS
            and word.casefold() not in CALENDAR
            and not self._lexicon.is_word(word)
            and not self._is_plural_noun(word)
            and not self._lexicon.is_given_name(word)
        )

    def _is_plural_noun(self, word: str) -> bool:
        """ "Pages", "Boxes": the tagger leaves a capitalised plural unlemmatised, so "GitHub Pages" would read
        as two unknown words; the singular in the word list says it is a product's name."""
        folded = word.casefold()
        return folded.endswith("s") and any(
            self._lexicon.is_word(stem)
            for stem in (folded[:-1], folded[:-2] if folded.endswith("es") else "")
            if stem
        )

    def _all_words(self, tokens: Span) -> bool:
        """Every word an English word, the surnames no first names either: "Lily Collection"."""
        first, *rest = [t for t in tokens if t.is_alpha]
        return self._lexicon.is_word(first.text) and all(
            self._lexicon.is_word(t.text) and not self._lexicon.is_given_name(t.text) for t in rest
        )

    @staticmethod
    def _names_a_firm_or_place(doc: Doc, start: int, end: int) -> bool:
        """A name that is the first part of a firm's or a place's: "Rand Corporation", "Anna Street"."""
        after = doc[end] if end < len(doc) and _joined(doc, end) else None
        return after is not None and after.text[0].isupper() and after.lower_ in FIRM_OR_PLACE_WORDS

    @classmethod
    def _modifies_a_thing(cls, doc: Doc, end: int) -> bool:
        """A capitalised name in front of a lower-case noun: "the Rose cake", "a Victoria sponge"."""
        if end >= len(doc):
            return False
        last, after = doc[end - 1], doc[end]
        # With the parser off (it is, for speed) the tag decides alone: a proper noun before a lower-case noun.
        modifies = last.dep_ in {"compound", "amod", "nmod"} if doc.has_annotation("DEP") else True
        if after.lower_ in CALENDAR or after.ent_type_ in {"DATE", "TIME"}:
            return False  # "I spoke to Ana Souza yesterday": a time, not a thing the name qualifies
        if after.lower_ in cls.WORK_NOUNS:
            return False
        return modifies and after.pos_ == "NOUN" and after.text.islower()

    def _names_listed_with(self, doc: Doc, names: dict[int, int], lower_case_text: bool) -> None:
        """Take in capitalised words listed with a name: "Kadiev and Adams", "Efimiya, Mary, Ariana"."""
        changed = True
        while changed:
            changed = False
            covered = {i for start, end in names.items() for i in range(start, end)}
            for start, end in list(names.items()):
                for candidate in (self._listed_after(doc, end), self._listed_before(doc, start)):
                    if candidate is None or candidate in covered:
                        continue
                    if not self._listed_name(doc[candidate], lower_case_text):
                        continue
                    names[candidate] = self._surnames(doc, candidate + 1, lower_case_text)
                    covered.update(range(candidate, names[candidate]))
                    changed = True

    def _listed_name(self, token: Token, lower_case_text: bool) -> bool:
        """Whether a word listed with a name is one too: a proper noun that reads as a surname ("Kadiev and
        Adams"), or a first name that is no verb or adjective, even where spaCy calls it a place or the message
        is typed in lower case ("Efimiya, Mary, Ariana", "silvana, adam, chad")."""
        word, folded = token.text, token.text.casefold()
        if (
            token.is_alpha
            and len(word) > 2
            and (lower_case_text or (word[0].isupper() and not word.isupper()))
            and self._lexicon.is_given_name(word)
            and folded not in self._lexicon.english_words
            and folded not in NOT_NAME_WORDS
            and folded not in FIRM_OR_PLACE_WORDS
        ):
            return True
        if (
            token.is_alpha
            and len(word) > 2
            and token.pos_ not in self.NOT_NAME_POS
            and (lower_case_text or (word[0].isupper() and not word.isupper()))
            and self._lexicon.is_known_surname(word)
        ):
            return True  # "zhang and edwards", "Schulz, Strickland and Matthews"
        if token.pos_ != "PROPN":
            return False
        if token.ent_type_ in self.PLACE_LABELS:
            # "Leehy, Perkins and Copeland": a census surname that is no word, though spaCy reads a town.
            return self._lexicon.is_known_surname(word) and not self._lexicon.is_word(word)
        return self._is_surname(token, lower_case_text)

    def _possessive_names(self, doc: Doc, covered: set[int]) -> dict[int, int]:
        """A capitalised word no dictionary knows before "'s" and a word only people have: "Hleb's address",
        "send it to Okonkwo's flat". Firms and products rarely have a wife, a birthday or a flat."""
        found: dict[int, int] = {}
        for token in doc[: len(doc) - 2]:
            i = token.i
            if i in covered or doc[i + 1].lower_ not in {"'s", "’s"} or token.whitespace_:
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
            if self._lexicon.is_word(word) and not (
                self._lexicon.is_given_name(word) and folded not in self._lexicon.english_words
            ):
                continue  # "Amazon's address", "the Bank's number"
            found[i] = i + 1
        return found

    def _pronoun_names(self, doc: Doc, covered: set[int]) -> dict[int, int]:
        """A lone capitalised word no dictionary knows that "he" or "she" soon refers to: "Irenka is very
        reliable. You can always depend on him.", "Okonkwo said she would collect it". Firms and products
        are "it" or "they", so the pronoun tells a person from a brand where the word alone cannot."""
        found: dict[int, int] = {}
        for token in doc:
            i = token.i
            if i in covered or not self._lone_capitalised(doc, token):
                continue
            window = doc[i + 1 : i + 1 + self.PRONOUN_WINDOW]
            for later in window:
                if later.i in covered or later.i in found or self._lone_capitalised(doc, later):
                    break  # another person (or candidate) stands between: the pronoun may be theirs
                if later.lower_ in self.PERSONAL_PRONOUNS:
                    found[i] = i + 1
                    break
        return found

    def _living_names(self, doc: Doc, covered: set[int]) -> dict[int, int]:
        """A lone capitalised word that lives, was born or married: "Trivo lives on Grössgstötten 50".
        Firms are founded and based, not born; they say and tell too, so those verbs prove nothing here."""
        found: dict[int, int] = {}
        for token in doc[: len(doc) - 1]:
            i = token.i
            # The tagger reads an unknown word before "lives" as anything ("Trivo/ADJ"): the verb decides.
            if i in covered or not self._lone_capitalised(doc, token, tags=self.LIVING_TAGS):
                continue
            after = doc[i + 1].lower_
            second = doc[i + 2].lower_ if i + 2 < len(doc) else ""
            if after in self.LIVING_VERBS or (
                after in {"was", "is", "got"} and second in {"born", "married"}
            ):
                found[i] = i + 1
        return found

    def _cued_names(self, doc: Doc, covered: set[int]) -> dict[int, int]:
        """A lone capitalised word no dictionary knows right after a word that only a person follows:
        "starring Mikolčić", "says Yudina"."""
        return {
            token.i: token.i + 1
            for token in doc[1:]
            if token.i not in covered
            and doc[token.i - 1].lower_ in self.PERSON_CUES
            # The cue outweighs spaCy's guess of a place ("says Yudina/GPE"): places do not star or speak.
            and self._lone_capitalised(doc, token, tags=self.LIVING_TAGS, places=True)
        }

    def _lone_capitalised(
        self, doc: Doc, token: Token, tags: frozenset[str] = frozenset({"PROPN"}), *, places: bool = False
    ) -> bool:
        """A capitalised proper noun standing alone (no capitalised word on either side) that is no everyday
        word, or is a first name spaCy did not take for one ("Christian had given Lukas his address")."""
        word, folded = token.text, token.text.casefold()
        if not (token.is_alpha and len(word) > 1 and word[0].isupper() and not word.isupper()):
            return False
        if token.pos_ not in tags or token.ent_type_ not in self.NAME_LABELS:
            return False
        if (
            folded in NOT_NAME_WORDS
            or folded in FIRM_OR_PLACE_WORDS
            or folded in CALENDAR
            or folded in STOP_WORDS
        ):
            return False
        if token.ent_type_ in self.PLACE_LABELS and not (places or self._lexicon.is_given_name(word)):
            return False
        if self._lexicon.is_word(word) and not self._lexicon.is_given_name(word):
            return False
        # Part of a longer name or title: "Palantir Technologies", "Dr Who".
        return not _beside_capitalised(doc, token.i)

    def _repeated_names(self, doc: Doc, names: dict[int, int], lower_case_text: bool) -> None:
        """A part of a name found once is the same person later in the text: "directed by Brad L Key and
        starring Key", "Ana Souza here ... Souza is my married name"."""
        covered = {i for start, end in names.items() for i in range(start, end)}
        parts = {doc[i].text for i in covered if self._name_part(doc[i], lower_case_text)}
        if not parts:
            return
        for token in doc:
            if token.i in covered or token.text not in parts:
                continue
            if self._lexicon.is_ambiguous(token.text) and (
                token.pos_ != "PROPN" or _starts_sentence(doc, token.i)
            ):
                continue  # "Will Smith called. Will you call back?"
            names[token.i] = token.i + 1
            covered.add(token.i)

    def _name_part(self, token: Token, lower_case_text: bool) -> bool:
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
        if lower_case_text:
            return not self._lexicon.is_word(word)
        # A part that is a word too ("Mac", "Chrome", "Key") is left alone: spaCy calls products PERSON, and
        # repeating its mistake over a help text costs more than a repeated surname that is a word.
        return word[0].isupper() and not word.isupper() and not self._lexicon.is_word(word)

    @staticmethod
    def _listed_after(doc: Doc, end: int) -> int | None:
        i = end
        if i < len(doc) and doc[i].text == ",":
            i += 1
        if i < len(doc) and doc[i].lower_ in {"and", "or", "&"}:
            i += 1
        return i if end < i < len(doc) else None

    @staticmethod
    def _listed_before(doc: Doc, start: int) -> int | None:
        i = start - 1
        if i >= 0 and doc[i].lower_ in {"and", "or", "&"}:
            i -= 1
        if i >= 0 and doc[i].text == ",":
            i -= 1
        if not 0 <= i < start - 1:
            return None
        # A single word: "Kadiev and Adams", not the surname of "Ann Kadiev and Adams".
        return i if i == 0 or not (doc[i - 1].is_alpha and doc[i - 1].text[0].isupper()) else None


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
