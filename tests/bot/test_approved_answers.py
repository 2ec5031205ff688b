"""Approved answers: saved masked, never with a customer's personal data; sent instead of the documents'
answer when a customer's question asks theirs (a paraphrase does, an unrelated question does not); disabled
or deleted ones are not sent; one business never sees or matches another's."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import Message
from bot.turn.responders import Answer, AnswerRequest, not_sure
from core.db import session_scope
from core.errors import InvalidInput, NotFound
from core.tenants import create_business
from ingest.answers import ApprovedAnswerCreate, ApprovedAnswerUpdate
from privacy.masker import unmask_text
from privacy.models import RedactionEvent
from privacy.vault import VaultScope
from retrieval.approved import AnswerOrigin, ApprovedAnswerPublic
from tests.conftest import make_settings
from tests.fakes import NoPassages

_ids = itertools.count()
OFFICES = ApprovedAnswerCreate(
    question="Can you deliver a cake to my office?",
    answer="Yes: we deliver cakes to offices within 5 miles, Tuesday to Saturday, for £3.50.",
)


class NeverSure:
    def answer(self, request: AnswerRequest) -> Answer:
        return not_sure(request)


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, analyzer, embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(
        make_settings(tmp_path / "var", database_url),
        analyzer=analyzer,
        embeddings=embeddings,
        retriever=NoPassages(),
        responder=NeverSure(),
        console=print,
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="crumb", phone_number_id="42", box=rt.box, display_name="Crumb")
        create_business(session, name="other", phone_number_id="43", box=rt.box, display_name="Other")
    yield rt
    rt.close()


def _business(runtime: Runtime, name: str) -> int:
    from core.tenants import get_business_by_name

    with session_scope(runtime.engine) as session:
        business_id = get_business_by_name(session, name).id
    assert business_id is not None
    return business_id


def _turn(runtime: Runtime, text: str, phone_number_id: str = "42") -> tuple[str, str, int | None]:
    """One customer message handled: its first reply's kind, masked text and approved answer id."""
    batch = WebhookBatch(
        messages=[
            InboundMessage(
                phone_number_id, f"wamid.{next(_ids)}", "447700900123", "Maria Lopez", "text", text
            )
        ]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)
    with session_scope(runtime.engine) as session:
        reply = session.exec(
            select(Message).where(Message.in_reply_to_id == message_id).order_by(col(Message.id))
        ).first()
    assert reply is not None
    return reply.kind, reply.text_masked or "", reply.approved_answer_id


def test_a_customer_placeholder_left_in_the_text_refuses_the_save(runtime: Runtime) -> None:
    crumb = _business(runtime, "crumb")
    from_conversation = ApprovedAnswerCreate(
        question="Hi, I'm <PERSON_1>, can you deliver to my office?",
        answer="Yes <PERSON_1>, we deliver to offices; we will call you on <PHONE_NUMBER_2>.",
    )
    with pytest.raises(InvalidInput) as refused:
        runtime.approved_answers.add(crumb, from_conversation, AnswerOrigin.CONVERSATION)
    assert "<PERSON_1>" in refused.value.message and "<PHONE_NUMBER_2>" not in refused.value.message
    assert runtime.approved_answers.list_answers(crumb) == []
    # The agent put the business's words in their place: saved.
    edited = ApprovedAnswerCreate(
        question="Can you deliver to my office?", answer="Yes, we deliver to offices within 5 miles."
    )
    saved = runtime.approved_answers.add(crumb, edited, AnswerOrigin.CONVERSATION)
    assert (saved.question, saved.answer, saved.origin) == (edited.question, edited.answer, "conversation")


def test_personal_data_in_a_written_answer_is_refused_unless_kept_as_the_business_own(
    runtime: Runtime,
) -> None:
    crumb = _business(runtime, "crumb")
    text = "Call our orders line on +44 20 7946 0018 or write to orders@crumbandco.example."
    body = ApprovedAnswerCreate(question="How do I order a cake?", answer=text)
    # A role address (orders@) is a business's in its documents too, and stays readable; a number is masked.
    with pytest.raises(InvalidInput, match=r"personal data \(PHONE_NUMBER\)"):
        runtime.approved_answers.add(crumb, body)

    saved = runtime.approved_answers.add(crumb, body.model_copy(update={"keep_business_details": True}))
    assert (
        saved.answer == "Call our orders line on <DOC_PHONE_NUMBER_1> or write to orders@crumbandco.example."
    )
    with session_scope(runtime.engine) as session:
        # Restored for the customer as a document's placeholders are (the outbox's scopes).
        assert unmask_text(session, runtime.vault, saved.answer, [VaultScope.knowledge(crumb)]) == text
        logged = session.exec(select(RedactionEvent.source_kind, RedactionEvent.entity_type)).all()
    assert logged == [("approved_answer", "PHONE_NUMBER")]

    # The same number again is the business's own already: no refusal, the same placeholder.
    again = ApprovedAnswerCreate(question="Can I phone you?", answer="Yes, on +44 20 7946 0018.")
    assert runtime.approved_answers.add(crumb, again).answer == "Yes, on <DOC_PHONE_NUMBER_1>."


def test_a_paraphrase_gets_the_approved_answer_and_an_unrelated_question_does_not(runtime: Runtime) -> None:
    saved = runtime.approved_answers.add(_business(runtime, "crumb"), OFFICES)

    assert _turn(runtime, "Do you deliver cakes to offices?") == ("interactive", OFFICES.answer, saved.id)
    kind, text, approved = _turn(runtime, "Is the gluten-free bread made in a separate kitchen?")
    assert (kind, approved) == ("offer", None) and text != OFFICES.answer
    assert _turn(runtime, "When are you open on Sunday?")[2] is None


def test_disabled_and_deleted_answers_are_no_longer_sent(runtime: Runtime) -> None:
    crumb = _business(runtime, "crumb")
    saved = runtime.approved_answers.add(crumb, OFFICES)
    assert _turn(runtime, "Do you deliver cakes to offices?")[2] == saved.id

    runtime.approved_answers.set_enabled(crumb, saved.id, False)
    assert _turn(runtime, "Do you deliver cakes to offices?")[2] is None
    runtime.approved_answers.set_enabled(crumb, saved.id, True)
    # Edited: the new text is sent (the index saw the change).
    edited = runtime.approved_answers.update(crumb, saved.id, ApprovedAnswerUpdate(answer="Yes, from £3.50."))
    assert _turn(runtime, "Do you deliver cakes to offices?")[1:] == ("Yes, from £3.50.", saved.id)

    runtime.approved_answers.delete(crumb, edited.id)
    assert _turn(runtime, "Do you deliver cakes to offices?")[2] is None
    assert runtime.approved_answers.list_answers(crumb) == []


def test_another_business_never_sees_nor_matches_an_answer(runtime: Runtime) -> None:
    crumb, other = _business(runtime, "crumb"), _business(runtime, "other")
    saved: ApprovedAnswerPublic = runtime.approved_answers.add(crumb, OFFICES)

    assert runtime.approved_answers.list_answers(other) == []
    for call in (
        lambda: runtime.approved_answers.get_answer(other, saved.id),
        lambda: runtime.approved_answers.set_enabled(other, saved.id, False),
        lambda: runtime.approved_answers.delete(other, saved.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert _turn(runtime, "Do you deliver cakes to offices?", phone_number_id="43")[2] is None
    assert _turn(runtime, "Do you deliver cakes to offices?", phone_number_id="42")[2] == saved.id
