"""Mask personal data with stable placeholders before anything leaves the message, restore it on the way out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from core.metrics import MASKING_SECONDS
from core.placeholders import LOOSE_PLACEHOLDER, canonical_placeholder, placeholder
from privacy.detect import Detection, Detector, KnownValue
from privacy.models import PrivacyPolicy
from privacy.policy import DEFAULT_POLICY, MaskingPolicy, load_policy, policy_from_row
from privacy.vault import DOCUMENT_LABEL, PlaceholderPlan, Vault, VaultScope, normalise_value


@dataclass(frozen=True)
class MaskedSpan:
    """One replaced span, with offsets into the original text. Carries no value."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    placeholder: str
    rule: str = ""


@dataclass(frozen=True)
class MaskResult:
    text: str
    spans: tuple[MaskedSpan, ...]


class Masker:
    """Detects with a `Detector`, replaces with placeholders from the `Vault`, and reverses it."""

    def __init__(self, detector: Detector, vault: Vault) -> None:
        self.detector = detector
        self.vault = vault

    def mask(
        self,
        session: Session,
        text: str,
        scope: VaultScope,
        *,
        known: Sequence[KnownValue] = (),
        remember: bool = True,
        policy: MaskingPolicy = DEFAULT_POLICY,
    ) -> MaskResult:
        """Mask `text` in `scope` under the business's `policy`. With `remember`, every value already in the
        scope is masked again here, even where the detector would miss it this time."""
        with MASKING_SECONDS.time():
            remembered = self.vault.values(session, scope).values() if remember else ()
            return self._mask(
                text,
                scope,
                [*known, *(KnownValue(kind, value) for kind, value in remembered)],
                policy,
                lambda d: self.vault.placeholder_for(session, scope, d.entity_type, text[d.start : d.end]),
            )

    def plan(
        self,
        session: Session,
        text: str,
        plan: PlaceholderPlan,
        *,
        known: Sequence[KnownValue] = (),
        policy: MaskingPolicy = DEFAULT_POLICY,
    ) -> MaskResult:
        """`mask` (remembering the scope's values) without writing: new values take their placeholders from
        `plan`, stored later by `plan.keep(session)`."""
        with MASKING_SECONDS.time():
            remembered = plan.stored_values().values()  # read with the plan: no second query
            return self._mask(
                text,
                plan.scope,
                [*known, *(KnownValue(kind, value) for kind, value in remembered)],
                policy,
                lambda d: plan.placeholder_for(d.entity_type, text[d.start : d.end]),
            )

    def _mask(
        self,
        text: str,
        scope: VaultScope,
        known: Sequence[KnownValue],
        policy: MaskingPolicy,
        allocate: Callable[[Detection], str],
    ) -> MaskResult:
        detections = self.detector.detect(
            text,
            [*known, *policy.deny],
            document=scope.label == DOCUMENT_LABEL,
            entities=policy.entities,
            allow=policy.allow,
            vocabulary=policy.vocabulary,
        )
        return _replace(text, detections, allocate)

    def policy_for(self, session: Session, business_id: int) -> MaskingPolicy:
        """The business's masking policy (its deny list opened with the vault's keys)."""
        return load_policy(session, self.vault.box, business_id)

    def policy_from(self, row: PrivacyPolicy | None) -> MaskingPolicy:
        """The masking policy of a business's row, read by the caller (None: it never set one)."""
        return policy_from_row(row, self.vault.box)

    def preview(
        self, text: str, known: Sequence[KnownValue] = (), policy: MaskingPolicy = DEFAULT_POLICY
    ) -> MaskResult:
        """Mask without a vault (placeholders numbered in memory): for `wepos privacy mask` and evaluation."""
        numbering: dict[tuple[str, str], str] = {}
        counts: dict[str, int] = {}

        def allocate(d: Detection) -> str:
            key = (d.entity_type, normalise_value(d.entity_type, text[d.start : d.end]))
            if key not in numbering:
                counts[d.entity_type] = counts.get(d.entity_type, 0) + 1
                numbering[key] = placeholder("", d.entity_type, counts[d.entity_type])
            return numbering[key]

        detections = self.detector.detect(
            text,
            [*known, *policy.deny],
            entities=policy.entities,
            allow=policy.allow,
            vocabulary=policy.vocabulary,
        )
        return _replace(text, detections, allocate)

    def unmask(self, session: Session, text: str, scopes: Iterable[VaultScope]) -> str:
        """Put the originals back. Placeholders unknown in these scopes (invented by a model, or from another
        conversation) are dropped, never guessed."""
        return unmask_text(session, self.vault, text, scopes)

    def mask_many(
        self,
        texts: Sequence[str],
        plan: PlaceholderPlan,
        *,
        known: Sequence[KnownValue] = (),
        policy: MaskingPolicy = DEFAULT_POLICY,
    ) -> list[MaskResult]:
        """Mask many texts of one scope (a document's chunks) without writing: new values take their
        placeholders from `plan`, stored later by `plan.keep(session)`, so a document is masked with no
        transaction open. Detected in spaCy batches by `Detector.detect_many`. Not timed into
        MASKING_SECONDS, whose buckets are for one message."""
        detected = self.detector.detect_many(
            texts,
            [*known, *policy.deny],
            document=plan.scope.label == DOCUMENT_LABEL,
            entities=policy.entities,
            allow=policy.allow,
            vocabulary=policy.vocabulary,
        )

        def masked(text: str, detections: list[Detection]) -> MaskResult:
            return _replace(
                text, detections, lambda d: plan.placeholder_for(d.entity_type, text[d.start : d.end])
            )

        return [masked(text, detections) for text, detections in zip(texts, detected, strict=True)]


def unmask_text(session: Session, vault: Vault, text: str, scopes: Iterable[VaultScope]) -> str:
    """`Masker.unmask` without a detector (the CLI needs no Presidio to show a reply): only the placeholders
    that occur in `text` are looked up and decrypted."""
    return restore(text, vault.originals(session, list(scopes), placeholders_in(text)))


def placeholders_in(text: str) -> set[str]:
    """The placeholders a text holds, in canonical form."""
    return {ph for ph in (canonical_placeholder(m.group(0)) for m in LOOSE_PLACEHOLDER.finditer(text)) if ph}


def restore(text: str, originals: dict[str, str]) -> str:
    """Replace each placeholder by its original; drop the unknown ones and tidy the gap they leave."""

    def substitute(match: re.Match[str]) -> str:
        placeholder = canonical_placeholder(match.group(0))
        return originals.get(placeholder, "") if placeholder else ""

    restored = LOOSE_PLACEHOLDER.sub(substitute, text)
    restored = re.sub(r"[ \t]{2,}", " ", restored)
    return re.sub(r" +([,.!?;:])", r"\1", restored)


def _replace(text: str, detections: list[Detection], allocate: Callable[[Detection], str]) -> MaskResult:
    spans = [
        MaskedSpan(d.entity_type, d.start, d.end, d.score, d.recognizer, allocate(d), d.rule)
        for d in sorted(detections, key=lambda d: d.start)
    ]
    pieces: list[str] = []
    cursor = 0
    for span in spans:
        pieces.append(text[cursor : span.start])
        pieces.append(span.placeholder)
        cursor = span.end
    pieces.append(text[cursor:])
    return MaskResult("".join(pieces), tuple(spans))
