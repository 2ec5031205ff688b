"""A business's approved answers as its staff manage them: add, list, show, edit, enable, disable, delete.

What is saved is masked as a knowledge document is (knowledge scope, `<DOC_...>` placeholders, restored for
the customer when the answer is sent), under one rule more: a customer's personal data never enters an
approved answer. So a save is refused

- while the text still holds a conversation's placeholder (`<PERSON_1>`, `<PHONE_NUMBER_2>`): an answer
  approved from a handed-over conversation must have each one replaced by the business's own words, or
  removed, first;
- when the masker finds personal data that is new to the business's knowledge, unless the person saving
  says it is the business's own (`keep_business_details`: a shop's phone number, an orders address, the
  baker's name). Values the business's documents hold already are its own and are masked as there.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import session_scope, utcnow
from core.errors import Conflict, InvalidInput, NotFound
from privacy.masker import Masker, MaskResult, placeholders_in
from privacy.redaction import forget_redactions, record_redactions
from privacy.vault import DOCUMENT_LABEL, VaultScope
from retrieval.approved import (
    MAX_ANSWER_CHARS,
    MAX_QUESTION_CHARS,
    AnswerOrigin,
    ApprovedAnswer,
    ApprovedAnswerPublic,
)

log = logging.getLogger(__name__)

REDACTION_SOURCE = "approved_answer"
PLAN_ATTEMPTS = 3


class ApprovedAnswerCreate(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    # The personal data the masker finds is the business's own (its phone, its staff): keep it, masked.
    keep_business_details: bool = False


class ApprovedAnswerUpdate(BaseModel):
    question: str | None = Field(default=None, min_length=1, max_length=MAX_QUESTION_CHARS)
    answer: str | None = Field(default=None, min_length=1, max_length=MAX_ANSWER_CHARS)
    enabled: bool | None = None
    keep_business_details: bool = False


class ApprovedAnswers:
    """Approved answers in the database. The matching index (`ApprovedAnswerIndex`, in the turn's process)
    sees each change by the fingerprint it reads every turn, so nothing here needs the embeddings."""

    def __init__(self, *, engine: Engine, masker: Masker) -> None:
        self._engine = engine
        self._masker = masker

    def list_answers(self, business_id: int) -> list[ApprovedAnswerPublic]:
        with session_scope(self._engine) as session:
            rows = session.exec(
                select(ApprovedAnswer)
                .where(ApprovedAnswer.business_id == business_id)
                .order_by(col(ApprovedAnswer.id))
            ).all()
            return [_public(row) for row in rows]

    def get_answer(self, business_id: int, answer_id: int) -> ApprovedAnswerPublic:
        with session_scope(self._engine) as session:
            return _public(_owned(session, business_id, answer_id))

    def add(
        self, business_id: int, body: ApprovedAnswerCreate, origin: AnswerOrigin = AnswerOrigin.WRITTEN
    ) -> ApprovedAnswerPublic:
        """Mask and store a new approved answer (refused while it would hold a customer's personal data)."""
        for _attempt in range(PLAN_ATTEMPTS):
            with session_scope(self._engine) as session:
                masked = self._mask(
                    session, business_id, [body.question, body.answer], body.keep_business_details
                )
                if masked is None:
                    continue
                row = ApprovedAnswer(
                    business_id=business_id, question=masked[0].text, answer=masked[1].text, origin=origin
                )
                session.add(row)
                session.flush()
                self._record(session, business_id, row, masked)
                public = _public(row)
            self._changed(business_id, public.id, "approved answer added")
            return public
        raise Conflict("the knowledge base kept changing while the answer was masked: save it again")

    def update(self, business_id: int, answer_id: int, body: ApprovedAnswerUpdate) -> ApprovedAnswerPublic:
        """Change the texts (masked again, under the same rules) or whether the answer is used."""
        for _attempt in range(PLAN_ATTEMPTS):
            with session_scope(self._engine) as session:
                row = _owned(session, business_id, answer_id)
                if body.question is not None or body.answer is not None:
                    texts = [body.question or row.question, body.answer or row.answer]
                    masked = self._mask(session, business_id, texts, body.keep_business_details)
                    if masked is None:
                        continue
                    row.question, row.answer = masked[0].text, masked[1].text
                    forget_redactions(session, source_kind=REDACTION_SOURCE, source_ids=[answer_id])
                    self._record(session, business_id, row, masked)
                if body.enabled is not None:
                    row.enabled = body.enabled
                row.updated_at = utcnow()
                session.add(row)
                session.flush()
                public = _public(row)
            self._changed(business_id, answer_id, "approved answer changed")
            return public
        raise Conflict("the knowledge base kept changing while the answer was masked: save it again")

    def set_enabled(self, business_id: int, answer_id: int, enabled: bool) -> ApprovedAnswerPublic:
        """A disabled answer stays stored but is never matched until enabled again."""
        return self.update(business_id, answer_id, ApprovedAnswerUpdate(enabled=enabled))

    def delete(self, business_id: int, answer_id: int) -> None:
        with session_scope(self._engine) as session:
            row = _owned(session, business_id, answer_id)
            forget_redactions(session, source_kind=REDACTION_SOURCE, source_ids=[answer_id])
            session.delete(row)
        self._changed(business_id, answer_id, "approved answer deleted")

    def _mask(
        self, session: Session, business_id: int, texts: list[str], keep_business_details: bool
    ) -> list[MaskResult] | None:
        """The texts masked in the knowledge scope; None when the scope changed meanwhile (mask again)."""
        scope = VaultScope.knowledge(business_id)
        for text in texts:
            refuse_customer_placeholders(text)
        plan = self._masker.vault.planner(session, scope)
        stored = set(plan.stored_values())
        unknown = {p for t in texts for p in placeholders_in(t)} - stored
        if unknown:
            raise InvalidInput(
                f"the text holds {', '.join(sorted(unknown))}, which the business's knowledge does not: "
                "write the value out or remove it"
            )
        policy = self._masker.policy_for(session, business_id)
        masked = [self._masker.plan(session, text, plan, policy=policy) for text in texts]
        found = sorted({s.entity_type for m in masked for s in m.spans if s.placeholder not in stored})
        if found and not keep_business_details:
            raise InvalidInput(
                f"the text holds personal data ({', '.join(found)}): remove it, or, where it is the business's "
                "own (its phone number, its e-mail address, a member of staff), save with keep_business_details"
            )
        return masked if plan.keep(session) else None

    def _record(
        self, session: Session, business_id: int, row: ApprovedAnswer, masked: list[MaskResult]
    ) -> None:
        assert row.id is not None
        # The question's spans, then the answer's: each offset is into its own text.
        record_redactions(
            session,
            business_id=business_id,
            source_kind=REDACTION_SOURCE,
            source_id=row.id,
            spans=[span for m in masked for span in m.spans],
        )

    def _changed(self, business_id: int, answer_id: int, event: str) -> None:
        log.info(event, extra={"business_id": business_id, "approved_answer_id": answer_id})


def refuse_customer_placeholders(text: str) -> None:
    """Refuse a text still holding a conversation's placeholder (a customer's name, number, address)."""
    knowledge = f"<{DOCUMENT_LABEL}"
    customers = sorted(p for p in placeholders_in(text) if not p.startswith(knowledge))
    if customers:
        raise InvalidInput(
            f"the text still holds the customer's {', '.join(customers)}: replace each with the business's "
            "own words or remove it; a customer's personal data never enters an approved answer"
        )


def _owned(session: Session, business_id: int, answer_id: int) -> ApprovedAnswer:
    row = session.get(ApprovedAnswer, answer_id)
    if row is None or row.business_id != business_id:
        raise NotFound(f"no approved answer {answer_id} for this business")
    return row


def _public(row: ApprovedAnswer) -> ApprovedAnswerPublic:
    return ApprovedAnswerPublic.model_validate(row, from_attributes=True)
