"""One turn in process (mask -> retrieve -> answer -> queue), with and without the embedding cache, in one run.

    python -m benchmarks.turn [--turns 100] [--json]

No HTTP: intake, `Assistant.handle` and the outbox against a loopback Graph API stand-in.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid

from benchmarks._setup import EXAMPLES, PHONE_NUMBER_ID, demo_business, fresh_runtime
from benchmarks.conversation import QUESTIONS
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from privacy.detect import build_analyzer
from retrieval.embeddings import MiniLMEmbeddings
from testing.graph_api import GraphStandIn


def _median_turn_ms(embeddings: MiniLMEmbeddings, analyzer: object, turns: int) -> float:
    graph = GraphStandIn()
    runtime = fresh_runtime(graph.base_url, analyzer=analyzer, embeddings=embeddings)
    business_id = demo_business(runtime)
    runtime.pipeline.ingest_paths(business_id, sorted(EXAMPLES.iterdir()))
    rng = random.Random(5)
    timings = []
    for i in range(turns + 10):
        message = InboundMessage(
            PHONE_NUMBER_ID,
            f"wamid.{uuid.uuid4().hex}",
            f"4479{i:08d}",
            f"Customer {i}",
            "text",
            rng.choice(QUESTIONS),
        )
        started = time.perf_counter()
        (message_id,) = runtime.intake.accept(WebhookBatch(messages=[message])).stored
        runtime.assistant.handle(message_id)
        runtime.outbox.deliver_due()
        if i >= 10:  # warm-up turns fill the caches a long-running server has
            timings.append((time.perf_counter() - started) * 1000)
    runtime.close()
    graph.close()
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    analyzer = build_analyzer()
    model = MiniLMEmbeddings.load()
    uncached = model.uncached()
    without = _median_turn_ms(uncached, analyzer, args.turns)
    with_cache = _median_turn_ms(model, analyzer, args.turns)
    result = {
        "turns": args.turns,
        "turn_ms_without_cache": round(without, 1),
        "turn_ms_with_cache": round(with_cache, 1),
        "speed_up": round(without / with_cache, 2),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
