"""Our recognizers, one a module, and the explicit registry of them."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

from privacy.recognizers.card_number import CardNumberRecognizer
from privacy.recognizers.chat_phone import ChatPhoneRecognizer
from privacy.recognizers.date_of_birth import DateOfBirthRecognizer
from privacy.recognizers.name_introduction import NameIntroductionRecognizer
from privacy.recognizers.passport import PassportRecognizer
from privacy.recognizers.street_address import StreetAddressRecognizer


def wepos_recognizers() -> list[EntityRecognizer]:
    """Recognizers added on top of Presidio's predefined ones (and Presidio's UK ones it leaves out)."""
    return [
        ChatPhoneRecognizer(),
        StreetAddressRecognizer(),
        CardNumberRecognizer(),
        NameIntroductionRecognizer(),
        DateOfBirthRecognizer(),
        PassportRecognizer(),
        UkNinoRecognizer(),
    ]
