"""Which language a customer writes in (stop-word votes; no model, no network), and the few sentences the
bot must be able to say in it when the knowledge base cannot answer."""

from __future__ import annotations

import re
import unicodedata

from core.placeholders import without_placeholders

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "is",
            "are",
            "you",
            "do",
            "does",
            "what",
            "when",
            "where",
            "how",
            "can",
            "i",
            "my",
            "we",
            "our",
            "your",
            "have",
            "to",
            "of",
            "for",
            "it",
            "a",
            "an",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "es",
            "son",
            "y",
            "que",
            "de",
            "en",
            "por",
            "para",
            "con",
            "mi",
            "mis",
            "tienen",
            "hay",
            "cuando",
            "donde",
            "como",
            "puedo",
            "usted",
            "está",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "est",
            "sont",
            "et",
            "que",
            "de",
            "des",
            "en",
            "pour",
            "avec",
            "mon",
            "ma",
            "mes",
            "vous",
            "avez",
            "quand",
            "où",
            "comment",
            "je",
            "nous",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "ist",
            "sind",
            "und",
            "dass",
            "von",
            "zu",
            "mit",
            "mein",
            "meine",
            "ich",
            "sie",
            "haben",
            "wann",
            "wo",
            "wie",
            "kann",
            "nicht",
            "ein",
            "eine",
        ]
    ),
    "pt": frozenset(
        [
            "o",
            "a",
            "os",
            "as",
            "é",
            "são",
            "e",
            "que",
            "de",
            "em",
            "para",
            "com",
            "meu",
            "minha",
            "vocês",
            "têm",
            "quando",
            "onde",
            "como",
            "posso",
            "não",
            "um",
            "uma",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "lo",
            "la",
            "gli",
            "le",
            "è",
            "sono",
            "e",
            "che",
            "di",
            "in",
            "per",
            "con",
            "mio",
            "mia",
            "avete",
            "quando",
            "dove",
            "come",
            "posso",
            "non",
            "un",
            "una",
        ]
    ),
    "nl": frozenset(
        [
            "de",
            "het",
            "een",
            "is",
            "zijn",
            "en",
            "dat",
            "van",
            "in",
            "voor",
            "met",
            "mijn",
            "ik",
            "jullie",
            "hebben",
            "wanneer",
            "waar",
            "hoe",
            "kan",
            "niet",
        ]
    ),
}
_WORD = re.compile(r"[^\W\d_]+")

NOT_COVERED = {
    "en": "Sorry, I can only answer in English from our information. I've asked a member of our team to help you.",
    "es": "Lo siento, solo puedo responder en inglés con nuestra información. He pedido a una persona de nuestro equipo que te ayude.",
    "fr": "Désolé, je ne peux répondre qu'en anglais à partir de nos informations. J'ai demandé à une personne de notre équipe de vous aider.",
    "de": "Entschuldigung, ich kann nur auf Englisch aus unseren Informationen antworten. Ich habe eine Person aus unserem Team gebeten, Ihnen zu helfen.",
    "pt": "Desculpe, só consigo responder em inglês com as nossas informações. Pedi a uma pessoa da nossa equipa para o ajudar.",
    "it": "Mi dispiace, posso rispondere solo in inglese con le nostre informazioni. Ho chiesto a una persona del nostro team di aiutarti.",
    "nl": "Sorry, ik kan alleen in het Engels antwoorden met onze informatie. Ik heb iemand van ons team gevraagd je te helpen.",
}


def _plain(word: str) -> str:
    """Lower case without accents, so "Cuándo" counts as "cuando"."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


_PLAIN_STOPWORDS = {lang: frozenset(_plain(w) for w in words) for lang, words in _STOPWORDS.items()}


def detect_language(text: str, default: str = "en") -> str:
    """The language with the most stop words in `text`; `default` when too little evidence (under 2 hits)."""
    words = [_plain(w) for w in _WORD.findall(without_placeholders(text))]
    if not words:
        return default
    votes = {lang: sum(w in _PLAIN_STOPWORDS[lang] for w in words) for lang in _STOPWORDS}
    best = max(votes, key=lambda lang: (votes[lang], lang == default))
    if votes[best] < 2 or votes[best] <= votes.get(default, 0):
        return default
    return best
