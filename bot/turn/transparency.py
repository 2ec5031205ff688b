"""What customers are told about their data: the first-contact privacy notice and the answers to their data
requests. Texts only: the assistant decides when they are sent, the outbox sends them."""

from __future__ import annotations

import re
from datetime import datetime

from bot.models import AssistantPolicy
from core.errors import InvalidInput
from privacy.data_requests import RequestKind
from privacy.models import DataSubjectRequest

MAX_NOTICE_CHARS = 1000
MAX_CONTACT_CHARS = 200

DEFAULT_NOTICE = (
    "Privacy notice: {business} answers your messages here with an automated assistant it runs itself; "
    "{business} is responsible for your data, and Meta's WhatsApp carries the messages. Personal details "
    "(names, numbers, e-mail addresses) are masked before any AI sees what you write; conversations are "
    'deleted {days} days after your last message. Send STOP at any time to stop messages. Write "send me my '
    'data" for a copy of what we hold, or "delete my data" to have it erased.'
)
CONTACT_SENTENCE = " Questions about your data: {contact}."
REQUEST_REPLIES = {
    RequestKind.EXPORT: (
        "Thanks: your request for a copy of your data (reference {ref}) is with our compliance team. "
        "You will have it by {due} at the latest; they may first check that this number is yours."
    ),
    RequestKind.ERASURE: (
        "Thanks: your request to delete your data (reference {ref}) is with our compliance team. "
        "It will be done by {due} at the latest; they may first check that this number is yours, so that "
        "nobody else can have your data deleted."
    ),
}
ALREADY_OPEN = " (You asked already; that request is still open.)"
# Placeholders are what the outbox restores from the vault: a notice must never look like one.
_ANGLE = re.compile(r"[<>]")


def privacy_notice(policy: AssistantPolicy, business_name: str) -> str:
    """The business's notice, or the default one built from its name, with the compliance contact."""
    text = policy.privacy_notice.strip() or DEFAULT_NOTICE
    text = text.replace("{business}", business_name).replace("{days}", str(policy.retention_days))
    contact = policy.compliance_contact.strip()
    if "{contact}" in text:
        return text.replace("{contact}", contact or business_name)
    return text + (CONTACT_SENTENCE.format(contact=contact) if contact else "")


def validate_notice(text: str) -> str:
    """A notice the business may set: plain text, 1,000 characters at most."""
    text = text.strip()
    if len(text) > MAX_NOTICE_CHARS:
        raise InvalidInput(f"the privacy notice is limited to {MAX_NOTICE_CHARS:,} characters")
    if _ANGLE.search(text):
        raise InvalidInput("the privacy notice cannot contain < or > (they mark masked values)")
    return text


def validate_contact(text: str) -> str:
    """The compliance contact: an e-mail address, a phone number or a postal address, on one line."""
    text = " ".join(text.split())
    if len(text) > MAX_CONTACT_CHARS:
        raise InvalidInput(f"the compliance contact is limited to {MAX_CONTACT_CHARS} characters")
    if _ANGLE.search(text):
        raise InvalidInput("the compliance contact cannot contain < or >")
    return text


def request_reply(request: DataSubjectRequest, *, new: bool) -> str:
    """What the customer is told once their request is in the queue: its reference and its deadline."""
    assert request.id is not None
    reply = REQUEST_REPLIES[RequestKind(request.kind)].format(ref=f"#{request.id}", due=_date(request.due_at))
    return reply if new else reply + ALREADY_OPEN


def _date(moment: datetime) -> str:
    return f"{moment.day} {moment.strftime('%B %Y')}"
