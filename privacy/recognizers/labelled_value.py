"""Values a label names as identifiers: "Order ID: 3348917502", "my NI number is QQ 12 34 56 C",
"Kundennummer 4711-22", "numéro de client : 88 41 22", "Username: cminh730", "PIN 4321".

What follows such a label identifies the customer whatever its format or checksum: Presidio's validators
reject "078-05-1120" as an SSN, and a bare ten-digit number is a phone, an NHS number or nothing by luck.
The label decides. Labels are English, German, French, Spanish, Italian, Portuguese and a few Turkish ones.
Each result names its rule: `id_label` (a label ending in number/ID/no. or a compound such as
"Kundennummer"), `id_word` (a word that is an identifier on its own: SSN, IBAN, DNI, CPF ...),
`account_word` (order, account, customer ... followed straight by a number), `username` and `secret`.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# "number", "ID", "no." in the six languages, as the last word of a label ("order number", "Kunden-Nr.").
_SUFFIX = (
    r"(?:numbers?|num|nos?\.?|nr\.?|n[°º]\.?|#|ids?|identifiers?|identification|ref(?:erence)?|"
    r"nummer|kennung|numéro|numero|número|code|codice|código)"
)
# Words before "number" that name a product's or a document's number, not a person's.
_NOT_PERSONAL = (
    r"(?:model|part|item|product|article|version|page|step|line|serial|build|release|port|error|status|"
    r"table|figure|fig|section|chapter|lot|batch|sku|catalog|catalogue|firmware|track|flight|bus|room|"
    r"house|street|phone|telephone|mobile|fax|zip|postal|post|postcode|promo|discount|voucher|coupon|"
    r"the|a|an|your|any|this|that|which|what|total|large|small|same|one|of|in|by|to|and|or)"
)
_ANY_WORD = r"[^\W\d_][\w'’\-]*"
# A label ending in a number word, or a prefix form: "numéro de client", "número do pedido", "codice fiscale".
_ID_LABEL = (
    rf"(?:(?!{_NOT_PERSONAL}\b){_ANY_WORD}[ \t\-]+){{1,2}}{_SUFFIX}(?![\w])"
    r"|(?:numéro|numero|número|n[°º]|num\.?)[ \t]+(?:(?:de|d'|d’|du|do|da|del|di|dell'|della)[ \t]*)?"
    rf"(?!{_NOT_PERSONAL}\b){_ANY_WORD}"
    r"|(?:codice|código|code)[ \t]+(?:fiscale|cliente|client|utente|postal(?:e)?|fiscal)"
    r"|[^\W\d_]{3,}(?:nummer|nr\.?)(?![\w])"
)
_ID_WORD = (
    r"(?:id|ssn|sin|nino|ni|nhs|iban|bic|tin|vat|ust-?id(?:nr)?|steuer-?id|dni|nie|nif|cif|cpf|cnpj|rg|cnh|"
    r"nir|insee|aadhaar|aadhar|pan|tc[ \t]+kimlik(?:[ \t]+no)?|kimlik[ \t]+no|passport|pass|passeport|"
    r"pasaporte|passaporto|passaporte|reisepass|ausweis|personalausweis|licen[cs]e|f[üu]hrerschein|permis|"
    r"patente|carteira|policy|police|polizza|póliza|apólice|docket|case|dossier|aktenzeichen|"
    # A vehicle's registration: "Kennzeichen F-AB 1234", "immatriculation AB-123-CD", "targa AB123CD".
    r"kfz-kennzeichen|kennzeichen|nummernschild|immatriculation|targa|matr[íi]cula|kenteken)"
)
_ACCOUNT_WORD = (
    r"(?:order|account|acct|customer|client|member|membership|booking|reservation|ticket|invoice|"
    r"contract|subscription|tracking|confirmation|transaction|claim|reference|ref|"
    r"bestellung|auftrag|konto|kunde|vertrag|rechnung|mitglied|buchung|commande|compte|contrat|facture|"
    r"pedido|cuenta|cliente|contrato|factura|reserva|ordine|conto|fattura|prenotazione|conta|encomenda|"
    r"sipariş|siparis|hesap|müşteri|musteri)"
)
_USERNAME = (
    r"(?:user[ \t]*name|user[ \t\-]*id|login|log-?in[ \t]+name|handle|benutzer(?:name|kennung)?|"
    r"nom[ \t]+d['’]utilisateur|identifiant|usuario|nombre[ \t]+de[ \t]+usuario|nome[ \t]+utente|utente|"
    r"nome[ \t]+de[ \t]+usu[áa]rio|utilizador|kullan[ıi]c[ıi][ \t]+ad[ıi]|gebruiker(?:snaam)?|pseudo)"
)
_SECRET = (
    r"(?:pass(?:word|code|phrase)|pwd|pin(?:[ \t]+code)?|code[ \t]+pin|passwort|kennwort|geheimzahl|"
    r"mot[ \t]+de[ \t]+passe|contraseña|contrasena|clave|senha|palavra-passe|parola[ \t]+d['’]ordine|"
    r"şifre|sifre|wachtwoord)"
)
# Between the label and its value: a colon, "is", "=" ... in the six languages, or nothing.
_SEP = (
    r"(?:[ \t]*(?:[:#=]|-(?=[ \t]))[ \t]*|[ \t]*,[ \t]*|"
    r"[ \t]+(?:is|was|are|ist|lautet|est|es|è|é|era|war)(?:[ \t]*:)?[ \t]+|[ \t]+)"
)
# A username's or secret's label and its value: a colon or "=" says the rest is the value; after "is" or a
# bare space the value must look like one (a digit or a sign in it: "hunter2", not "is hashed").
_STATED = (
    r"(?:(?P<colon>[ \t]*(?:[:=]|-(?=[ \t]))[ \t]*)|"
    r"[ \t]+(?:(?:is|was|ist|lautet|est|es|è|é|era|war)(?:[ \t]*:)?[ \t]+)?)"
)
# An identifier: letters and digits, joined by - . / : and, in groups, by single spaces where each further
# group is digits or one to three capitals ("QQ 12 34 56 C", "1356 2467 8901 2345").
_VALUE = (
    r"(?P<value>[A-Za-z0-9]+(?:[\-./:][A-Za-z0-9]+)*"
    r"(?:[ ](?:\d+|(?-i:[A-Z]{1,3}))(?:[\-./][A-Za-z0-9]+)*(?![\w@]))*)"
)
_TOKEN = r"(?P<value>[^\s,;\"'<>]{3,64}?)(?=[.!?]*(?:\s|$|[,;\"')]))"


class LabelledValueRecognizer(EntityRecognizer):
    # Scores just above the threshold (0.4): where a recognizer that knows the format finds the same span (a
    # UK NINO, an IBAN), its type wins; where none does, the label's does.
    RULES: ClassVar[tuple[tuple[str, str, str, float, int], ...]] = (
        # (rule, entity, pattern, score, the fewest characters of the value that count)
        ("id_label", "ID_NUMBER", rf"(?<![\w])(?:{_ID_LABEL}){_SEP}{_VALUE}", 0.45, 4),
        ("id_word", "ID_NUMBER", rf"(?<![\w])(?:{_ID_WORD})(?:[ \t]*{_SUFFIX})?{_SEP}{_VALUE}", 0.45, 4),
        ("account_word", "ID_NUMBER", rf"(?<![\w])(?:{_ACCOUNT_WORD}){_SEP}{_VALUE}", 0.42, 5),
        ("username", "USERNAME", rf"(?<![\w])(?:{_USERNAME}){_STATED}{_TOKEN}", 0.7, 3),
        ("secret", "PASSWORD", rf"(?<![\w])(?:{_SECRET}){_STATED}{_TOKEN}", 0.7, 3),
        # A social-media handle: "@sarah.j.photography", never the part of an e-mail address after its @.
        ("handle", "USERNAME", r"(?<![\w.@])(?P<value>@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)", 0.6, 3),
    )
    ENTITIES: ClassVar[tuple[str, ...]] = ("ID_NUMBER", "USERNAME", "PASSWORD")
    NAME: ClassVar[str] = "LabelledValueRecognizer"

    def __init__(self) -> None:
        self._compiled = [
            (rule, entity, re.compile(pattern, re.IGNORECASE | re.MULTILINE), score, shortest)
            for rule, entity, pattern, score, shortest in self.RULES
        ]
        super().__init__(supported_entities=list(self.ENTITIES), name=self.NAME, supported_language="en")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for rule, entity, pattern, score, shortest in self._compiled:
            if entity not in entities:
                continue
            for match in pattern.finditer(text):
                value = match.group("value")
                stated = rule not in ("username", "secret") or match.group("colon") is not None
                if not _counts(value, entity, shortest, stated=stated):
                    continue
                results.append(self._result(entity, match.start("value"), match.end("value"), score, rule))
        return results

    def _result(self, entity: str, start: int, end: int, score: float, rule: str) -> RecognizerResult:
        explanation = AnalysisExplanation(
            recognizer=self.NAME, original_score=score, pattern_name=rule, textual_explanation=rule
        )
        return RecognizerResult(
            entity,
            start,
            end,
            score,
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                "rule": rule,
            },
        )


def _counts(value: str, entity: str, shortest: int, *, stated: bool) -> bool:
    """An identifier has a digit and `shortest` letters or digits; a username or secret after a colon is
    any token, and after "is" or a space one with a digit or a sign in it."""
    alnum = sum(ch.isalnum() for ch in value)
    if alnum < shortest:
        return False
    if entity == "ID_NUMBER":
        return any(ch.isdigit() for ch in value)
    return stated or not value.isalpha()


# Words that head a form's field ("Email:", "Telefon:", "Kunde:"): a label, never anyone's name.
_FIELD = (
    r"(?:e-?mail|mail|telefon|telephone|phone|tel|mobile|handy|fax|address|adresse|anschrift|dirección|"
    r"indirizzo|endereço|name|vorname|nachname|surname|prénom|nom|nombre|nome|apellido|cognome|date|datum|"
    r"subject|betreff|objet|asunto|oggetto|assunto|from|to|von|an|cc|kunde|kundin|customer|client|cliente|"
    r"geburtsdatum|geburtstag|geburtsort|date[ \t]+of[ \t]+birth|dob|birthday|birthdate|"
    r"date[ \t]+de[ \t]+naissance|fecha[ \t]+de[ \t]+nacimiento|data[ \t]+di[ \t]+nascita|"
    r"data[ \t]+de[ \t]+nascimento|stra(?:ß|ss)e|ort|stadt|plz|city|postcode|ville|ciudad|città|cidade)"
)
_LABEL_ONLY = re.compile(
    rf"(?:{_FIELD}|{_ID_LABEL}|{_ID_WORD}|{_ACCOUNT_WORD}|{_USERNAME}|{_SECRET})[ \t]*:?", re.IGNORECASE
)


def is_field_label(span: str) -> bool:
    """Whether `span` is only a label ("Username", "Telefon:", "Kundennummer"), which no name is."""
    return _LABEL_ONLY.fullmatch(span.strip()) is not None
