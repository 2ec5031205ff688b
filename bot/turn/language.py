"""The few sentences the bot must be able to say in a customer's language (`core.language` tells which it
is) when the knowledge base cannot answer in it."""

from __future__ import annotations

from core.language import detect_language

__all__ = ["IN_ENGLISH", "NOT_COVERED", "detect_language"]

NOT_COVERED = {
    "en": "Sorry, I can only answer in English from our information. I've asked a member of our team to help you.",
    "es": "Lo siento, solo puedo responder en inglés con nuestra información. He pedido a una persona de nuestro equipo que te ayude.",
    "fr": "Désolé, je ne peux répondre qu'en anglais à partir de nos informations. J'ai demandé à une personne de notre équipe de vous aider.",
    "de": "Entschuldigung, ich kann nur auf Englisch aus unseren Informationen antworten. Ich habe eine Person aus unserem Team gebeten, Ihnen zu helfen.",
    "pt": "Desculpe, só consigo responder em inglês com as nossas informações. Pedi a uma pessoa da nossa equipa para o ajudar.",
    "it": "Mi dispiace, posso rispondere solo in inglese con le nostre informazioni. Ho chiesto a una persona del nostro team di aiutarti.",
    "nl": "Sorry, ik kan alleen in het Engels antwoorden met onze informatie. Ik heb iemand van ons team gevraagd je te helpen.",
}

# The line above an answer quoted from English documents for a customer who wrote in another language.
IN_ENGLISH = {
    "en": "From our information:",
    "es": "Esto es lo que dice nuestra información (en inglés):",
    "fr": "Voici ce que disent nos informations (en anglais) :",
    "de": "Das steht in unseren Informationen (auf Englisch):",
    "pt": "Isto é o que diz a nossa informação (em inglês):",
    "it": "Ecco cosa dicono le nostre informazioni (in inglese):",
    "nl": "Dit staat in onze informatie (in het Engels):",
}
