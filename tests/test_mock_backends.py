"""The mock analyzer and embeddings (`WEPOS_ANALYZER_BACKEND=mock`, `WEPOS_EMBEDDINGS_BACKEND=mock`): what
they find and what they do not, and that production refuses them."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.fernet import Fernet

from core.errors import ConfigError
from core.settings import AnalyzerBackend, EmbeddingsBackend, load_settings
from privacy.detect import Detector
from retrieval.embeddings import build_embeddings
from tests.conftest import make_settings


def test_the_mock_analyzer_finds_patterns_and_stated_names_and_guesses_nothing(mock_analyzer) -> None:  # type: ignore[no-untyped-def]
    detector = Detector(mock_analyzer)
    text = "Hi, my name is Heather Larsen: heather@example.com, +44 7700 900123, card 4111 1111 1111 1111."
    found = {(d.entity_type, text[d.start : d.end]) for d in detector.detect(text)}
    assert found == {
        ("PERSON", "Heather Larsen"),
        ("EMAIL_ADDRESS", "heather@example.com"),
        ("PHONE_NUMBER", "+44 7700 900123"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
    }
    # No entity model and no name lexicon: a name nobody states stays, so a test on masking quality would
    # fail on the mock; that is what the real analyzer is for.
    assert detector.detect("Heather Larsen asked about Sunday opening") == []


def test_mock_embeddings_are_deterministic_unit_vectors_near_for_shared_words(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path / "var", "sqlite://", embeddings_backend="mock")
    first, second = build_embeddings(settings), build_embeddings(settings)
    texts = ["Sunday opening hours", "What are your opening hours on Sunday?", "Gluten-free bread"]
    vectors = np.array(first.embed_documents(texts))
    assert np.allclose(vectors, np.array(second.embed_documents(texts)))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    near, far = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert near > 0.6 and far < 0.3
    assert np.linalg.norm(first.embed_query("?!")) == pytest.approx(1.0)  # no word: still a unit vector


@pytest.mark.parametrize(
    "mock", [{"analyzer_backend": AnalyzerBackend.MOCK}, {"embeddings_backend": EmbeddingsBackend.MOCK}]
)
def test_production_refuses_the_mocks(mock: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEPOS_ENV", "production")
    monkeypatch.setenv("WEPOS_WHATSAPP_APP_SECRET", "q8Zr1mT4vX9kP2sLw7")
    monkeypatch.setenv("WEPOS_WHATSAPP_VERIFY_TOKEN", "Hn3cY6bQ0eR5uJ8aDz")
    monkeypatch.setenv("WEPOS_VAULT_KEY", Fernet.generate_key().decode())
    load_settings()  # the real backends: accepted
    for key, value in mock.items():
        monkeypatch.setenv(f"WEPOS_{key.upper()}", value)
    with pytest.raises(ConfigError, match="mock analyzer and embeddings are for tests"):
        load_settings()
