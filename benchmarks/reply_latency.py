"""Reply latency: webhook receipt -> Graph API request, N sequential customer messages, extractive responder.

    python -m benchmarks.reply_latency [--messages 200] [--json]

Real server (uvicorn on loopback), real Presidio, MiniLM, Chroma and SQLite; a loopback Graph API stand-in.
The clock starts when the signed webhook is posted and stops when the stand-in receives the send.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid

import httpx

from api.loopback import running_server
from benchmarks._setup import APP_SECRET, EXAMPLES, PHONE_NUMBER_ID, demo_business, fresh_runtime, summary
from bot.stand_in import GraphStandIn
from bot.whatsapp import SIGNATURE_HEADER, sign, text_webhook

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
    "What is the capital of Mongolia?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    graph = GraphStandIn()
    runtime = fresh_runtime(graph.base_url)
    business_id = demo_business(runtime)
    runtime.pipeline.ingest_paths(business_id, sorted(EXAMPLES.iterdir()))
    rng = random.Random(7)
    latencies, acks = [], []
    with running_server(runtime) as url, httpx.Client(base_url=url, timeout=30) as client:
        for i in range(args.messages):
            body = json.dumps(
                text_webhook(
                    phone_number_id=PHONE_NUMBER_ID,
                    sender=f"44770090{i % 20:04d}",
                    name=f"Customer {i % 20}",
                    wa_message_id=f"wamid.bench-{uuid.uuid4().hex}",
                    text=rng.choice(QUESTIONS),
                )
            ).encode()
            before = len(graph.sends)
            started = time.perf_counter()
            response = client.post(
                "/webhooks/whatsapp",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(APP_SECRET.encode(), body),
                },
            )
            acks.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            deadline = time.monotonic() + 30
            while len(graph.sends) <= before and time.monotonic() < deadline:
                time.sleep(0.001)
            sends = graph.sends
            if len(sends) <= before:
                raise SystemExit(f"no reply to message {i} within 30 s")
            latencies.append((sends[before]["at"] - started) * 1000)
    graph.close()
    result = {
        "messages": args.messages,
        "reply_latency_ms": summary(latencies),
        "webhook_ack_ms": summary(acks),
    }
    if args.json:
        print(json.dumps(result))
    else:
        r, a = result["reply_latency_ms"], result["webhook_ack_ms"]
        print(f"{args.messages} sequential messages, extractive responder, SQLite + embedded Chroma")
        print(
            f"reply latency (webhook -> Graph API): p50 {r['p50']} ms, p95 {r['p95']} ms, max {r['max']} ms"
        )
        print(
            f"webhook ack:                          p50 {a['p50']} ms, p95 {a['p95']} ms, max {a['max']} ms"
        )


if __name__ == "__main__":
    main()
