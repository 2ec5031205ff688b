"""What one WhatsApp message may hold: every reply a turn writes is cut to fit before it is queued."""

from __future__ import annotations

MAX_INTERACTIVE_BODY = 1024  # the body of a message with reply buttons
MAX_TEXT_LENGTH = 4096


def split_text(body: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Split a long reply at paragraph, line, sentence or word boundaries into parts WhatsApp accepts."""
    parts: list[str] = []
    remaining = body.strip()
    while len(remaining) > limit:
        window = remaining[:limit]
        cut = limit
        # The strongest boundary in the second half of the window wins: paragraph, line, sentence, word.
        for boundary in ("\n\n", "\n", ". ", " "):
            position = window.rfind(boundary)
            if position > limit // 2:
                cut = position + len(boundary.rstrip(" ")) if boundary == ". " else position + 1
                break
        parts.append(remaining[:cut].strip())
        remaining = remaining[cut:].strip()
    if remaining:
        parts.append(remaining)
    return parts
