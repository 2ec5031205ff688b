"""The personal-data benchmark's halves and sets: dev and test never share a text, and every set loads."""

from __future__ import annotations

import pytest

from benchmarks.pii import (
    COMMITTED_DATA,
    DOCUMENT_SETS,
    PRESIDIO_SETS,
    SETS,
    load_set,
    masked_text,
    set_path,
    split_of,
)

COMMITTED_SETS = tuple(name for name in (*SETS, *DOCUMENT_SETS) if name not in PRESIDIO_SETS)
KNOWN_TYPES = {
    "PERSON", "PHONE", "EMAIL", "CREDIT_CARD", "IBAN", "ADDRESS", "IP", "ID_NUMBER", "USERNAME",
    "DATE_OF_BIRTH", "LOCATION", "DATE_TIME", "ORGANIZATION",
}  # fmt: skip


def _present(name: str) -> str:
    if not set_path(name).exists():
        pytest.skip(f"{set_path(name)} is absent (Presidio's sets live outside the repository)")
    return name


def test_split_is_a_fixed_function_of_the_id() -> None:
    ids = ["a", "b", "presidio_synth_dataset_v2-0", "anonipy-test-0", "syncthing-users-syncing"]
    assert [split_of(i) for i in ids] == [split_of(i) for i in ids]
    assert [split_of(i) for i in ids] == ["dev", "dev", "test", "dev", "dev"]


@pytest.mark.parametrize("name", (*SETS, *DOCUMENT_SETS))
def test_halves_are_disjoint_and_cover_every_text(name: str) -> None:
    every = [record.id for record in load_set(_present(name))]
    dev = {record.id for record in load_set(name, split="dev")}
    test = {record.id for record in load_set(name, split="test")}
    assert len(set(every)) == len(every)  # ids are unique, so a hash of the id splits texts
    assert dev.isdisjoint(test)
    assert dev | test == set(every)
    assert dev and test
    if len(every) >= 100:
        assert 0.4 < len(dev) / len(every) < 0.6


@pytest.mark.parametrize("name", COMMITTED_SETS)
def test_committed_set_loads_with_valid_spans(name: str) -> None:
    assert set_path(name).parent == COMMITTED_DATA  # committed, so never skipped
    records = load_set(name)
    assert records
    for record in records:
        assert record.text.strip() and record.lang in {"en", "de", "fr", "it", "nl"}
        for gold in record.gold:
            assert 0 <= gold.start < gold.end <= len(record.text)
            assert gold.kind in KNOWN_TYPES
            assert record.text[gold.start : gold.end].strip() == record.text[gold.start : gold.end]


@pytest.mark.parametrize("name", DOCUMENT_SETS)
def test_documents_carry_no_labelled_values(name: str) -> None:
    assert all(not record.gold for record in load_set(name))


@pytest.mark.parametrize("name", PRESIDIO_SETS)
def test_shared_presidio_set_loads_in_the_common_scheme(name: str) -> None:
    records = load_set(_present(name), limit=50)
    assert len(records) == 50
    assert {gold.kind for record in records for gold in record.gold} <= KNOWN_TYPES | {
        "US_SSN", "TITLE", "NRP", "AGE", "DOMAIN_NAME", "US_DRIVER_LICENSE",
    }  # fmt: skip


def test_limit_counts_within_the_half() -> None:
    records = load_set("anonipy_en", limit=5, split="test")
    assert len(records) == 5
    assert {split_of(record.id) for record in records} == {"test"}


def test_masked_text_replaces_each_span_once() -> None:
    assert masked_text("call Ann on 0123", [(12, 16), (5, 8)]) == "call <MASKED> on <MASKED>"
    assert masked_text("abc", []) == "abc"


def test_the_vanilla_column_is_presidios_results_as_they_come() -> None:
    """No Wepos filter between Presidio and the vanilla figures: a German pronoun spaCy calls a person, which
    Wepos's span filter drops, stays; overlapping spans merge into one mask."""
    from presidio_analyzer import RecognizerResult

    from benchmarks.pii import VanillaDetector

    class Analyzer:
        def analyze(self, text: str, language: str) -> list[RecognizerResult]:
            meta = {"recognizer_name": "SpacyRecognizer"}
            return [
                RecognizerResult("PERSON", 0, 3, 0.85, recognition_metadata=meta),
                RecognizerResult("PHONE_NUMBER", 19, 29, 0.4, recognition_metadata=meta),
                RecognizerResult("UK_NHS", 19, 29, 0.5, recognition_metadata=meta),
            ]

    text = "Sie erreichen mich 0123456789"
    found = VanillaDetector(Analyzer()).detect(text)  # type: ignore[arg-type]
    assert [(d.entity_type, d.start, d.end) for d in found] == [("PERSON", 0, 3), ("UK_NHS", 19, 29)]
