"""Round trips to the database an answered message costs, by step, on PostgreSQL (and SQLite).

    python -m benchmarks.statements [--messages 40] [--customers 10] [--json]

In process, against a loopback Graph API stand-in: the intake (what the webhook's acknowledgement waits
on), the worker's claim, the turn, and the reply's send (claim, read, outcome), as a worker with send lanes
does them. Every round trip the driver makes is counted (statements, pool pings, and BEGIN and COMMIT where
a transaction is open): a figure the machine's other work does not move, unlike the milliseconds, and what
each step's CPU in the worker and in PostgreSQL grows with. Customers write round robin; each one's first
message (a new contact and conversation) is left out.
"""

from __future__ import annotations

import argparse
import json
import uuid

from benchmarks._setup import (
    EXAMPLES,
    PHONE_NUMBER_ID,
    RoundTrips,
    demo_business,
    fresh_runtime,
    throwaway_postgres,
)
from benchmarks.load import QUESTIONS
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from testing.graph_api import GraphStandIn


def _count(database_url: str | None, messages: int, customers: int) -> dict[str, float]:
    graph = GraphStandIn()
    runtime = fresh_runtime(graph.base_url, database_url=database_url)
    try:
        business_id = demo_business(runtime)
        runtime.pipeline.ingest_paths(business_id, sorted(EXAMPLES.iterdir()))
        trips = RoundTrips(runtime)
        counts = trips.counts
        worker, outbox = runtime.worker, runtime.outbox
        for n in range(customers + messages):
            if n == customers:
                counts.clear()  # first messages: not what is measured
            inbound = InboundMessage(
                PHONE_NUMBER_ID,
                f"wamid.{uuid.uuid4().hex}",
                f"4479{n % customers:08d}",
                f"Customer {n % customers}",
                "text",
                QUESTIONS[n % len(QUESTIONS)],
            )
            trips.step = "intake"
            runtime.intake.accept(WebhookBatch(messages=[inbound]))
            trips.step = "claim"
            (claim,) = worker._claim_batch()
            trips.step = "turn"
            outcome = runtime.assistant.handle(claim.message_id)
            assert outcome is not None and outcome.replies
            trips.step = "send"
            for reply_id in outcome.replies:
                outbox.deliver(reply_id)
        per_step = {name: round(counts[name] / messages, 2) for name in ("intake", "claim", "turn", "send")}
        return {**per_step, "total": round(sum(per_step.values()), 2)}
    finally:
        runtime.close()
        graph.close()


def _postgres(url: str, messages: int, customers: int) -> dict[str, object]:
    with throwaway_postgres(url, "wepos_statements") as database_url:
        if database_url is None:
            return {"skipped": "no PostgreSQL at --postgres-url"}
        return dict(_count(database_url, messages, customers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {
        "postgresql": _postgres(args.postgres_url, args.messages, args.customers),
        "sqlite": _count(None, args.messages, args.customers),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
