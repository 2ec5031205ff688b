"""Values a label names as identifiers are masked whatever their format; identifier-shaped tokens in a
customer's message too, unless the business's knowledge base uses them; numbers are masked whole."""

from __future__ import annotations

import pytest

from privacy.detect import Detection, Detector, business_vocabulary, whole_numbers
from privacy.recognizers.labelled_value import is_field_label


@pytest.fixture
def detector(analyzer) -> Detector:  # type: ignore[no-untyped-def]
    return Detector(analyzer)


def _masked(detector: Detector, text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(d.entity_type, text[d.start : d.end]) for d in detector.detect(text, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("Order ID: 3348917502", "ID_NUMBER", "3348917502"),
        ("Account ID: B3BLRKKZQQ", "ID_NUMBER", "B3BLRKKZQQ"),
        ("my NI number is QQ 12 34 56 C", "ID_NUMBER", "QQ 12 34 56 C"),
        ("SSN 078-05-1120", "ID_NUMBER", "078-05-1120"),  # Presidio's validator rejects this example value
        ("His passport number is A12345678 and", "PASSPORT", "A12345678"),
        ("where is order 55120387?", "ID_NUMBER", "55120387"),
        ("Kundennummer 4711-2233", "ID_NUMBER", "4711-2233"),
        ("Meine Steuer-ID lautet 12 345 678 901", "ID_NUMBER", "12 345 678 901"),
        ("numéro de client : 88 41 22 19", "ID_NUMBER", "88 41 22 19"),
        ("mi DNI es 12345678Z", "ID_NUMBER", "12345678Z"),
        ("il mio codice fiscale è RSSMRA85T10A562S", "ID_NUMBER", "RSSMRA85T10A562S"),
        ("número do pedido: 558812", "ID_NUMBER", "558812"),
        ("ID: TRX9843275", "ID_NUMBER", "TRX9843275"),
        ("Username: cminh730", "USERNAME", "cminh730"),
        ("Benutzername: JuristinAnna87 hat heute", "USERNAME", "JuristinAnna87"),
        ("follow me on Instagram @sarah.j.photography.", "USERNAME", "@sarah.j.photography"),
        ("my password is hunter2", "PASSWORD", "hunter2"),
        ("Passwort: sonnenschein", "PASSWORD", "sonnenschein"),
        ("my PIN is 4321", "PASSWORD", "4321"),
        ("Geburtsdatum: 15.03.1985", "DATE_OF_BIRTH", "15.03.1985"),
        ("Né le 31-05-1995 à Lyon", "DATE_OF_BIRTH", "31-05-1995"),
        ("geboren am 15. März 1985", "DATE_OF_BIRTH", "15. März 1985"),
        ("fecha de nacimiento: 3 de mayo de 1990", "DATE_OF_BIRTH", "3 de mayo de 1990"),
    ],
)
def test_a_labelled_value_is_masked_whatever_its_format(
    detector: Detector, text: str, entity: str, value: str
) -> None:
    assert (entity, value) in _masked(detector, text)


@pytest.mark.parametrize(
    "text",
    [
        "I ordered 3 items",  # no identifier after the word
        "A plaintext password is hashed before it is stored",  # "is" then a plain word: no password
        "The login page is at the top",
        "mail me at ana@example.com",  # an e-mail address, not a handle
        "Am 15. März haben wir geöffnet",  # a month is no name
    ],
)
def test_labels_without_a_personal_value_mask_nothing_of_theirs(detector: Detector, text: str) -> None:
    assert [
        e for e, _ in _masked(detector, text) if e in {"ID_NUMBER", "USERNAME", "PASSWORD", "PERSON"}
    ] == []


def test_the_label_itself_is_never_a_name(detector: Detector) -> None:
    assert ("PERSON", "Username") not in _masked(detector, "Username: cminh730")
    assert all(is_field_label(label) for label in ["Username", "Telefon:", "Kundennummer", "E-Mail", "Kunde"])
    assert not is_field_label("Maria")


def test_every_labelled_detection_names_its_rule(analyzer) -> None:  # type: ignore[no-untyped-def]
    results = analyzer.analyze(
        "Order ID: 3348917502, username: cminh730, PIN: 4321",
        language="en",
        entities=["ID_NUMBER", "USERNAME", "PASSWORD"],
    )
    rules = {(r.entity_type, r.recognition_metadata.get("rule")) for r in results}
    assert {("ID_NUMBER", "id_label"), ("USERNAME", "username"), ("PASSWORD", "secret")} <= rules


def test_identifier_shaped_tokens_are_masked_in_messages_unless_the_business_uses_them(
    detector: Detector,
) -> None:
    message = "my TV UE55RU7100 broke, order 1356 2467 8901 2345"
    assert ("ID_NUMBER", "UE55RU7100") in _masked(detector, message)
    assert ("ID_NUMBER", "UE55RU7100") not in _masked(detector, message, vocabulary=frozenset({"ue55ru7100"}))
    assert ("ID_NUMBER", "3348917502") in _masked(detector, "it is 3348917502")
    assert _masked(detector, "The UE55RU7100 has 4 HDMI ports", document=True) == []
    assert _masked(detector, "the model number ABC1234 is discontinued", document=True) == []


def test_a_number_is_masked_whole_never_in_part() -> None:
    text = "1356 2467 8901 2345 is mine"
    phone = Detection("PHONE_NUMBER", 10, 19, 0.5, "ChatPhoneRecognizer")  # "8901 2345": half the card
    (widened,) = whole_numbers(text, [phone])
    assert text[widened.start : widened.end] == "1356 2467 8901 2345"
    assert whole_numbers("call 0123 or 4567", [Detection("PHONE_NUMBER", 5, 9, 0.5, "x")])[0].end == 9


def test_the_business_vocabulary_is_its_headings_and_the_words_three_texts_use() -> None:
    texts = [
        "Manual > Ambient Mode\nAmbient Mode shows art.",
        "Manual > Picture\nUse Smart Hub.",
        "Manual > Sound\nSmart Hub again.",
        "Manual > Network\nSmart Hub once more; ask Johanna.",
    ]
    vocabulary = business_vocabulary(texts)
    assert {"ambient", "mode", "manual", "smart", "hub"} <= vocabulary
    assert "johanna" not in vocabulary


def test_a_name_guessed_from_shape_is_kept_when_all_its_words_are_the_business_s_own(
    detector: Detector,
) -> None:
    vocabulary = frozenset({"ambient", "mode", "return", "refund", "exchange"})
    text = "Returns, refunds and exchanges: how do I turn on Ambient Mode?"
    assert [e for e, _ in _masked(detector, text, vocabulary=vocabulary)] == []
    stated = "Hi, my name is Ambient Mode"  # a name a customer states is masked whatever the vocabulary
    assert ("PERSON", "Ambient Mode") in _masked(detector, stated, vocabulary=vocabulary)


def test_a_guessed_name_with_a_first_name_in_it_is_masked_though_the_business_uses_its_words(
    detector: Detector,
) -> None:
    vocabulary = frozenset({"grace", "period", "hall", "parker"})
    masked = _masked(detector, "Grace Parker booked the hall", vocabulary=vocabulary)
    assert ("PERSON", "Grace Parker") in masked
