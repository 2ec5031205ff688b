"""Per-sender rate limit end to end: a real server, the worker thread and the Graph stand-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.channel.rate_limit import SLOW_DOWN_REPLY, SenderRateLimit
from bot.models import Direction, InboundStatus
from tests.helpers import post, stored_messages, text_payload, wait_until
from tests.security.conftest import Wepos

pytestmark = [pytest.mark.security, pytest.mark.e2e]

FLOODER = "447700900555"
NEIGHBOUR = "447700900666"


def test_a_flooding_sender_gets_one_notice_and_every_message_answered_in_order(wepos: Wepos) -> None:
    window = 3.0
    # The setting is per minute; a short window keeps the test quick and is the same code path.
    wepos.runtime.worker.rate_limit = SenderRateLimit(3, timedelta(seconds=window))
    questions = [
        "When are you open on Sunday?",
        "Do you deliver?",
        "Can I get a refund?",
        "Which breads have nuts?",
        "Do you bake gluten-free bread?",
        "How do I order a cake?",
    ]
    for question in questions:
        assert post(wepos.url, text_payload(question, sender=FLOODER, name="Flo")).status_code == 200
    assert post(wepos.url, text_payload("When are you open on Sunday?", sender=NEIGHBOUR)).status_code == 200

    # Three answers, one notice, then the other three answers once the window allows: seven, none lost.
    assert wepos.graph.wait_for_count(FLOODER, 7, timeout=60)
    assert not wepos.graph.wait_for_count(FLOODER, 8, timeout=window + 1)
    sent = [wepos.graph.body(r) for r in wepos.graph.sends if r["json"]["to"] == FLOODER]
    assert sent.count(SLOW_DOWN_REPLY) == 1
    assert sent.index(SLOW_DOWN_REPLY) == 3
    assert wepos.graph.first_to(FLOODER, 4) - wepos.graph.first_to(FLOODER, 0) >= window * 0.6
    # Another customer is not held up by the flood.
    assert wepos.graph.count_to(NEIGHBOUR) == 1
    assert wepos.graph.first_to(NEIGHBOUR, 0) < wepos.graph.first_to(FLOODER, 4)

    inbound = [m for m in stored_messages(wepos.runtime) if m.direction == Direction.INBOUND]
    assert len(inbound) == 7
    assert wait_until(
        lambda: all(
            m.status == InboundStatus.ANSWERED
            for m in stored_messages(wepos.runtime)
            if m.direction == Direction.INBOUND
        )
    )


def test_the_default_limit_comes_from_the_setting(wepos: Wepos) -> None:
    assert wepos.runtime.settings.sender_rate_per_minute == 20
    assert wepos.runtime.worker.rate_limit.per_window == 20
    assert wepos.runtime.worker.rate_limit.window == timedelta(minutes=1)
