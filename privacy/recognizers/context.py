"""Context words near a match, and the pattern recognizer whose weak patterns count only with one.

Presidio's own context enhancer looks only at the five words before a match; chat and signature blocks put
the telling word after it too ("416 60 039 office", "07700 900123 (mobile)"), so we check both sides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar

from presidio_analyzer import PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


@lru_cache(maxsize=64)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


def near(text: str, start: int, end: int, words: Sequence[str], *, before: int = 40, after: int = 0) -> bool:
    """Whether one of `words` (whole words, any case) stands within `before`/`after` characters of a span."""
    pattern = _words_pattern(tuple(words))
    if pattern.search(text, max(0, start - before), start):
        return True
    return after > 0 and pattern.search(text, end, end + after) is not None


class ContextPatternRecognizer(PatternRecognizer):
    """A pattern recognizer whose weak patterns (score below `STRONG`) count only next to a context word.

    A weak match is kept, at `WITH_CONTEXT`, when a word of `CONTEXT` stands within `BEFORE` characters
    before it or `AFTER` after it, and no word of `NOT_AFTER` (labels that claim the number for something
    else: "order", "invoice") stands within the last `NOT_WITHIN` characters before it.
    """

    CONTEXT: ClassVar[list[str]] = []
    NOT_AFTER: ClassVar[list[str]] = []
    BEFORE: ClassVar[int] = 40
    AFTER: ClassVar[int] = 0
    NOT_WITHIN: ClassVar[int] = 25
    STRONG: ClassVar[float] = 0.4
    WITH_CONTEXT: ClassVar[float] = 0.6

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        kept: list[RecognizerResult] = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            if result.score < self.STRONG:
                if self.NOT_AFTER and near(
                    text, result.start, result.end, self.NOT_AFTER, before=self.NOT_WITHIN
                ):
                    continue
                if not near(
                    text, result.start, result.end, self.CONTEXT, before=self.BEFORE, after=self.AFTER
                ):
                    continue
                result.score = self.WITH_CONTEXT
            kept.append(result)
        return kept
