"""Webhook intake in process: the time and the SQL statements `WebhookIntake.accept` spends per message.

    python -m benchmarks.intake [--messages 2000] [--customers 200] [--json]

What the API does between a verified webhook and its acknowledgement, without HTTP, on SQLite and (when one
answers at --postgres-url) on a throwaway PostgreSQL database. Statements per message count every round trip
the driver makes (pool pings, BEGIN and COMMIT included): a figure the machine's other work does not move,
unlike the milliseconds. Customers write round robin, so all but the first message of each is a returning
customer's, as under load; the first messages (a new contact and conversation each) are reported apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

from benchmarks._setup import PHONE_NUMBER_ID, RoundTrips, demo_business, fresh_runtime, throwaway_postgres
from bot.channel.whatsapp import InboundMessage, WebhookBatch


def _measure(database_url: str | None, messages: int, customers: int) -> dict[str, object]:
    runtime = fresh_runtime(database_url=database_url)
    try:
        demo_business(runtime)
        trips = RoundTrips(runtime)
        intake = runtime.intake

        def measure(total: int, prefix: str) -> tuple[list[float], float]:
            trips.counts.clear()
            times = []
            for n in range(total):
                batch = _batch(n % customers, f"wamid.{prefix}-{uuid.uuid4().hex}")
                started = time.perf_counter()
                result = intake.accept(batch)
                times.append((time.perf_counter() - started) * 1000)
                assert len(result.stored) == 1
            return times, trips.counts[""] / total

        # Every customer's first message creates its contact and conversation.
        first, first_statements = measure(customers, "first")
        times, per_message = measure(messages, "load")
        return {
            "ms_p50": round(statistics.median(times), 3),
            "ms_mean": round(statistics.fmean(times), 3),
            "statements_per_message": round(per_message, 2),
            "first_message_ms_p50": round(statistics.median(first), 3),
            "first_message_statements": round(first_statements, 2),
        }
    finally:
        runtime.close()


def _batch(customer: int, wa_message_id: str) -> WebhookBatch:
    return WebhookBatch(
        messages=[
            InboundMessage(
                PHONE_NUMBER_ID,
                wa_message_id,
                f"4470{customer:08d}",
                f"Customer {customer}",
                "text",
                "When are you open on Sunday?",
            )
        ]
    )


def _postgres(url: str, messages: int, customers: int) -> dict[str, object]:
    with throwaway_postgres(url, "wepos_intake") as database_url:
        if database_url is None:
            return {"skipped": "no PostgreSQL at --postgres-url"}
        return _measure(database_url, messages, customers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {
        "sqlite": _measure(None, args.messages, args.customers),
        "postgresql": _postgres(args.postgres_url, args.messages, args.customers),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
