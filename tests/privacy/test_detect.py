"""Table-driven detection tests: (text, entity, the exact span)."""

from __future__ import annotations

import pytest

from privacy.detect import Detection, Detector, KnownValue, resolve_overlaps


@pytest.fixture
def detector(analyzer) -> Detector:  # type: ignore[no-untyped-def]
    return Detector(analyzer)


@pytest.mark.parametrize(
    ("text", "entity", "span"),
    [
        ("call me on +44 7700 900123 please", "PHONE_NUMBER", "+44 7700 900123"),
        ("my cell is +1 (415) 555-0100", "PHONE_NUMBER", "+1 (415) 555-0100"),
        ("whatsapp 0044 7700 900123", "PHONE_NUMBER", "0044 7700 900123"),
        ("phone number 07700 900123", "PHONE_NUMBER", "07700 900123"),
        ("email maria.lopez@example.com now", "EMAIL_ADDRESS", "maria.lopez@example.com"),
        ("I am Maria Lopez and I ordered a cake", "PERSON", "Maria Lopez"),
        ("card 4111 1111 1111 1111 was charged twice", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("my IBAN is GB82 WEST 1234 5698 7654 32", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
        ("from 192.168.10.20 I get an error", "IP_ADDRESS", "192.168.10.20"),
        ("I live at 221B Baker Street, London", "STREET_ADDRESS", "221B Baker Street, London"),
        ("deliver to 14 Mill Lane please", "STREET_ADDRESS", "14 Mill Lane"),
        ("my postcode is BS7 8AE", "STREET_ADDRESS", "BS7 8AE"),
    ],
)
def test_detects(detector: Detector, text: str, entity: str, span: str) -> None:
    found = [(d.entity_type, text[d.start : d.end]) for d in detector.detect(text)]
    assert (entity, span) in found


@pytest.mark.parametrize(
    "text",
    [
        "We open at 10:30 on Sunday",
        "Do you take Apple Pay?",
        "3 cakes cost £30.50, 2 are left",
        "Delivery to Dublin?",  # a city is kept: the bot needs it to answer
    ],
)
def test_does_not_mask_ordinary_shop_talk(detector: Detector, text: str) -> None:
    assert detector.detect(text) == []


def test_email_is_one_span_not_an_email_plus_a_url(detector: Detector) -> None:
    text = "mail maria.lopez@example.com"
    assert [(d.entity_type, d.start, d.end) for d in detector.detect(text)] == [("EMAIL_ADDRESS", 5, 28)]


def test_known_profile_name_is_found_whatever_the_case(detector: Detector) -> None:
    text = "hey, zed quixley again"
    found = detector.detect(text, [KnownValue("PERSON", "Zed Quixley")])
    assert [(d.entity_type, text[d.start : d.end], d.recognizer) for d in found] == [
        ("PERSON", "zed quixley", "KnownValue")
    ]


def test_overlaps_keep_the_longer_span() -> None:
    spans = [
        Detection("URL", 5, 10, 0.5, "u"),
        Detection("EMAIL_ADDRESS", 0, 15, 1.0, "e"),
        Detection("PERSON", 20, 25, 0.85, "p"),
    ]
    assert [d.entity_type for d in resolve_overlaps(spans)] == ["EMAIL_ADDRESS", "PERSON"]


@pytest.mark.parametrize(
    ("text", "in_chat", "in_document"),
    [
        ("COVID-19 is spread by droplets.", [], []),  # digits: never a name
        ("How do I set up Gmail on my phone?", ["Gmail"], []),  # a lone non-name word in a help text
        ("Ask Sarah at the front desk.", ["Sarah"], ["Sarah"]),  # a first name stays masked everywhere
        ("Write to Maria Lopez in accounts.", ["Maria Lopez"], ["Maria Lopez"]),
        # A speaker's label that is no first name is a product's heading in a help text.
        ("Firefox: open the settings menu.", ["Firefox"], []),
    ],
)
def test_documents_keep_product_words_and_mask_real_names(
    detector: Detector, text: str, in_chat: list[str], in_document: list[str]
) -> None:
    def people(document: bool) -> list[str]:
        return [
            text[d.start : d.end]
            for d in detector.detect(text, document=document)
            if d.entity_type == "PERSON"
        ]

    assert (people(False), people(True)) == (in_chat, in_document)


def test_a_lone_word_of_the_business_vocabulary_is_no_guessed_name_but_a_stated_one_is(
    detector: Detector,
) -> None:
    question = "What does Corona and Covid mean?"
    assert [question[d.start : d.end] for d in detector.detect(question)] == ["Corona", "Covid"]
    vocabulary = frozenset({"corona", "covid"})
    assert detector.detect(question, vocabulary=vocabulary) == []
    # What a phrase says is a name, and the sender's own profile name, are masked whatever the vocabulary.
    stated = "Hi, my name is Corona"
    assert [stated[d.start : d.end] for d in detector.detect(stated, vocabulary=vocabulary)] == ["Corona"]
    known = [KnownValue("PERSON", "Covid")]
    assert [d.recognizer for d in detector.detect(question, known, vocabulary=vocabulary)] == ["KnownValue"]
