"""The rules of a conversation: when to hand over to a person, WhatsApp's 24-hour window, business hours,
STOP/START, and what the customer's words mean. Pure functions over text and time: no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import InvalidInput

SERVICE_WINDOW = timedelta(hours=24)

# Reply-button ids the bot sends with its answers, and what a tap means.
BUTTON_HANDOFF = "wepos:handoff"
BUTTON_HELPED = "wepos:helped"

_HANDOFF_PATTERNS = [
    r"\b(talk|speak|chat)\s+(to|with)\s+(a|an|some|the)?\s*(real\s+|actual\s+)?(person|human|agent|someone|somebody|operator|representative|manager)\b",
    r"\b(real|actual|live)\s+(person|human|agent)\b",
    r"\bhuman\s+(please|pls|agent)\b",
    r"\b(agent|operator|representative)\s+please\b",
    r"\bcan\s+(i|we)\s+(get|have)\s+(a|an)\s+(person|human|agent)\b",
    r"\bconnect\s+me\s+(to|with)\b",
    r"\bi\s+want\s+(a|an)\s+(person|human|agent)\b",
    r"^\s*(agent|human|person|operator)\s*[.!?]*\s*$",
]
_NEGATIVE_FEEDBACK = [
    r"\b(that|this|it)\s+(did\s*n[o']?t|does\s*n[o']?t|do\s*n[o']?t)\s+help\b",
    r"\bnot\s+what\s+i\s+(asked|meant|wanted)\b",
    r"\b(that'?s|that\s+is|this\s+is)\s+(wrong|incorrect|not\s+right|useless)\b",
    r"\bno+[, ]+that'?s\s+not\b",
]
# A small lexicon: strong words only, so ordinary complaints ("the bread was dry") do not escalate.
_STRONG_NEGATIVE = {
    "furious",
    "outraged",
    "disgusted",
    "disgusting",
    "appalling",
    "unacceptable",
    "ridiculous",
    "horrible",
    "terrible",
    "awful",
    "scam",
    "fraud",
    "lawyer",
    "sue",
    "worst",
    "hate",
    "angry",
    "livid",
    "pathetic",
}
# The customer's data rights in their own words. Erasure is looked for first: "delete my data? what do you
# do with it?" is a request, not a question.
_DATA = r"(?:personal\s+)?(?:data|information|info|details|messages|conversations?|chats?|records?)"
_DATA_ERASURE = [
    r"\b(delete|erase|remove|wipe|destroy|purge|clear)\s+(all\s+)?(of\s+)?(my|our)\s+" + _DATA + r"\b",
    r"\b(delete|erase|remove)\s+(my\s+(number|account|contact|profile)|everything\s+(you\s+(have|hold|know)\s+)?(about|on)\s+me)\b",
    r"\bmy\s+" + _DATA + r"\s+(to\s+be\s+|be\s+|is\s+|are\s+)?(deleted|erased|removed|wiped)\b",
    r"\bforget\s+(about\s+)?(me|my\s+" + _DATA + r")\b",
    r"\bright\s+to\s+(be\s+forgotten|erasure)\b",
]
_DATA_EXPORT = [
    r"\b(send|give|email|e-mail|mail|show|get)\s+me\s+(a\s+copy\s+of\s+)?(all\s+)?(of\s+)?my\s+"
    + _DATA
    + r"\b",
    r"\b(a\s+)?copy\s+of\s+(all\s+)?(of\s+)?my\s+" + _DATA + r"\b",
    r"\b(download|export|access)\s+(all\s+)?(of\s+)?my\s+" + _DATA + r"\b",
    r"\bwhat\s+" + _DATA + r"\s+do\s+you\s+(have|hold|keep|store)\s+(on|about|of)\s+me\b",
    r"\b(subject\s+access\s+request|dsar|right\s+of\s+access)\b",
]
_DATA_INFO = [
    r"\bwhat\s+(do|will|did)\s+you\s+do\s+with\s+(my|our)\s+" + _DATA + r"\b",
    r"\bhow\s+(do|will|did)\s+you\s+(use|store|keep|handle|process|protect|treat)\s+(my|our)\s+"
    + _DATA
    + r"\b",
    r"\bhow\s+(is|are)\s+my\s+" + _DATA + r"\s+(used|stored|kept|handled|processed|protected)\b",
    r"\bwhat\s+happens\s+(to|with)\s+my\s+" + _DATA + r"\b",
    r"\b(is|are)\s+my\s+" + _DATA + r"\s+(safe|secure|private|protected)\b",
    r"\bwho\s+(can\s+)?(sees?|reads?|gets?|has\s+access\s+to)\s+my\s+" + _DATA + r"\b",
    r"\bdo\s+you\s+(store|keep|save|sell|share)\s+my\s+" + _DATA + r"\b",
    r"\b(privacy\s+(policy|notice|statement)|data\s+protection|gdpr)\b",
]
_STOP = {"stop", "unsubscribe", "stop all", "opt out", "optout", "cancel messages"}
_START = {"start", "unstop", "subscribe", "opt in"}
_WORD = re.compile(r"[a-z']+")
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Intent(StrEnum):
    QUESTION = "question"
    HANDOFF = "handoff"
    HELPED = "helped"
    NOT_HELPED = "not_helped"
    STOP = "stop"
    START = "start"
    DATA_INFO = "data_info"  # what do you do with my data?
    DATA_EXPORT = "data_export"  # send me my data
    DATA_ERASURE = "data_erasure"  # delete my data


def classify(
    text: str, reply_id: str | None = None, extra_handoff_phrases: list[str] | None = None
) -> Intent:
    """What the customer wants, before any retrieval."""
    if reply_id == BUTTON_HANDOFF:
        return Intent.HANDOFF
    if reply_id == BUTTON_HELPED:
        return Intent.HELPED
    lowered = " ".join(text.lower().split())
    bare = lowered.strip(" .!?")
    if bare in _STOP:
        return Intent.STOP
    if bare in _START:
        return Intent.START
    for intent, patterns in (
        (Intent.DATA_ERASURE, _DATA_ERASURE),
        (Intent.DATA_EXPORT, _DATA_EXPORT),
        (Intent.DATA_INFO, _DATA_INFO),
    ):
        if any(re.search(p, lowered) for p in patterns):
            return intent
    if any(re.search(p, lowered) for p in _HANDOFF_PATTERNS):
        return Intent.HANDOFF
    if any(phrase.lower() in lowered for phrase in extra_handoff_phrases or []):
        return Intent.HANDOFF
    if any(re.search(p, lowered) for p in _NEGATIVE_FEEDBACK):
        return Intent.NOT_HELPED
    return Intent.QUESTION


def strongly_negative(text: str) -> bool:
    """Anger worth a person's attention: two strong words, or one with shouting or '!!'."""
    words = _WORD.findall(text.lower())
    hits = sum(word in _STRONG_NEGATIVE for word in words)
    shouting = (
        sum(c.isupper() for c in text) > 0.6 * max(1, sum(c.isalpha() for c in text)) and len(text) > 12
    )
    return hits >= 2 or (hits == 1 and (shouting or "!!" in text))


def mentions_topic(text: str, topics: list[str]) -> str | None:
    lowered = text.lower()
    for topic in topics:
        if topic and re.search(r"\b" + re.escape(topic.lower()) + r"\b", lowered):
            return topic
    return None


# Words that point back at the previous message: "it", "that", "they", "the same" ...
_POINTS_BACK = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|there|then|one|ones|same|such|instead|either)\b"
)
FOLLOW_UP_WORDS = 14  # a longer message says what it is about on its own


def is_follow_up(text: str) -> bool:
    """A question that leans on the previous one: short ("and for an e-bike?", "what about Sundays?"), or
    one that points back at it ("How do I apply for it?", "Will they be able to see my pictures?")."""
    lowered = text.lower().strip()
    words = lowered.split()
    if len(words) <= 5 or re.match(
        r"^(and|also|what about|how about|and what about|same for|what if)\b", lowered
    ):
        return True
    return len(words) <= FOLLOW_UP_WORDS and _POINTS_BACK.search(lowered) is not None


def within_service_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Free-form messages are allowed only within 24 hours of the customer's last message."""
    return last_inbound_at is not None and now - last_inbound_at < SERVICE_WINDOW


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday in the business's time zone; empty means always staffed."""

    timezone: str = "UTC"
    days: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str, timezone: str) -> BusinessHours:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"unknown time zone {timezone!r}") from exc
        try:
            data = json.loads(raw or "{}")
            days = {day: (str(span[0]), str(span[1])) for day, span in data.items()}
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise InvalidInput('business hours must look like {"mon": ["09:00", "17:00"]}') from exc
        unknown = set(days) - set(_DAYS)
        if unknown:
            raise InvalidInput(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(_DAYS)}")
        for opens, closes in days.values():
            if not (
                re.fullmatch(r"\d\d:\d\d", opens) and re.fullmatch(r"\d\d:\d\d", closes) and opens < closes
            ):
                raise InvalidInput("hours must be HH:MM-HH:MM with opening before closing")
        return cls(timezone, days)

    @classmethod
    def from_spec(cls, spec: str, timezone: str) -> BusinessHours:
        """'mon-fri 09:00-17:00, sat 10:00-14:00' -> hours (for the CLI)."""
        days: dict[str, list[str]] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            match = re.fullmatch(r"([a-z]{3})(?:-([a-z]{3}))?\s+(\d\d:\d\d)-(\d\d:\d\d)", part.lower())
            if not match or match.group(1) not in _DAYS or (match.group(2) and match.group(2) not in _DAYS):
                raise InvalidInput(f"cannot read hours {part!r}; use e.g. 'mon-fri 09:00-17:00'")
            first = _DAYS.index(match.group(1))
            last = _DAYS.index(match.group(2)) if match.group(2) else first
            for day in _DAYS[first : last + 1]:
                days[day] = [match.group(3), match.group(4)]
        return cls.parse(json.dumps(days), timezone)

    def to_json(self) -> str:
        return json.dumps({day: list(span) for day, span in self.days.items()})

    def is_open(self, now: datetime) -> bool:
        if not self.days:
            return True
        local = now.astimezone(ZoneInfo(self.timezone))
        span = self.days.get(_DAYS[local.weekday()])
        return span is not None and span[0] <= local.strftime("%H:%M") < span[1]

    def next_opening(self, now: datetime) -> datetime | None:
        """When a person will next be in, in the business's time zone (None if always staffed)."""
        if not self.days:
            return None
        local = now.astimezone(ZoneInfo(self.timezone))
        for offset in range(8):
            day = local + timedelta(days=offset)
            span = self.days.get(_DAYS[day.weekday()])
            if span is None:
                continue
            hour, minute = map(int, span[0].split(":"))
            opening = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if opening > local:
                return opening
        return None
