"""The two embedding backends: the same packaged MiniLM on torch and as an int8 ONNX export."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from retrieval.embeddings import DIMENSIONS, ONNX_MODEL_NAME, MiniLMEmbeddings, build_embeddings
from tests.conftest import make_settings

TEXTS = [
    "Crumb & Co. Bakery\nQ: Do you deliver on Sundays?\nA: Yes, between 9am and 1pm within 5 km of the shop.",
    "Q: Can I pay by card?\nA: We take Visa, Mastercard, Apple Pay and cash. Call <PHONE_NUMBER_1> for orders.",
    "Opening hours",
    "How do I delete my Facebook account? Go to the help page, click Submit and follow the instructions. "
    * 12,  # longer than the model's 256 tokens: truncated the same way by both backends
]


def test_onnx_vectors_are_normalised_384_dims_and_close_to_torch(
    embeddings: MiniLMEmbeddings, onnx_embeddings: MiniLMEmbeddings
) -> None:
    onnx = np.asarray(onnx_embeddings.uncached().embed_documents(TEXTS))
    torch = np.asarray(embeddings.uncached().embed_documents(TEXTS))

    assert onnx.shape == (len(TEXTS), DIMENSIONS)
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)
    assert (onnx * torch).sum(axis=1).min() > 0.98


def test_onnx_query_ranks_like_torch(embeddings: MiniLMEmbeddings, onnx_embeddings: MiniLMEmbeddings) -> None:
    query = "is there delivery at the weekend?"
    rankings = []
    for model in (embeddings, onnx_embeddings):
        docs = np.asarray(model.uncached().embed_documents(TEXTS))
        rankings.append(list(np.argsort(-(docs @ np.asarray(model.embed_query(query))))))

    assert rankings[0][0] == rankings[1][0] == 0


def test_a_vector_is_the_same_alone_in_a_batch_or_from_the_cache(
    onnx_embeddings: MiniLMEmbeddings,
) -> None:
    cached = MiniLMEmbeddings(onnx_embeddings._encoder, cache_size=2)
    first = cached.embed_documents(TEXTS[:3])
    again = cached.embed_documents(list(reversed(TEXTS[:3])))

    assert len(cached._cache) == 2  # the LRU bound holds
    np.testing.assert_allclose(np.asarray(again), np.asarray(list(reversed(first))), atol=1e-6)
    np.testing.assert_allclose(cached.embed_query(TEXTS[2]), first[2], atol=1e-6)


def test_onnx_backend_setting_loads_the_export_from_the_models_dir(
    tmp_path: Path, sqlite_url: str, onnx_model_file: Path
) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url, embeddings_backend="onnx", model_cache_dir=None)
    assert settings.models_dir == tmp_path / "var" / "models"  # the default: beside the data
    settings.models_dir.mkdir(parents=True)
    shutil.copy(onnx_model_file, settings.models_dir / ONNX_MODEL_NAME)

    model = build_embeddings(settings)

    assert len(model.embed_query("opening hours")) == DIMENSIONS


def test_a_broken_onnx_file_stops_start_up_with_what_to_do(tmp_path: Path) -> None:
    broken = tmp_path / ONNX_MODEL_NAME
    broken.write_bytes(b"not a model")

    with pytest.raises(ConfigError, match="delete it to export it again"):
        MiniLMEmbeddings.load_onnx(broken)
