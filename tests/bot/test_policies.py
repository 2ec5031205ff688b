"""Table-driven tests of the conversation rules (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.turn.language import detect_language
from bot.turn.policies import (
    BUTTON_HANDOFF,
    BUTTON_HELPED,
    BusinessHours,
    Intent,
    classify,
    is_follow_up,
    mentions_topic,
    strongly_negative,
    within_service_window,
)
from core.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Can I talk to a person?", Intent.HANDOFF),
        ("i want to speak with a real human", Intent.HANDOFF),
        ("agent", Intent.HANDOFF),
        ("Human please!", Intent.HANDOFF),
        ("connect me to someone from the shop", Intent.HANDOFF),
        ("can I get an agent", Intent.HANDOFF),
        ("STOP", Intent.STOP),
        ("unsubscribe.", Intent.STOP),
        ("start", Intent.START),
        ("that didn't help", Intent.NOT_HELPED),
        ("No, that's not what I asked", Intent.NOT_HELPED),
        ("When do you open?", Intent.QUESTION),
        ("Please stop adding nuts to the brownies", Intent.QUESTION),
        ("Is the person who bakes the bread a human?", Intent.QUESTION),
    ],
)
def test_classify(text: str, intent: Intent) -> None:
    assert classify(text) is intent


def test_buttons_and_business_phrases() -> None:
    assert classify("Talk to a person", BUTTON_HANDOFF) is Intent.HANDOFF
    assert classify("That helped", BUTTON_HELPED) is Intent.HELPED
    assert classify("I need the complaints desk", extra_handoff_phrases=["complaints desk"]) is Intent.HANDOFF


@pytest.mark.parametrize(
    ("text", "negative"),
    [
        ("This is absolutely unacceptable and ridiculous", True),
        ("WORST SERVICE EVER, I AM FURIOUS", True),
        ("Terrible!! I want my money back", True),
        ("the bread was a bit dry today", False),
        ("terrible weather, are you open?", False),
    ],
)
def test_strongly_negative(text: str, negative: bool) -> None:
    assert strongly_negative(text) is negative


def test_restricted_topics_match_whole_words() -> None:
    assert mentions_topic("Can I get a refund?", ["refund"]) == "refund"
    assert mentions_topic("refunding", ["refund"]) is None


@pytest.mark.parametrize(
    ("text", "follow_up"),
    [
        ("and for an e-bike?", True),
        ("what about Sundays?", True),
        ("Do you deliver to Bath on Saturdays?", False),
        # A question that points back at the previous one needs its context; one that names its topic not.
        ("How do I apply for it?", True),
        ("Will they be able to see my pictures?", True),
        ("Could you send it by express courier instead?", True),
        (
            "Can I pay for a cake in advance and collect it from the Bath shop on Saturday morning please?",
            False,
        ),
        ("Do you make vegan birthday cakes for twenty people?", False),
    ],
)
def test_follow_up(text: str, follow_up: bool) -> None:
    assert is_follow_up(text) is follow_up


def test_service_window_is_24_hours_from_the_last_customer_message() -> None:
    last = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert within_service_window(last, last + timedelta(hours=23, minutes=59))
    assert not within_service_window(last, last + timedelta(hours=24, minutes=1))
    assert not within_service_window(None, last)


def test_business_hours_open_and_next_opening() -> None:
    hours = BusinessHours.from_spec("mon-fri 09:00-17:00, sat 10:00-14:00", "Europe/London")
    wednesday_noon = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    saturday_evening = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert hours.is_open(wednesday_noon)
    assert not hours.is_open(saturday_evening)
    opening = hours.next_opening(saturday_evening)
    assert opening is not None and opening.strftime("%A %H:%M") == "Monday 09:00"
    assert (
        BusinessHours().is_open(saturday_evening) and BusinessHours().next_opening(saturday_evening) is None
    )


@pytest.mark.parametrize(
    ("spec", "zone"),
    [
        ("mon-fri 9-5", "UTC"),
        ("xyz 09:00-10:00", "UTC"),
        ("mon 10:00-09:00", "UTC"),
        ("mon 09:00-10:00", "Mars/Base"),
    ],
)
def test_bad_hours_are_refused_with_a_clear_error(spec: str, zone: str) -> None:
    with pytest.raises(InvalidInput):
        BusinessHours.from_spec(spec, zone)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("When are you open on Sunday?", "en"),
        ("¿Cuándo abren los domingos? ¿Tienen pan sin gluten?", "es"),
        ("Est-ce que vous avez du pain sans gluten pour mon fils ?", "fr"),
        ("Wann haben Sie am Sonntag geöffnet und ist das Brot glutenfrei?", "de"),
        ("ok", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language
