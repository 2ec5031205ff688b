"""Retrieval quality on FAQ-style sets: dense MiniLM, BM25 alone, and Wepos's own hybrid search.

    python -m benchmarks.retrieval [--json] [--limit N] [--sets covidfaq,stackfaq] [--ablation]

Data: ../shared/eval/retrieval (BEIR format; see its README.md). Per set: nDCG@10, recall@5 and MRR@10
(binary relevance), averaged over the queries.
- "dense": MiniLM cosine over the raw passages ("title\\ntext"), no masking, exact (numpy) search.
- "bm25": `retrieval.lexical.BM25Index` alone over the same raw passages.
- "wepos": the product path. Each passage is a Markdown file ("# title" + text) ingested by `IngestPipeline`
  into a throwaway data dir (masked, chunked, embedded, indexed in Chroma), and each query is answered by
  the `Retriever` the bot uses, k=10, after the same masking the bot applies to a customer's message;
  chunk hits map back to passage ids through their document.
- with --ablation, also "wepos_dense": the same knowledge base searched with the BM25 weight at 0, and
  "wepos_unfocused": with the question embedded only as asked, not also without its topic words
  (`retrieval.topics`; `FOCUS_SHARE` at 0).
Engines are loaded once; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks._setup import demo_business, fresh_runtime

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from presidio_analyzer import AnalyzerEngine

    from api.runtime import Runtime
    from retrieval.search import Retriever

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "retrieval"
SETS = ("covidfaq", "stackfaq")
K = 10


@dataclass(frozen=True)
class EvalSet:
    name: str
    corpus: list[dict[str, str]]  # {"_id", "title", "text"}
    queries: list[dict[str, str]]  # {"_id", "text"}
    relevant: dict[str, set[str]]  # query id -> relevant corpus ids


def load_set(name: str, limit: int | None = None) -> EvalSet:
    folder = DATA / name
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines() if line.strip()]
    queries = [
        json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines() if line.strip()
    ]
    relevant: dict[str, set[str]] = {}
    for line in (folder / "qrels.tsv").read_text().splitlines()[1:]:
        query_id, corpus_id, score = line.split("\t")
        if float(score) > 0:
            relevant.setdefault(query_id, set()).add(corpus_id)
    queries = [q for q in queries if q["_id"] in relevant][:limit]
    return EvalSet(name, corpus, queries, relevant)


def passage_text(doc: dict[str, str]) -> str:
    return f"{doc.get('title') or ''}\n{doc['text']}".strip()


def scores(ranked: Sequence[str], relevant: set[str]) -> tuple[float, float, float]:
    """(nDCG@10, recall@5, MRR@10) of one ranked list against binary relevance."""
    dcg = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), 10)))
    recall = len(set(ranked[:5]) & relevant) / len(relevant)
    mrr = next((1.0 / (rank + 1) for rank, doc in enumerate(ranked[:10]) if doc in relevant), 0.0)
    return dcg / ideal, recall, mrr


def evaluate(data: EvalSet, rank: Callable[[str], list[str]], label: str) -> dict[str, float]:
    totals = [0.0, 0.0, 0.0]
    started = time.perf_counter()
    for done, query in enumerate(data.queries, start=1):
        for i, value in enumerate(scores(rank(query["text"]), data.relevant[query["_id"]])):
            totals[i] += value
        if done % 250 == 0:
            _progress(f"{data.name}/{label}: {done}/{len(data.queries)} queries")
    n = len(data.queries)
    _progress(f"{data.name}/{label}: {n} queries in {time.perf_counter() - started:.1f} s")
    return {
        name: round(total / n, 4)
        for name, total in zip(("ndcg@10", "recall@5", "mrr@10"), totals, strict=True)
    }


def dense_ranker(data: EvalSet, embeddings: Embeddings) -> Callable[[str], list[str]]:
    import numpy as np

    ids = [doc["_id"] for doc in data.corpus]
    matrix = np.asarray(embeddings.embed_documents([passage_text(d) for d in data.corpus]), dtype=np.float32)

    def rank(query: str) -> list[str]:
        similarity = matrix @ np.asarray(embeddings.embed_query(query), dtype=np.float32)
        return [ids[i] for i in np.argsort(-similarity, kind="stable")[:K]]

    return rank


def bm25_ranker(data: EvalSet) -> Callable[[str], list[str]]:
    from retrieval.lexical import BM25Index

    ids = [doc["_id"] for doc in data.corpus]
    index = BM25Index([passage_text(d) for d in data.corpus])
    return lambda query: [ids[i] for i, _score in index.top(query, K)]


@dataclass(frozen=True)
class IngestedSet:
    """The passages as one business's knowledge base in a throwaway Wepos."""

    runtime: Runtime
    business_id: int
    corpus_id_of: dict[int, str]  # document id -> passage id

    def ranker(self, retriever: Retriever) -> Callable[[str], list[str]]:
        # The question is masked first, as the bot masks a customer's message before it searches: under the
        # business's policy and its knowledge base's vocabulary (`question_policy`).
        from bot.turn.assistant import question_policy
        from core.db import session_scope

        with session_scope(self.runtime.engine) as session:
            policy = question_policy(
                self.runtime.masker.policy_for(session, self.business_id),
                self.runtime.retriever,
                self.business_id,
            )
        return lambda query: [
            self.corpus_id_of[p.document_id]
            for p in retriever.search(
                self.business_id, self.runtime.masker.preview(query, policy=policy).text, k=K
            )
        ]


def ingest(data: EvalSet, analyzer: AnalyzerEngine, embeddings: Embeddings) -> IngestedSet:
    """Each passage becomes a Markdown document, through the product's `IngestPipeline`."""
    runtime = fresh_runtime(analyzer=analyzer, embeddings=embeddings)
    business_id = demo_business(runtime, access_token=None)
    started = time.perf_counter()
    corpus_id_of: dict[int, str] = {}
    for done, doc in enumerate(data.corpus, start=1):
        source = f"# {doc.get('title') or doc['_id']}\n\n{doc['text']}\n".encode()
        outcome = runtime.pipeline.ingest_bytes(business_id, f"{doc['_id']}.md", source)
        if outcome.document_id is None or outcome.error:
            raise SystemExit(f"{data.name}: {doc['_id']} was not ingested: {outcome.error}")
        corpus_id_of[outcome.document_id] = doc["_id"]
        if done % 100 == 0:
            _progress(f"{data.name}/wepos: ingested {done}/{len(data.corpus)}")
    elapsed = time.perf_counter() - started
    _progress(f"{data.name}/wepos: ingested {len(data.corpus)} passages in {elapsed:.1f} s")
    return IngestedSet(runtime, business_id, corpus_id_of)


def run(
    names: Sequence[str], limit: int | None, ablation: bool = False
) -> dict[str, dict[str, dict[str, float]]]:
    from privacy.detect import build_analyzer
    from retrieval.embeddings import MiniLMEmbeddings
    from retrieval.search import Retriever, search_query
    from retrieval.topics import content_words

    _progress("loading engines")
    # A cache big enough for every query, word and passage of a set: see the batch below.
    analyzer, embeddings = build_analyzer(), MiniLMEmbeddings.load(cache_size=100_000)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        data = load_set(name, limit)
        _progress(f"{name}: {len(data.corpus)} passages, {len(data.queries)} queries")
        # One batch fills the embedding cache: a query at a time costs minutes here and changes no ranking.
        # The words too, which the retriever embeds one question at a time to find the topic words.
        texts = [q["text"] for q in data.queries]
        searched = [search_query(t) for t in texts]
        words = [word for text in searched for word in content_words(text)]
        embeddings.embed_documents(list(dict.fromkeys(texts + searched + words)))
        results[name] = {
            "dense": evaluate(data, dense_ranker(data, embeddings), "dense"),
            "bm25": evaluate(data, bm25_ranker(data), "bm25"),
        }
        knowledge = ingest(data, analyzer, embeddings)
        try:
            results[name]["wepos"] = evaluate(data, knowledge.ranker(knowledge.runtime.retriever), "wepos")
            if ablation:
                # The same masked, chunked knowledge base searched by dense vectors alone (BM25 weight 0).
                dense_only = Retriever(embeddings, knowledge.runtime.index, lexical_weight=0.0)
                results[name]["wepos_dense"] = evaluate(data, knowledge.ranker(dense_only), "wepos_dense")
                unfocused = Retriever(embeddings, knowledge.runtime.index, focus_share=0.0)
                results[name]["wepos_unfocused"] = evaluate(
                    data, knowledge.ranker(unfocused), "wepos_unfocused"
                )
        finally:
            knowledge.runtime.close()
    return results


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--limit", type=int, default=None, help="only the first N queries of each set")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument(
        "--ablation",
        action="store_true",
        help='also "wepos_dense" and "wepos_unfocused": the product path without BM25, without focus',
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = [name for name in names if not (DATA / name / "corpus.jsonl").exists()]
    if unknown:
        raise SystemExit(f"no BEIR set named {', '.join(unknown)} under {DATA}")
    results = run(names, args.limit, args.ablation)
    if args.json:
        print(json.dumps(results))
        return
    for name, methods in results.items():
        for method, values in methods.items():
            cells = "  ".join(f"{metric} {value:.4f}" for metric, value in values.items())
            print(f"{name:9} {method:6} {cells}")


if __name__ == "__main__":
    main()
