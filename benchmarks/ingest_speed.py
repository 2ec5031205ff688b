"""Ingest speed: chunks per second through load -> split -> mask (Presidio) -> embed (MiniLM) -> index (Chroma).

    python -m benchmarks.ingest_speed [--repeats 3] [--json]

Engines are loaded before the clock starts (they are loaded once per process in Wepos). The demo knowledge
base is ingested into a fresh data dir each repeat; with ../shared present, stackfaq's 719 passages too.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._setup import EXAMPLES, SHARED, demo_business, fresh_runtime
from privacy.detect import build_analyzer
from retrieval.embeddings import MiniLMEmbeddings


def _rate(analyzer: object, embeddings: object, paths: list[Path]) -> tuple[int, float]:
    runtime = fresh_runtime(analyzer=analyzer, embeddings=embeddings)
    business_id = demo_business(runtime, access_token=None)
    _ = runtime.pipeline
    started = time.perf_counter()
    outcomes = runtime.pipeline.ingest_paths(business_id, paths)
    elapsed = time.perf_counter() - started
    runtime.close()
    chunks = sum(o.chunks for o in outcomes)
    return chunks, chunks / elapsed


def _stackfaq_csv() -> Path | None:
    corpus = SHARED / "eval" / "retrieval" / "stackfaq" / "corpus.jsonl"
    if not corpus.exists():
        return None
    path = Path(tempfile.mkdtemp()) / "stackfaq.csv"
    with corpus.open() as source, path.open("w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["question", "answer"])
        for line in source:
            row = json.loads(line)
            writer.writerow([row.get("title") or row["_id"], row["text"]])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    analyzer, embeddings = build_analyzer(), MiniLMEmbeddings.load()
    demo = sorted(EXAMPLES.iterdir())
    runs = [_rate(analyzer, embeddings, demo) for _ in range(args.repeats)]
    result: dict[str, object] = {
        "demo_chunks": runs[0][0],
        "demo_chunks_per_s": round(statistics.median(rate for _c, rate in runs), 1),
    }
    stackfaq = _stackfaq_csv()
    if stackfaq is not None:
        chunks, rate = _rate(analyzer, embeddings, [stackfaq])
        result.update({"stackfaq_chunks": chunks, "stackfaq_chunks_per_s": round(rate, 1)})
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
