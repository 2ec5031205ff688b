"""Conversation throughput and latency: webhook -> Graph API request, extractive responder.

    python -m benchmarks.conversation [--single 200] [--customers 50] [--messages 1000] [--json]

Phase 1: one customer at a time (the latency bar). Phase 2: N customers at once, each sending its next
message when the previous one is answered, M messages in all. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import uuid

import httpx

from benchmarks._setup import APP_SECRET, EXAMPLES, PHONE_NUMBER_ID, demo_business, fresh_runtime, summary
from bot.channel.whatsapp import signed_headers, text_webhook
from testing.graph_api import GraphStandIn
from testing.servers import running_server

QUESTIONS = [
    "When are you open on Sunday?",
    "Do you deliver on Mondays?",
    "How much notice do you need for a birthday cake?",
    "Is there gluten free bread?",
    "Can I bring my dog?",
    "Do you take Apple Pay?",
    "Hi, this is Maria Lopez (+44 7700 900123), do you sell vegan cakes?",
    "my email is sam.jones@example.com - can I get a refund on a cake deposit?",
    "Where is the Harbourside shop?",
    "Is there parking near the Harbourside shop?",
]
DEADLINE_S = 600


def _ask(client: httpx.Client, graph: GraphStandIn, sender: str, text: str) -> tuple[float, float]:
    """(reply latency, webhook acknowledgement latency) in ms for one message."""
    body = json.dumps(
        text_webhook(
            phone_number_id=PHONE_NUMBER_ID,
            sender=sender,
            name=f"Customer {sender[-4:]}",
            wa_message_id=f"wamid.bench-{uuid.uuid4().hex}",
            text=text,
        )
    ).encode()
    before = graph.count_to(sender)
    started = time.perf_counter()
    client.post(
        "/webhooks/whatsapp",
        content=body,
        headers=signed_headers(APP_SECRET.encode(), body),
    ).raise_for_status()
    acknowledged = time.perf_counter()
    if not graph.wait_for_count(sender, before + 1, timeout=60):
        raise SystemExit(f"no reply for {sender} within 60 s")
    return (graph.first_to(sender, before) - started) * 1000, (acknowledged - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    graph = GraphStandIn()
    runtime = fresh_runtime(graph.base_url)
    business_id = demo_business(runtime)
    runtime.pipeline.ingest_paths(business_id, sorted(EXAMPLES.iterdir()))
    rng = random.Random(11)
    result: dict[str, object] = {}
    with running_server(runtime) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            # Each message from a new customer: no conversation goes to a person and silences the bot.
            single = [_ask(client, graph, f"4477{i:08d}", rng.choice(QUESTIONS)) for i in range(args.single)]
        result["single_customer"] = {
            "messages": args.single,
            "reply_latency_ms": summary([reply for reply, _ack in single]),
            "webhook_ack_ms": summary([ack for _reply, ack in single]),
        }

        latencies: list[float] = []
        lock = threading.Lock()
        per_customer = max(1, args.messages // args.customers)
        stop_at = time.monotonic() + DEADLINE_S

        def customer(index: int) -> None:
            local = random.Random(index)
            with httpx.Client(base_url=url, timeout=60) as client:
                for turn in range(per_customer):
                    if time.monotonic() > stop_at:
                        return
                    # A new number every 5 turns keeps customers out of the human queue for long runs.
                    sender = f"4478{index:04d}{turn // 5:04d}"
                    value, _ack = _ask(client, graph, sender, local.choice(QUESTIONS))
                    with lock:
                        latencies.append(value)

        started = time.perf_counter()
        threads = [threading.Thread(target=customer, args=(i,)) for i in range(args.customers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        result["concurrent"] = {
            "customers": args.customers,
            "messages": len(latencies),
            "reply_latency_ms": summary(latencies),
            "messages_per_s": round(len(latencies) / elapsed, 1),
        }
    graph.close()
    if args.json:
        print(json.dumps(result))
        return
    s, c = result["single_customer"], result["concurrent"]
    print(
        f"single customer, {s['messages']} messages: reply latency {s['reply_latency_ms']}, "  # type: ignore[index]
        f"webhook ack {s['webhook_ack_ms']}"  # type: ignore[index]
    )
    print(
        f"{c['customers']} concurrent customers, {c['messages']} messages: reply latency "  # type: ignore[index]
        f"{c['reply_latency_ms']}, {c['messages_per_s']} messages/s"  # type: ignore[index]
    )


if __name__ == "__main__":
    main()
