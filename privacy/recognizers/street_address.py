"""Postal addresses, which spaCy's small model mostly misses or cuts into a PERSON and a LOCATION.

An address is found from an anchor, a part that is an address on its own: a house number and a street
("221B Baker Street", "Via Roma 12", "Koskikatu 25"), a flat or suite ("Apt. 4"), a post-office or forces box,
a postcode. The span then runs on over what follows it on the same line and on the next few short lines
(flat, town, region, country, postcode), so "12 Mill Lane\\nApt. 3\\nLeeds\\nLS1 4AB" is masked as one address
and not as four pieces that each leave the others readable.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from privacy.recognizers.context import near
from privacy.recognizers.name_lexicon import CALENDAR

# A street-type word after the street's name (English, and German/Dutch/Nordic as separate words).
_TYPES_AFTER = (
    "Street|St|Road|Rd|Avenue|Ave|Av|Lane|Ln|Drive|Dr|Way|Boulevard|Blvd|Close|Court|Ct|Place|Pl|Square|Sq|"
    "Terrace|Ter|Crescent|Cres|Gardens|Gdns|Grove|Gr|Hill|Row|Mews|Parade|Walk|Highway|Hwy|Parkway|Pkwy|Park|"
    "Circle|Cir|Trail|Trl|Alley|Loop|Path|Pike|Plaza|Point|Points|Ridge|Rise|View|Green|Wharf|Quay|Heights|"
    "Strasse|Straße|Str|Weg|Gasse|Platz|Allee|Ring|Laan|Straat|Plein|Vej|Gade|Gata|Gatan|Vägen|Veien|Tie|Katu|"
    "Gate|Vei|Veg|Vej|Gade|Út|Utca|Útja|Tér|Körút|Köz|Tee|Ulica|Ul|Ut|U|Cesta|Sokak|Cadde|Caddesi"
)
# A street-type word before the street's name (Romance, Greek and Slavic usage).
_TYPES_BEFORE = (
    "Rue|Rua|Via|Viale|Vicolo|Corso|Piazza|Piazzale|Largo|Calle|C/|Carrer|Camino|Camiño|Avenida|Avda|Av|Avenue|"
    "Paseo|Passeig|Plaza|Praça|Praca|Travessa|Estrada|Rodovia|Chemin|Allée|Impasse|Boulevard|Bd|Quai|Place|"
    "Route|Ulica|Ul|Trg|Odos|Leoforos|Λεωφόρος|Οδός"
)
# The end of a one-word street name (German, Dutch, Nordic, Finnish, Icelandic).
_SUFFIXES = (
    "straße|strasse|str|straat|stræti|straeti|weg|gasse|gade|vej|vegen|veien|vägen|gatan|gata|katu|tie|"
    "laan|plein|platz|allee|damm|ufer|gracht|kade|dijk|stien|vegur"
)
# "221B", "12a"; not a decade ("the 70s").
_NUMBER = r"\d{1,5}(?!s\b)[A-Za-z]?"
_WORD = r"[^\W\d_][\w'’\-]*\.?"
# A numbered street's name: "184th Street", "5th Avenue", "2nd Ave".
_ORDINAL = r"\d{1,3}(?:st|nd|rd|th)"
_UNIT = (
    r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|Bldg|Building)\.?[ \t]*#?[ \t]*\d{1,5}[A-Za-z]?"
)
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]*\d[A-Z]{2}"
# Canada's "B0J 2H0": letter, digit, letter, space, digit, letter, digit.
_CA_POSTCODE = r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
# Street types Hungarian writes in lower case after the name, before the number: "Árpád fejedelem útja 3.",
# "Bem rakpart 79.", "Veres Pálné u. 91.". The name may hold lower-case words; the type and number decide.
_HU_TYPES = r"út|utca|u\.|útja|tér|tere|körút|krt\.|rakpart|rkp\.|köz|sor|sétány|fasor"

# Lower-case words that may sit inside a street, town or country name ("Rue de la Paix", "Isle of Man").
_PARTICLES = frozenset(
    [
        "de",
        "del",
        "della",
        "di",
        "da",
        "das",
        "do",
        "dos",
        "des",
        "du",
        "la",
        "le",
        "les",
        "el",
        "lo",
        "los",
        "las",
        "van",
        "der",
        "den",
        "von",
        "vom",
        "zu",
        "am",
        "an",
        "im",
        "y",
        "e",
        "i",
        "of",
        "the",
        "upon",
        "on",
        "sur",
        "sous",
        "st",
        # Italian contracted articles ("Via dei Fiorentini", "Via delle Coste", "Via dalla Staziun").
        "dei",
        "degli",
        "delle",
        "dello",
        "dal",
        "dalla",
        "dai",
        "al",
        "alla",
        "alle",
        # Czech, Slovak and Polish place names ("Ostrov nad Ohří", "Kámen u Pacova", "Jiřího z Poděbrad").
        "nad",
        "pod",
        "na",
        "u",
        "v",
        "z",
        "ze",
        # Countries of two names: "Antigua and Barbuda", "Bosnia and Herzegovina".
        "and",
        # Dutch and German ("Alphen aan den Rijn", "Bergen op Zoom", "Neustadt bei Coburg").
        "aan",
        "op",
        "bei",
    ]
)
# Particles of place names after a street ("Antigua and Barbuda") that are no part of a street's name.
_RUN_ON_ONLY = frozenset(["and"])
# Street types people write in lower case before or after a capitalised name.
_LOWER_CASE_TYPES = frozenset(
    [
        "rue",
        "avenue",
        "av",
        "allée",
        "chemin",
        "impasse",
        "route",
        "place",
        "quai",
        "boulevard",
        "bd",
        "viale",
        "corso",
        "piazza",
        "calle",
        "carrer",
        "camino",
        "rua",
        "travessa",
        "estrada",
        "ul",
        "ulica",
        "u",
        "út",
        "utca",
        "útja",
        "tér",
        "körút",
        "tee",
        "trg",
        "str",
        "strasse",
        "straße",
        "gasse",
        "weg",
        "platz",
        "gate",
        "vei",
        "veg",
        "vej",
        "gade",
    ]
)
# Words after an address that end it even when capitalised.
_NOT_PLACE = frozenset(
    [
        "i",
        "please",
        "thanks",
        "thank",
        "cheers",
        "regards",
        "best",
        "tel",
        "phone",
        "fax",
        "mobile",
        "email",
        "e-mail",
        "website",
        "office",
        "desk",
    ]
)


class StreetAddressRecognizer(EntityRecognizer):
    ENTITY = "STREET_ADDRESS"
    # Anchors. Matched case-sensitively, except where the pattern says (?i).
    # Anchors. Street names are matched in any case, then checked for capitals (see `_street_fits`).
    PATTERNS: ClassVar[list[Pattern]] = [
        # "221B Baker Street", "04 55 Halsey Road", "4624 St Jean Baptiste St": number, name, street type.
        Pattern(
            "number_name_type",
            rf"(?<![\w.,:/\-]){_NUMBER}(?:[ \t]+{_NUMBER})?,?[ \t]+(?:(?:{_WORD}|{_ORDINAL})[ \t]+){{0,4}}"
            rf"(?i:{_TYPES_AFTER})\b\.?",
            0.6,
        ),
        # "12 Rue de Kairouan", "40 rue Victor Hugo": number, street type, name (run on from there).
        Pattern(
            "number_type_name",
            rf"(?<![\w.,:/\-])(?:{_NUMBER}[ \t]+){{1,2}}(?i:{_TYPES_BEFORE})\.?[ \t]+{_WORD}",
            0.6,
        ),
        # "Via Pasquale Scura 127", "ul. Cicha 86": street type, name, number.
        Pattern(
            "type_name_number",
            rf"(?<![\w\-])(?i:{_TYPES_BEFORE})\.?[ \t]+(?:{_WORD}[ \t]+){{1,4}}{_NUMBER}\b",
            0.6,
        ),
        # "Semperweg 150", "Gumpendorfer Strasse 44", "0104 Hafnarstraeti 5": a street-suffixed name and number.
        Pattern(
            "suffixed_name_number",
            rf"(?<![\w\-])(?:{_NUMBER}[ \t]+)?(?:{_WORD}[ \t]+){{0,2}}[^\W\d_]*(?i:{_SUFFIXES})\.?[ \t]+{_NUMBER}\b",
            0.6,
        ),
        # "6750 Koskikatu 25": number, name, number. Kept only in an address's company (see `analyze`).
        Pattern(
            "number_name_number", rf"(?<![\w.,:/\-]){_NUMBER}[ \t]+(?:{_WORD}[ \t]+){{1,3}}{_NUMBER}\b", 0.6
        ),
        # "lives on Boyle Street", "shows on Marina Fort Street": a street named without its number.
        Pattern(
            "named_street",
            # Not a product: "saved to Google Drive", "on OneDrive", "in Microsoft Teams Square".
            rf"(?i:\b(?:on|at|in|to|from|along|off|of)[ \t]+)(?P<span>(?!(?i:the|a|an|my|your|his|her|our|their|this|that)\b)"
            rf"(?!(?i:google|one|hard|flash|usb|cloud|network|external|shared|team|disk|cd|dvd|solid|state)\b)(?:{_WORD}[ \t]+){{1,3}}"
            r"(?i:Street|Road|Avenue|Lane|Drive|Boulevard|Crescent|Terrace|Close|Square|Gardens|Grove|Parade|Mews))\b",
            0.5,
        ),
        Pattern(
            "po_box",
            rf"(?<![\w\-])(?:{_NUMBER}[ \t]+)?(?i:p\.?[ \t]?o\.?[ \t]?box|post[ \t]?office[ \t]box|postbox|postfach|"
            r"apartado|caixa[ \t]postal)[ \t]+\d{1,6}\b",
            0.6,
        ),
        # US forces addresses: "PSC 3117, Box 0609", "Unit 1009 Box 0219", "USNS Jones", "APO AA 44332".
        Pattern("forces", r"(?i:\b(?:PSC|CMR|Unit)[ \t]+\d{3,5},?[ \t]+Box[ \t]+\d{3,5})", 0.6),
        Pattern("forces_ship", r"(?i:\b(?:USNS|USNV|USCGC)[ \t]+[a-z]+)", 0.5),
        Pattern("forces_post", r"(?i:\b(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5})\b", 0.6),
        # "the corner of Koepoortwal 115 and Hansen Street": taken only with a place after the "and".
        # A full stop followed by a space may sit inside: "the corner of Csabai kapu 39. and Mathias Pass".
        Pattern(
            "corner",
            r"(?i:\b(?:the[ \t]+)?corner[ \t]+of[ \t]+(?:[^\n?!.]|\.(?=[ \t])){2,60}?[ \t]and)\b",
            0.5,
        ),
        Pattern("unit", rf"(?<![\w\-])(?i:{_UNIT})(?![\w])", 0.5),
        Pattern("uk_postcode", rf"\b{_UK_POSTCODE}\b", 0.5),
        Pattern("ca_postcode", rf"\b{_CA_POSTCODE}\b", 0.5),
        # "Erzsébet tér 92.", "Dózsa György út 78.": a capitalised name, a Hungarian street type, a number.
        Pattern(
            "hungarian_street",
            rf"(?<![\w\-])[^\W\d_a-z][\w'’\-]*(?:[ \t]+{_WORD}){{0,2}}?[ \t]+(?:{_HU_TYPES})[ \t]+{_NUMBER}\b\.?",
            0.6,
        ),
        # "lives on Pod Floriánem 1677", "the north side of Joaquin Suarez 2906": a name and a number after
        # "on"/"at"/"of", kept only where a word about living or delivering stands before it (see `analyze`).
        Pattern(
            "name_number",
            rf"(?i:\b(?:on|at|of)[ \t]+)(?P<span>(?!(?i:the|a|an|my|your|his|her|our|their|this|that)\b)"
            rf"(?:{_WORD}[ \t]+){{1,3}}{_NUMBER})\b(?![.,]?\d)",
            0.5,
        ),
        # "Am Waldrand 12, 50667 Köln", "Kerkstraat 5, 1017 GC Amsterdam": a name and a number with no street
        # type, taken for a street by the postcode and town that follow it.
        Pattern(
            "name_number_postcode",
            rf"(?<![\w\-])(?:{_WORD}[ \t]+){{1,3}}{_NUMBER},?[ \t]+\d{{4,5}}(?:[ \t]?[A-Z]{{2}})?[ \t]+"
            rf"[^\W\d_a-z][\w\-]+",
            0.6,
        ),
        # A line of its own that is a postcode and a town ("50667 Köln", "75001 Paris"), under a street line
        # or near a word about addresses (see `analyze`).
        Pattern(
            "postcode_town_line",
            r"(?m)^[ \t]*(?P<span>\d{4,5}(?:[ \t]?[A-Z]{2})?[ \t]+[^\W\d_a-z][\w\-]+(?:[ \t]+[^\W\d_a-z][\w\-]+)?)[ \t]*$",
            0.5,
        ),
        # "ZIP: 8592", "postcode is 1010": the code after its label (the label is not masked).
        Pattern(
            "labelled_postcode",
            r"(?i:\b(?:zip(?:[ \t]?code)?|post[ \t]?code|postal[ \t]code|plz|cep)[ \t]*(?:[:#]|is)?[ \t]*)"
            r"(?P<span>[A-Z0-9]{2,5}(?:[ \-][A-Z0-9]{2,4})?)\b",
            0.6,
        ),
        # "Leeds, LS 12345"/"Springfield, IL 62704": a US state code and ZIP after a comma.
        Pattern("state_zip", r"(?<=,)[ \t]*(?P<span>[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?)\b", 0.5),
    ]
    # Words before a "6750 Koskikatu 25" that make it an address rather than "2 Large Boxes 3".
    CONTEXT: ClassVar[list[str]] = [
        "address",
        "live",
        "lived",
        "living",
        "located",
        "moved",
        "move",
        "deliver",
        "delivery",
        "ship",
        "shipping",
        "send",
        "sent",
        "post",
        "mail",
        "office",
        "offices",
        "meet",
        "visit",
        "return",
        "street",
        "postcode",
        "zip",
    ]
    # Words that make "on Pod Floriánem 1677" an address rather than "on Windows 10" or "at Gate 5".
    LIVING: ClassVar[list[str]] = [
        "live",
        "lives",
        "lived",
        "living",
        "address",
        "addresses",
        "located",
        "moved",
        "deliver",
        "delivery",
        "ship",
        "shipping",
        "postcode",
        "bus",
        "stop",
        "station",
        "house",
        "flat",
        "apartment",
        "restaurant",
        "shop",
        "store",
    ]
    # Anchors that hold a street's name, checked by `_street_fits`.
    STREETS: ClassVar[frozenset[str]] = frozenset(
        {
            "number_name_type",
            "number_type_name",
            "type_name_number",
            "suffixed_name_number",
            "number_name_number",
            "named_street",
            "name_number",
            "name_number_postcode",
        }
    )
    MAX_LINES: ClassVar[int] = 6

    def __init__(self) -> None:
        self._anchors = [(p, re.compile(p.regex, re.MULTILINE)) for p in self.PATTERNS]
        super().__init__(
            supported_entities=[self.ENTITY], name="StreetAddressRecognizer", supported_language="en"
        )

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        lower_case_text = not any(c.isupper() for c in text)
        results: list[RecognizerResult] = []
        for pattern, regex in self._anchors:
            pos = 0
            while match := regex.search(text, pos):
                group = "span" if "span" in regex.groupindex else 0
                start, end = match.span(group)
                if pattern.name in self.STREETS and not _street_fits(text[start:end], lower_case_text):
                    shorter = _shorter_street(regex, text, match, group, lower_case_text)
                    if shorter is None:
                        pos = start + 1  # "refers to Koskikatu 25": try again from the next word
                        continue
                    start, end = shorter  # "90 Whitchurch Road street": the street ends at "Road"
                if pattern.name == "name_number" and not near(text, start, end, self.LIVING, before=60):
                    pos = end
                    continue
                if (
                    pattern.name == "name_number_postcode"
                    and _four_digit_code(text[start:end])
                    and not near(text, start, end, self.CONTEXT, before=60)
                ):
                    pos = end  # "Windows 10, 2022 Edition": a four-digit code may be a year
                    continue
                if pattern.name == "postcode_town_line" and not (
                    _under_another_line(text, start) or near(text, start, end, self.CONTEXT, before=80)
                ):
                    pos = end
                    continue
                pos = end
                full_end = _run_on(text, end, self.MAX_LINES, lower_case_text)
                if pattern.name == "corner" and full_end == end:
                    continue
                if (
                    pattern.name == "number_name_number"
                    and full_end == end
                    and not near(text, start, end, self.CONTEXT, before=60)
                ):
                    continue
                if pattern.name in {"number_name_number", "name_number"} and _names_a_date(text[start:end]):
                    continue  # "April 26, 2012 and May 3, 2012", "on Monday 12": dates, not streets
                if pattern.name in self.STREETS:
                    start = _past_function_words(text, start, end)  # not "the corner of": that is the place
                results.append(
                    RecognizerResult(self.ENTITY, _leading_number(text, start), full_end, pattern.score)
                )
        return results


_FOUR_DIGIT_CODE = re.compile(r",?[ \t]+\d{4}[ \t]+[^\W\d_]")


def _four_digit_code(span: str) -> bool:
    """Whether the postcode after the street is four bare digits (Austria's, Belgium's, or a year)."""
    return _FOUR_DIGIT_CODE.search(span) is not None


def _under_another_line(text: str, start: int) -> bool:
    """Whether a line stands right above the one at `start` (an address block, not a lone "2024 Update")."""
    above = text[:start].rstrip(" \t")
    return above.endswith("\n") and bool(above[:-1].strip().splitlines()[-1:])


def _shorter_street(
    regex: re.Pattern[str], text: str, match: re.Match[str], group: int | str, lower_case_text: bool
) -> tuple[int, int] | None:
    """The longest shorter match at the same place whose street reads as one, if any: the pattern's words
    run greedily over a lower-case "street" after the real type ("90 Whitchurch Road street")."""
    endpos = match.end()
    while (endpos := text.rfind(" ", match.start(), endpos)) > match.start():
        shorter = regex.match(text, match.start(), endpos)
        if shorter is not None:
            start, end = shorter.span(group)
            if _street_fits(text[start:end], lower_case_text):
                return start, end
    return None


def _names_a_date(street: str) -> bool:
    """Whether a month's or a day's name is among the words: such a "name and number" is a date."""
    return any(word.casefold() in CALENDAR for word in re.findall(r"[^\W\d_]+", street))


def _street_fits(street: str, lower_case_text: bool) -> bool:
    """Whether a street reads as one: each word capitalised, a particle or a street type written in lower case.

    "12 Mill Lane", "40 rue Victor Hugo", not "3 cakes on the Way" or "ordering 3". In a message typed all in
    lower case capitals say nothing, and only function words ("on", "the") rule a street out.
    """
    for word in re.findall(r"(?<!\w)[^\W\d_][\w'’\-]*", street):  # not the "th" of "184th"
        folded = word.casefold()
        if folded in _RUN_ON_ONLY:
            return False  # "2012 and May 3": "and" joins places after a street, never a street's own words
        if lower_case_text:
            if folded in STOP_WORDS and folded not in _PARTICLES:
                return False
        elif not (word[0].isupper() or folded in _PARTICLES or folded in _LOWER_CASE_TYPES):
            return False
    return True


def _past_function_words(text: str, start: int, end: int) -> int:
    """Where a street starts once the lower-case function words its pattern took in front are left out:
    "lives on Ziegelgasse 19" masks the street, not "on"."""
    while (match := _FUNCTION_WORD.match(text, start, end)) and match.group(1) in STOP_WORDS:
        start = match.end()
    return start


_FUNCTION_WORD = re.compile(r"([a-z]+)[ \t]+")


def _leading_number(text: str, start: int) -> int:
    """Take in a building number before the anchor ("04 55 Halsey Road"), and a flat before that ("Apt. 722
    20 40 rue Victor Hugo", "Flat 3, 12 Mill Lane"): all one address."""
    match = re.search(r"(?<![\w.,:/\-])\d{1,5}[ \t]+$", text[max(0, start - 8) : start])
    if match:
        start -= len(match.group())
    unit = _UNIT_BEFORE.search(text[max(0, start - 30) : start])
    return start - len(unit.group()) if unit else start


_UNIT_BEFORE = re.compile(rf"(?<![\w\-])(?i:{_UNIT})[ \t]*,?[ \t]*$")


# A number followed by more digit groups ("28-64-66-98") is a phone number, not a postcode.
_SAME_LINE = re.compile(
    rf"[ \t]*(?:,[ \t]*)?(?P<tok>(?i:{_UNIT})|{_UK_POSTCODE}|{_CA_POSTCODE}|\d{{1,6}}(?:-\d{{3,4}})?\b(?![.\-/]\d)\.?|{_WORD})"
)
# A house number's full stop may end a line ("Veres Pálné u. 91.\nToftlund").
_NEXT_LINE = re.compile(r"\.?[ \t]*,?[ \t]*\r?\n(?:[ \t>?*]*\r?\n)?[ \t>?*]*")
# A region or country code before a postcode: "Aalborg NO 9100", "Springfield IL 62704".
_REGION_CODE = re.compile(r"[A-Z]{2,3}")
_LINE_END = re.compile(r"[ \t,]*(?:\r?\n|$)")
_LABEL_COLON = re.compile(r"[ \t]*:")
# Capitals that end a chat line, not region codes.
_CHAT_ACRONYMS = frozenset(
    ["OK", "LOL", "THX", "TY", "PLS", "PLZ", "ASAP", "BTW", "FYI", "TIA", "IMO", "OMG", "XX", "XXX"]
)
# A place's other name or its language in brackets: "Cyprus (Greek)", "ΑΓΛΑΝΤΖΙΑ (ΑΓΛΑΓΓΙΑ)".
_BRACKETED = re.compile(r"[ \t]*\([^\W\d_][\w'’\- ]{0,30}\)")


def _run_on(text: str, end: int, max_lines: int, lower_case_text: bool) -> int:
    """Extend an address over the place words after it on its line and over the lines that follow."""
    end = _run_on_line(text, end, require_capitals=not lower_case_text)
    for _ in range(max_lines):
        gap = _NEXT_LINE.match(text, end)
        if not gap:
            break
        line_end = text.find("\n", gap.end())
        line = text[gap.end() : line_end if line_end >= 0 else len(text)]
        # A line in lower case is taken only with a number in it ("suite 834", "macedonia 64733").
        capitals = not lower_case_text and not re.search(r"\d", line)
        line_stop = _run_on_line(text, gap.end(), require_capitals=capitals)
        if line_stop == gap.end() or not _looks_like_address_line(text[gap.end() : line_stop]):
            break
        if _LABEL_COLON.match(text, line_stop):
            break  # a label under the address ("Note: ring twice"), not a place
        end = line_stop
    return end


def _run_on_line(text: str, end: int, *, require_capitals: bool) -> int:
    pos = taken = end
    particle = False  # a particle read but not yet taken in: only a place word may follow it
    while True:
        if bracketed := _BRACKETED.match(text, pos):
            if taken == pos:
                taken = bracketed.end()  # only right after a place word: "Cyprus (Greek)"
            pos = bracketed.end()
            continue
        match = _SAME_LINE.match(text, pos)
        if match is None:
            break
        token = match.group("tok")
        pos = match.end()
        if token[0].isdigit() or re.fullmatch(rf"(?i:{_UNIT})", token):
            if particle:
                break  # "..., Kazakhstan, and 52 Via del Pontiere": the next address, not this one's number
            # "13." may be a house number ("Rákóczi út 13. Suite 4") or end a sentence ("... 79879. I now"):
            # read on past it, but only the next place word takes it in.
            taken = pos - 1 if token.endswith(".") else pos
            continue
        bare = token.rstrip(".")
        folded = bare.casefold()
        if folded == "st" and token.endswith("."):
            taken = pos  # "Dalmatinova 68 St.": the street's type after its number
            continue
        if _REGION_CODE.fullmatch(bare) and folded in STOP_WORDS | _PARTICLES:
            # A region's code that is a word too ("NO" Norway, "ON" Ontario, "DE"): taken where a postcode
            # or the end of its line follows ("Aalborg NO 9100", "Toftlund\n, SY\n 04828"), never "Leeds IN the".
            if _LINE_END.match(text, pos):
                taken = pos
            continue
        if bare in _CHAT_ACRONYMS:
            break  # "... Mill Lane, Leeds OK"
        if folded in _PARTICLES and not (len(bare) == 1 and bare.isupper()):
            particle = True
            continue  # taken only if a place word follows it; "København V" is a district, taken
        if folded in _NOT_PLACE or folded in STOP_WORDS or (require_capitals and not bare[0].isupper()):
            break
        if token.endswith(".") and len(bare) > 3:
            # "Apt." and "St." keep their full stop; "Cyprus." ends a sentence.
            taken = match.start("tok") + len(bare)
            break
        taken, particle = pos, False
    return taken


def _looks_like_address_line(line: str) -> bool:
    """Address words with no e-mail, web address, label or phone-length number in them."""
    if re.search(r"[@:/]|www\.", line):
        return False
    return len(re.sub(r"\D", "", line)) < 7
