"""Ingest speed: chunks per second through load -> split -> mask -> embed -> index, and where the time goes.

    python -m benchmarks.ingest [--json] [--limit N] [--backends torch,onnx] [--before]

Data: stackfaq's passages (../shared/eval/retrieval/stackfaq/corpus.jsonl) written as one FAQ sheet, a
question and an answer a row (title, passage): how a business uploads its FAQ. The CSV loader makes each row
one chunk. Per embedding backend, in the same run, on a fresh data dir:
- end_to_end: chunks/s of `IngestPipeline.ingest_paths` (the product path, embeddings uncached), with the
  share of its time in load+split, mask, embed, index and the rest (database rows, redaction records).
  The stages are timed by proxies around the masker, embeddings and index handed to the pipeline;
  load+split is timed on the same bytes outside it. The pipeline embeds a batch on a second thread while it
  masks the next, so the shares can add up to more than 1.
- with --before, also "<backend>_before": the same ingest masking chunk by chunk and then embedding, on one
  thread, as the pipeline did before batching (same outputs), for a before/after pair from one run.
- encode: the raw rate of the same model on the same masked chunk texts, uncached.
- query_ms: p50 of embedding one short question.
Once per run, on the sheet's chunks: masking chunk by chunk (`Masker.mask`) and in spaCy batches
(`Masker.mask_many`, as the pipeline calls it), the detector both ways, Presidio's analyzer alone and spaCy's
nlp.pipe alone. Engines load before any clock starts. Numbers on a shared machine are noisy: compare figures
of one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._setup import SHARED, demo_business, fresh_runtime
from core.db import session_scope
from ingest.chunking import split_document
from ingest.loaders import load_document
from privacy.detect import Detector, build_analyzer
from privacy.masker import MaskResult
from privacy.policy import MaskingPolicy
from privacy.vault import VaultScope
from retrieval.embeddings import ONNX_MODEL_NAME, MiniLMEmbeddings

CORPUS = SHARED / "eval" / "retrieval" / "stackfaq" / "corpus.jsonl"
BACKENDS = ("torch", "onnx")


class Stopwatch:
    """Seconds spent inside the wrapped methods of one object; everything else passes through."""

    def __init__(self, target: Any, methods: tuple[str, ...], seconds: dict[str, float], stage: str) -> None:
        self._target, self._methods, self._seconds, self._stage = target, methods, seconds, stage

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name not in self._methods:
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._seconds[self._stage] = (
                    self._seconds.get(self._stage, 0.0) + time.perf_counter() - started
                )

        return timed


def faq_sheet(limit: int | None) -> Path:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()][:limit]
    path = Path(tempfile.mkdtemp(prefix="wepos-bench-")) / "stackfaq.csv"
    with path.open("w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["question", "answer"])
        for row in rows:
            writer.writerow([row.get("title") or row["_id"], row["text"]])
    return path


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds else 0.0


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def one_at_a_time(pipeline: Any) -> Callable[..., tuple[list[MaskResult], list[list[float]]]]:
    """The pipeline's mask-and-embed step as it was before batching: `Masker.mask` chunk by chunk, then one
    `embed_documents` of them all, on one thread. Same outputs; for the before/after figure of one run."""

    def mask_then_embed(
        session: Any, texts: list[str], scope: VaultScope, policy: MaskingPolicy
    ) -> tuple[list[MaskResult], list[list[float]]]:
        masks = [pipeline._masker.mask(session, t, scope, remember=False, policy=policy) for t in texts]
        return masks, pipeline._embeddings.embed_documents([m.text for m in masks])

    return mask_then_embed


def end_to_end(
    analyzer: Any, embeddings: MiniLMEmbeddings, sheet: Path, *, sequential: bool = False
) -> dict[str, Any]:
    """One ingest of the sheet, staged; then the raw encode rate on the texts the pipeline embedded.
    With `sequential`, the pipeline masks and embeds as before batching (`one_at_a_time`)."""
    runtime = fresh_runtime(analyzer=analyzer, embeddings=embeddings.uncached())
    try:
        business_id = demo_business(runtime, access_token=None)
        seconds: dict[str, float] = {}
        embedded: list[str] = []
        pipeline = runtime.pipeline
        if sequential:
            pipeline._mask_and_embed = one_at_a_time(pipeline)  # type: ignore[method-assign]
        pipeline._masker = Stopwatch(runtime.masker, ("mask", "mask_many"), seconds, "mask")  # type: ignore[assignment]
        pipeline._embeddings = Stopwatch(runtime.embeddings, ("embed_documents",), seconds, "embed")  # type: ignore[assignment]
        pipeline._index = Stopwatch(runtime.index, ("add", "delete"), seconds, "index")  # type: ignore[assignment]
        original_embed = runtime.embeddings.embed_documents

        def remember(texts: list[str]) -> list[list[float]]:
            embedded.extend(texts)
            return original_embed(texts)

        runtime.embeddings.embed_documents = remember  # type: ignore[method-assign]
        total = _timed(lambda: pipeline.ingest_paths(business_id, [sheet]))
        data = sheet.read_bytes()
        settings = runtime.settings
        seconds["load_split"] = _timed(
            lambda: split_document(
                load_document(sheet.name, data),
                chunk_size=settings.chunk_size,
                chunk_overlap=settings.chunk_overlap,
            )
        )
        # Embedding overlaps masking on a second thread: stage seconds can add up to more than the total.
        seconds["other"] = max(0.0, total - sum(seconds.values()))
        chunks = len(embedded)
        raw = embeddings.uncached()
        encode = _timed(lambda: raw.embed_documents(embedded))
        queries = []
        for i in range(50):
            question = f"how do I change the e-mail address of my account {i}?"
            queries.append(_timed(lambda q=question: raw.embed_query(q)) * 1000)  # type: ignore[misc]
        return {
            "chunks": chunks,
            "end_to_end_chunks_per_s": _rate(chunks, total),
            "seconds": round(total, 1),
            "share": {
                stage: round(seconds[stage] / total, 3)
                for stage in ("load_split", "mask", "embed", "index", "other")
            },
            "encode_chunks_per_s": _rate(chunks, encode),
            "query_ms_p50": round(statistics.median(queries), 2),
        }
    finally:
        runtime.close()


def masking(analyzer: Any, sheet: Path) -> dict[str, float]:
    """The masking stage alone, as the pipeline calls it, and its detector with and without nlp.pipe."""
    runtime = fresh_runtime(analyzer=analyzer)
    try:
        business_id = demo_business(runtime, access_token=None)
        texts = [
            c.text
            for c in split_document(
                load_document(sheet.name, sheet.read_bytes()),
                chunk_size=runtime.settings.chunk_size,
                chunk_overlap=runtime.settings.chunk_overlap,
            )
        ]
        masker, scope = runtime.masker, VaultScope.knowledge(business_id)
        detector: Detector = masker.detector
        entities = list(detector.entities)
        with session_scope(runtime.engine) as session:
            mask = _timed(lambda: [masker.mask(session, t, scope, remember=False) for t in texts])
        detect = _timed(lambda: [detector.detect(t, document=True) for t in texts])

        with session_scope(runtime.engine) as session:
            mask_many = _timed(lambda: masker.mask_many(texts, masker.vault.planner(session, scope)))
        detect_many = _timed(lambda: detector.detect_many(texts, document=True))

        def analyze_only() -> None:
            for text in texts:
                analyzer.analyze(text=text, language="en", entities=entities, score_threshold=0.4)

        def nlp_only() -> None:
            list(analyzer.nlp_engine.nlp["en"].pipe(texts, batch_size=32))

        return {
            "mask_chunks_per_s": _rate(len(texts), mask),
            "mask_many_chunks_per_s": _rate(len(texts), mask_many),
            "detect_chunks_per_s": _rate(len(texts), detect),
            "detect_many_chunks_per_s": _rate(len(texts), detect_many),
            "analyze_chunks_per_s": _rate(len(texts), _timed(analyze_only)),
            "spacy_pipe_chunks_per_s": _rate(len(texts), _timed(nlp_only)),
        }
    finally:
        runtime.close()


def load_backend(name: str, models_dir: Path) -> MiniLMEmbeddings:
    match name:
        case "torch":
            return MiniLMEmbeddings.load()
        case "onnx":
            return MiniLMEmbeddings.load_onnx(models_dir / ONNX_MODEL_NAME)
        case _:
            raise SystemExit(f"unknown backend {name!r}: choose from {', '.join(BACKENDS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--limit", type=int, default=None, help="only the first N passages")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: torch, onnx")
    parser.add_argument(
        "--before",
        action="store_true",
        help="also ingest masking chunk by chunk, then embedding, on one thread (the path before batching)",
    )
    args = parser.parse_args()
    if not CORPUS.exists():
        raise SystemExit(f"no corpus at {CORPUS}")
    sheet = faq_sheet(args.limit)
    models_dir = Path(tempfile.mkdtemp(prefix="wepos-bench-models-"))
    print("loading engines", file=sys.stderr, flush=True)
    analyzer = build_analyzer()
    backends = {
        name: load_backend(name.strip(), models_dir) for name in args.backends.split(",") if name.strip()
    }
    warm = "Q: warm-up\nA: Call +44 7700 900123 or mail ann@example.com."
    analyzer.analyze(text=warm, language="en")
    for embeddings in backends.values():
        embeddings.uncached().embed_documents([warm])
    result: dict[str, Any] = {"corpus": "stackfaq as one FAQ CSV", "masking": masking(analyzer, sheet)}
    for name, embeddings in backends.items():
        print(f"ingesting with {name}", file=sys.stderr, flush=True)
        result[name] = end_to_end(analyzer, embeddings, sheet)
        if args.before:
            print(f"ingesting with {name}, one chunk at a time", file=sys.stderr, flush=True)
            result[f"{name}_before"] = end_to_end(analyzer, embeddings, sheet, sequential=True)
    if args.json:
        print(json.dumps(result))
        return
    print(f"corpus: {result['corpus']}")
    for key, value in result["masking"].items():
        print(f"masking  {key}: {value}")
    for name in [key for key in result if key.removesuffix("_before") in backends]:
        figures = result[name]
        share = "  ".join(f"{stage} {value:.0%}" for stage, value in figures["share"].items())
        print(
            f"{name:6} {figures['chunks']} chunks: end to end {figures['end_to_end_chunks_per_s']}/s "
            f"({figures['seconds']} s; {share}); encode alone {figures['encode_chunks_per_s']}/s; "
            f"query p50 {figures['query_ms_p50']} ms"
        )


if __name__ == "__main__":
    main()
