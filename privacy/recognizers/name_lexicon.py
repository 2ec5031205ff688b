"""Which words are first names or surnames, and which of them are also everyday English words.

First names come from gender-guesser's international list (Jörg Michael's `nam_dict.txt`, about 48,000
names from 50-odd countries). English words come from the WordNet index that spaCy's English lemmatizer
ships with: its verbs, adjectives and adverbs, plus spaCy's stop words. A first name that is also one of
these ("May", "Will", "Mark", "Grace", "Rose") is ambiguous and counts as a name only with a surname after
it. WordNet's nouns are left out of that test on purpose: they hold the proper nouns too ("john", "anna"
as a coin, "andrew"), so they would make nearly every name ambiguous; nouns are kept apart, for the
entities spaCy calls places.

Surnames come from the `names` package's copy of the 1990 US Census surname list (88,799 surnames, most
common first; public domain). It knows "Lowery", "Cavazos" and "Nielsen" as surnames, which the tagger
alone cannot tell from a brand. It is one country's list, so it adds to the shape rules, never replaces them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spacy.lang.en.stop_words import STOP_WORDS

if TYPE_CHECKING:
    from spacy.language import Language

# Days, months and feasts are proper nouns that are names too ("May", "June", "Sunday", "Easter").
CALENDAR = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "tomorrow",
        "tonight",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "christmas",
        "easter",
        "noel",
        # German, French, Spanish, Italian and Portuguese months ("15. März 1985" is a date, not a name).
        *["januar", "februar", "märz", "maerz", "mai", "juni", "juli", "oktober", "dezember"],
        *[
            "janvier",
            "février",
            "fevrier",
            "mars",
            "avril",
            "juin",
            "juillet",
            "août",
            "aout",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ],
        *[
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "setiembre",
            "octubre",
            "noviembre",
        ],
        *[
            "diciembre",
            "gennaio",
            "febbraio",
            "aprile",
            "maggio",
            "giugno",
            "luglio",
            "settembre",
            "ottobre",
            "dicembre",
        ],
        *[
            "janeiro",
            "fevereiro",
            "março",
            "maio",
            "junho",
            "julho",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ],
    ]
)


# Greetings, interjections and the words of "my name is" in other languages: capitalised at the start of a
# chat line they look like names ("Ciao, sono giulia", "HEY HO!", "my naam is varun").
_GREETINGS = """hi hello hey hiya heya yo ho hoo ha haha hehe lol ok okay alright alrighty aight ooh oh ah wow yay hmm
    hallo moin servus bonjour salut coucou hola buenas ciao salve olá ola oi merhaba selam namaste
    naam mera sono soy sou bin heiße heisse appelle llamo chiamo chamo
    buongiorno buonasera bonsoir guten tag buenos buenas días dias tardes noches bom dia boa goedemorgen goedemiddag
    goedenavond geachte beste gentile gentili egregio egregia cher chère chers liebe lieber sehr geehrte geehrter
    estimado estimada querido querida prezado prezada danke bitte merci grazie gracias obrigado obrigada bedankt"""
GREETING_WORDS = frozenset(_GREETINGS.split())

# Capitalised words after a name that are no part of it: address units, firms, sign-offs, titles.
NOT_NAME_WORDS = frozenset(
    {
        "apt",
        "apartment",
        "suite",
        "unit",
        "flat",
        "street",
        "st",
        "road",
        "rd",
        "avenue",
        "ave",
        "lane",
        "inc",
        "ltd",
        "llc",
        "plc",
        "gmbh",
        "co",
        "corp",
        "company",
        "group",
        "bank",
        "thanks",
        "thank",
        "regards",
        "cheers",
        "please",
        "hi",
        "hello",
        "hey",
        "dear",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "i",
    }
)

# Chat words that the name list holds as names too ("Hey", "Yup", "Tomo"); none is in WordNet.
CHAT_WORDS = frozenset(
    [
        "hey",
        "hiya",
        "heya",
        "yup",
        "yep",
        "yo",
        "ya",
        "ty",
        "tomo",
        "im",
        "uh",
        "ah",
        "oh",
        "ha",
        "vid",
        "hun",
    ]
)
# Shop and payment words people type in lower case that the name list holds too ("my iban is ...").
SHOP_WORDS = frozenset(["iban", "bic", "swift", "sku", "cvv", "otp", "pin", "vat", "ssn", "nino", "paypal"])
# Words that make the capitalised words before them a firm or a place, not a person: "Rand Corporation",
# "St Hyacinthe Country Club", "Morgan Street".
FIRM_OR_PLACE_WORDS = frozenset(
    [
        "inc",
        "ltd",
        "llc",
        "llp",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "bv",
        "co",
        "corp",
        "corporation",
        "company",
        "group",
        "bank",
        "associates",
        "partners",
        "consulting",
        "holdings",
        "international",
        "industries",
        "services",
        "solutions",
        "systems",
        "technologies",
        "foundation",
        "institute",
        "society",
        "club",
        "hotel",
        "restaurant",
        "cafe",
        "café",
        "bakery",
        "shop",
        "store",
        "university",
        "college",
        "school",
        "hospital",
        "church",
        "airport",
        "station",
        "museum",
        "gallery",
        "theatre",
        "theater",
        "centre",
        "center",
        "street",
        "road",
        "avenue",
        "lane",
        "square",
        "park",
        "bridge",
        "county",
        "city",
        "island",
        "islands",
        "beach",
        "valley",
        "lake",
        "river",
        "mountain",
    ]
)
# Capitalised words before a first name that make it part of a place's name: "San Bernardino", "Costa Rica".
PLACE_PREFIXES = frozenset(
    [
        "san",
        "santa",
        "santo",
        "são",
        "saint",
        "st",
        "ste",
        "sainte",
        "costa",
        "puerto",
        "porto",
        "los",
        "las",
        "den",
        "mount",
        "mt",
        "port",
        "fort",
        "lake",
        "cape",
        "villa",
        "monte",
        "new",
        "north",
        "south",
        "east",
        "west",
        "upper",
        "lower",
        "great",
        "little",
    ]
)


_HEX = frozenset("123456789ABCDabcd")
# A name that is also an English noun counts as a name on its own only where it is at least this common
# somewhere: "Anna", "Heather", "Florence" do; "Princess", "Diamond", "London", "Paris" do not.
COMMON_NAME = 4
# A surname that is also an English noun ("Walker", "Parks", "Strickland": WordNet holds famous people too)
# counts on its own only among this many most common surnames; "Apple" (4,537th) and "Bank" do not.
COMMON_SURNAME = 2000


def _given_names_file() -> Path:
    import gender_guesser

    return Path(gender_guesser.__file__).resolve().parent / "data" / "nam_dict.txt"


def load_given_names(path: Path | None = None) -> dict[str, int]:
    """Every first name in gender-guesser's list, case-folded, with how common it is where most common.

    The list gives each name a frequency per country from 1 (rare) to 13 (extremely common) in columns 31
    onwards; we keep the highest. "Jun+Wei" gives "jun" and "wei".
    """
    names: dict[str, int] = {}
    with (path or _given_names_file()).open(encoding="utf-8") as lines:
        for line in lines:
            # Comment lines start with "#", equivalences ("= Abby Abigail") with "="; names are column two.
            if line[:1] in {"#", "="} or len(parts := line.split()) < 2:
                continue
            frequency = max((int(c, 16) for c in line[30:] if c in _HEX), default=1)
            for part in parts[1].replace("+", " ").replace("-", " ").split():
                name = part.casefold()
                if len(name) > 1:
                    names[name] = max(names.get(name, 0), frequency)
    return names


def _surnames_file() -> Path:
    import names

    return Path(names.__file__).resolve().parent / "dist.all.last"


def _fold_accents(word: str) -> str:
    """Case- and accent-folded: "Dávila" -> "davila", "Åström" -> "astrom" (the census list has no accents)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def load_surnames(path: Path | None = None) -> dict[str, int]:
    """Every surname in the census list, case-folded, with its rank (1 = most common)."""
    surnames: dict[str, int] = {}
    with (path or _surnames_file()).open(encoding="ascii") as lines:
        # "SMITH          1.006  1.006      1": the name, its share, the cumulative share, the rank.
        for line in lines:
            if parts := line.split():
                surnames.setdefault(parts[0].casefold(), int(parts[-1]))
    return surnames


@dataclass(frozen=True)
class NameLexicon:
    """First names, surnames, the everyday English words among them, and WordNet's nouns."""

    given_names: Mapping[str, int]
    english_words: frozenset[str]
    nouns: frozenset[str]
    surnames: Mapping[str, int]

    @classmethod
    def from_spacy(
        cls,
        nlp: Language,
        given_names: Mapping[str, int] | None = None,
        surnames: Mapping[str, int] | None = None,
    ) -> NameLexicon:
        """Built from a loaded English pipeline's lemmatizer tables, gender-guesser's list and the census's."""
        lookups = nlp.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
        index, exceptions = lookups.get_table("lemma_index"), lookups.get_table("lemma_exc")
        words: set[str] = set(STOP_WORDS) | CALENDAR | CHAT_WORDS | SHOP_WORDS
        for pos in ("verb", "adj", "adv"):
            words.update(index.get(pos, []))
            # Irregular forms: "rose" (rise), "bore", "best".
            words.update(exceptions.get(pos, {}))
        nouns: set[str] = set(index.get("noun", []))
        return cls(
            given_names=load_given_names() if given_names is None else given_names,
            english_words=frozenset(w for w in words if "_" not in w),
            nouns=frozenset(w for w in nouns if "_" not in w),
            surnames=load_surnames() if surnames is None else surnames,
        )

    def is_given_name(self, word: str) -> bool:
        return word.casefold() in self.given_names

    def is_ambiguous(self, word: str) -> bool:
        """A first name that is also a verb, adjective, adverb, function word or day ("Will", "May"),
        or a noun and no common name ("Princess", "Diamond")."""
        folded = word.casefold()
        return folded in self.english_words or (
            folded in self.nouns and self.given_names.get(folded, 0) < COMMON_NAME
        )

    def is_word(self, word: str) -> bool:
        folded = word.casefold()
        return folded in self.english_words or folded in self.nouns

    def is_known_surname(self, word: str) -> bool:
        """A surname of the census list that is no verb, adjective, adverb or function word, and is a noun
        only if common as a surname: "Lowery", "Dávila", "Walker"; not "Long", "Bank" or "Apple"."""
        folded = word.casefold()
        rank = self.surnames.get(_fold_accents(word))
        if rank is None or folded in self.english_words:
            return False
        return folded not in self.nouns or rank <= COMMON_SURNAME
