"""Each business's masking policy: which entity types are masked, which words pass, which values never do.

A compliance officer's review of the redaction log feeds it: a false positive adds its word to the allow
list; a reported miss adds the value (sealed: it is personal data) to the deny list."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from core.crypto import SecretBox
from core.db import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from privacy.detect import DEFAULT_ENTITIES, KnownValue
from privacy.models import PrivacyPolicy, RedactionEvent
from privacy.vault import Vault, VaultScope

# Entity types a business may choose to mask, beyond the defaults (kept by default: a city answers
# "delivery to Dublin?", a date answers "open on Friday?").
OPTIONAL_ENTITIES: tuple[str, ...] = ("LOCATION", "DATE_TIME", "NRP", "URL", "US_DRIVER_LICENSE")
KNOWN_ENTITIES: frozenset[str] = frozenset((*DEFAULT_ENTITIES, *OPTIONAL_ENTITIES))
MAX_LIST = 500


@dataclass(frozen=True)
class MaskingPolicy:
    """What the masker applies for one business."""

    entities: tuple[str, ...] = DEFAULT_ENTITIES
    allow: tuple[str, ...] = ()
    deny: tuple[KnownValue, ...] = field(default=())
    # Lower-case words the business's own knowledge base uses again and again (`Retriever.vocabulary`): a
    # lone one that spaCy or a name's shape alone calls a person is the business's subject, not a customer.
    vocabulary: frozenset[str] = frozenset()


DEFAULT_POLICY = MaskingPolicy()


class PrivacyPolicyPublic(BaseModel):
    masked_entities: list[str]
    kept_entities: list[str]
    allow_list: list[str]
    deny_list: list[str]  # entity types only, one a value: the values themselves are personal data


class PolicyChange(BaseModel):
    mask: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=50)
    keep: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=50)
    allow: list[Annotated[str, Field(max_length=100)]] = Field(default=[], max_length=MAX_LIST)
    disallow: list[Annotated[str, Field(max_length=100)]] = Field(default=[], max_length=MAX_LIST)


def _row(session: Session, business_id: int) -> PrivacyPolicy:
    row = session.exec(select(PrivacyPolicy).where(PrivacyPolicy.business_id == business_id)).first()
    if row is None:
        row = PrivacyPolicy(business_id=business_id)
        session.add(row)
        session.flush()
    return row


def _deny_values(row: PrivacyPolicy, box: SecretBox) -> list[dict[str, str]]:
    return json.loads(box.open(row.deny_list_sealed)) if row.deny_list_sealed else []


def load_policy(session: Session, box: SecretBox, business_id: int) -> MaskingPolicy:
    row = session.exec(select(PrivacyPolicy).where(PrivacyPolicy.business_id == business_id)).first()
    return policy_from_row(row, box)


def policy_from_row(row: PrivacyPolicy | None, box: SecretBox) -> MaskingPolicy:
    """The masking policy a business's stored row says (the defaults where it never set one)."""
    if row is None:
        return DEFAULT_POLICY
    entities = tuple(json.loads(row.masked_entities)) or DEFAULT_ENTITIES
    deny = tuple(KnownValue(item["type"], item["value"]) for item in _deny_values(row, box))
    return MaskingPolicy(entities, tuple(json.loads(row.allow_list)), deny)


def to_public(session: Session, box: SecretBox, business_id: int) -> PrivacyPolicyPublic:
    policy = load_policy(session, box, business_id)
    return PrivacyPolicyPublic(
        masked_entities=sorted(policy.entities),
        kept_entities=sorted(KNOWN_ENTITIES - set(policy.entities)),
        allow_list=list(policy.allow),
        deny_list=[value.entity_type for value in policy.deny],
    )


def change_policy(
    session: Session, box: SecretBox, business_id: int, change: PolicyChange
) -> PrivacyPolicyPublic:
    """Mask or keep entity types, allow or disallow words; unknown types are a clear error."""
    unknown = sorted(set(change.mask + change.keep) - KNOWN_ENTITIES)
    if unknown:
        raise InvalidInput(f"unknown entity types {unknown}; choose from {sorted(KNOWN_ENTITIES)}")
    if set(change.mask) & set(change.keep):
        raise InvalidInput("an entity type cannot be both masked and kept")
    row = _row(session, business_id)
    entities = list(json.loads(row.masked_entities) or DEFAULT_ENTITIES)
    entities = [e for e in entities if e not in change.keep] + [e for e in change.mask if e not in entities]
    if not entities:
        raise InvalidInput("at least one entity type must stay masked")
    allow = [
        w for w in json.loads(row.allow_list) if w.casefold() not in {d.casefold() for d in change.disallow}
    ]
    for word in change.allow:
        word = " ".join(word.split())
        if not word or len(word) > 100:
            raise InvalidInput("allow-list entries are 1-100 characters")
        if word.casefold() not in {w.casefold() for w in allow}:
            allow.append(word)
    if len(allow) > MAX_LIST:
        raise InvalidInput(f"the allow list holds at most {MAX_LIST} entries")
    row.masked_entities = json.dumps(entities)
    row.allow_list = json.dumps(allow)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return to_public(session, box, business_id)


def deny_value(session: Session, box: SecretBox, business_id: int, *, entity_type: str, value: str) -> int:
    """Always mask `value` (a miss the detector makes) for this business; returns the deny list's size."""
    value = " ".join(value.split())
    if entity_type not in KNOWN_ENTITIES:
        raise InvalidInput(f"unknown entity type {entity_type!r}")
    if len(value) < 2 or len(value) > 200:
        raise InvalidInput("a reported value is 2-200 characters")
    row = _row(session, business_id)
    values = _deny_values(row, box)
    if not any(v["value"].casefold() == value.casefold() for v in values):
        values.append({"type": entity_type, "value": value})
    if len(values) > MAX_LIST:
        raise InvalidInput(f"the deny list holds at most {MAX_LIST} entries")
    row.deny_list_sealed = box.seal(json.dumps(values))
    row.updated_at = utcnow()
    session.add(row)
    return len(values)


def review_redaction(
    session: Session,
    box: SecretBox,
    business_id: int,
    event_id: int,
    *,
    false_positive: bool,
    scope: VaultScope,
) -> RedactionEvent:
    """Record a compliance officer's verdict. A false positive's word joins the allow list, so it is not
    masked again; `scope` is where the event's placeholder lives (its conversation or knowledge base)."""
    event = session.get(RedactionEvent, event_id)
    if event is None or event.business_id != business_id:
        raise NotFound(f"no redaction {event_id}")
    if event.review is not None:
        raise Conflict(f"redaction {event_id} was already reviewed ({event.review})")
    event.review = "false_positive" if false_positive else "confirmed"
    session.add(event)
    if false_positive:
        value = Vault(box).originals(session, [scope], {event.placeholder}).get(event.placeholder)
        if value is None:
            raise Conflict(
                f"the value of redaction {event_id} was erased: add the word with the policy instead"
            )
        change_policy(session, box, business_id, PolicyChange(allow=[value]))
    return event
