"""Our recognizers, one a module, and the explicit registry of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import privacy.presidio  # noqa: F401  (first: it imports Presidio without its transformers engine)
from privacy.recognizers.card_number import CardNumberRecognizer
from privacy.recognizers.chat_phone import ChatPhoneRecognizer
from privacy.recognizers.date_of_birth import DateOfBirthRecognizer
from privacy.recognizers.identifier_shape import IdentifierShapeRecognizer
from privacy.recognizers.labelled_value import LabelledValueRecognizer
from privacy.recognizers.name_introduction import NameIntroductionRecognizer
from privacy.recognizers.name_lexicon import NameLexicon
from privacy.recognizers.passport import PassportRecognizer
from privacy.recognizers.person_name import PersonNameRecognizer
from privacy.recognizers.speaker_label import SpeakerLabelRecognizer
from privacy.recognizers.street_address import StreetAddressRecognizer

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer
    from spacy.language import Language


def wepos_recognizers(nlp: Language, *, names: bool = True) -> list[EntityRecognizer]:
    """Recognizers added on top of Presidio's predefined ones (and Presidio's UK ones it leaves out).

    `nlp` is the spaCy pipeline the analyzer runs: its lemmatizer's word lists tell first names from words.
    Without `names` (a pipeline with no lemmatizer: the mock analyzer) the two that need them are left out.
    """
    from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

    recognizers: list[EntityRecognizer] = [
        ChatPhoneRecognizer(),
        StreetAddressRecognizer(),
        CardNumberRecognizer(),
        NameIntroductionRecognizer(),
        DateOfBirthRecognizer(),
        PassportRecognizer(),
        UkNinoRecognizer(),
        LabelledValueRecognizer(),
        IdentifierShapeRecognizer(),
    ]
    if names:
        lexicon = NameLexicon.from_spacy(nlp)
        recognizers[4:4] = [PersonNameRecognizer(lexicon), SpeakerLabelRecognizer(lexicon)]
    return recognizers
