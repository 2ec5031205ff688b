"""Prometheus metrics of this process: counts and timings only, never labels with personal data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

WEBHOOK_ACK_SECONDS = Histogram(
    "wepos_webhook_ack_seconds", "Webhook receipt to acknowledgement", buckets=_LATENCY_BUCKETS
)
REPLY_SECONDS = Histogram(
    "wepos_reply_seconds",
    "Inbound message stored to its reply accepted by the Graph API",
    buckets=_LATENCY_BUCKETS,
)
TURN_SECONDS = Histogram(
    "wepos_turn_seconds", "One conversation turn (mask, retrieve, answer)", buckets=_LATENCY_BUCKETS
)
MASKING_SECONDS = Histogram(
    "wepos_masking_seconds", "Detecting and masking one text", buckets=_LATENCY_BUCKETS
)
LLM_SECONDS = Histogram("wepos_llm_seconds", "One language-model call", buckets=_LATENCY_BUCKETS)
SENDS = Counter("wepos_sends_total", "Outbound deliveries by result", ["status"])
HANDOFFS = Counter("wepos_handoffs_total", "Conversations handed to a person, by reason", ["reason"])
QUEUE_DEPTH = Gauge("wepos_queue_depth", "Rows waiting in the database work queues", ["queue"])
CHILD_RESTARTS = Counter(
    "wepos_child_restarts_total", "Processes `wepos serve` started again after they died", ["kind"]
)
SEND_FAILURES = Counter(
    "wepos_send_failures_total", "Replies that failed for good, by Graph API error code", ["cause"]
)
TURN_FAILURES = Counter("wepos_turn_failures_total", "Turn attempts that raised, by error type", ["error"])
