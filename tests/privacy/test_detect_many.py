"""`Detector.detect_many` (spaCy batches) finds exactly what `detect` finds one text at a time."""

from __future__ import annotations

import pytest

from privacy.detect import Detector, KnownValue

TEXTS = [
    "Returns\nCall Maria Lopez on +44 7700 900123 or write to maria.lopez@example.com.",
    "",
    "   ",
    "Delivery\nWe deliver to 14 Mill Lane, Bristol BS7 8AE on weekdays. Ask Sarah at the desk.",
    "Payments\nPay with Apple Pay or Klarna; card 4111 1111 1111 1111 is refused. Gmail works too.",
    "FAQ\nOrder 1234567890 ships from 192.168.10.20. Contact Tom Baker, IBAN GB82 WEST 1234 5698 7654 32.",
    "Opening hours\nWe open at 10:30 on Sunday. No personal data here at all.",
    "Team\nJohn Smith and Jane Doe answer WhatsApp messages; Jane's number is 07700 900456.",
]
KNOWN = (KnownValue("PERSON", "Tom Baker"), KnownValue("PHONE_NUMBER", "07700 900456"))


@pytest.fixture
def detector(analyzer) -> Detector:  # type: ignore[no-untyped-def]
    return Detector(analyzer)


@pytest.mark.parametrize("batch_size", [1, 3, 32])
@pytest.mark.parametrize("document", [False, True])
def test_detect_many_equals_detect_text_by_text(detector: Detector, batch_size: int, document: bool) -> None:
    expected = [detector.detect(text, KNOWN, document=document) for text in TEXTS]
    assert detector.detect_many(TEXTS, KNOWN, document=document, batch_size=batch_size) == expected
    found = {(d.entity_type, TEXTS[i][d.start : d.end]) for i, ds in enumerate(expected) for d in ds}
    # The comparison means something only if there was something to find.
    assert {("PHONE_NUMBER", "+44 7700 900123"), ("EMAIL_ADDRESS", "maria.lopez@example.com")} <= found
    assert ("PERSON", "Tom Baker") in found


def test_detect_many_applies_a_business_policy_like_detect(detector: Detector) -> None:
    entities, allow = ("PHONE_NUMBER", "EMAIL_ADDRESS"), ("Maria Lopez", "Tom Baker")
    expected = [detector.detect(text, KNOWN, document=True, entities=entities, allow=allow) for text in TEXTS]
    assert detector.detect_many(TEXTS, KNOWN, document=True, entities=entities, allow=allow) == expected
    assert {d.entity_type for ds in expected for d in ds} == {"PHONE_NUMBER", "EMAIL_ADDRESS"}


def test_detect_many_of_nothing_is_nothing(detector: Detector) -> None:
    assert detector.detect_many([]) == []
    assert detector.detect_many(["", " "], KNOWN) == [[], []]
