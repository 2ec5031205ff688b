"""Our recognizers, one a module, and the explicit registry of them."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from privacy.recognizers.chat_phone import ChatPhoneRecognizer
from privacy.recognizers.street_address import StreetAddressRecognizer


def wepos_recognizers() -> list[EntityRecognizer]:
    """Recognizers added on top of Presidio's predefined ones."""
    return [ChatPhoneRecognizer(), StreetAddressRecognizer()]
