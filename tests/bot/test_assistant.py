"""A turn without FastAPI: the responder (where a language model would sit) sees masked text only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from sqlmodel import select

from api.runtime import Runtime
from bot.channel.outbox import Attempt
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import Message, OutboundStatus
from bot.turn.responders import Answer, AnswerRequest, ChatModelResponder, ExtractiveResponder
from core.db import session_scope
from core.tenants import create_business
from retrieval.search import Passage
from tests.conftest import EXAMPLES, make_settings
from tests.helpers import ResponderSlot

RAW = ["Maria", "Lopez", "maria.lopez@example.com", "7700 900123", "447700900123"]


class RecordingResponder:
    def __init__(self) -> None:
        self.requests: list[AnswerRequest] = []

    def answer(self, request: AnswerRequest) -> Answer:
        self.requests.append(request)
        return Answer(f"Hello {request.customer}, noted <EMAIL_ADDRESS_1>. <PERSON_9> is invented.", True)


@pytest.fixture
def responder_slot(embeddings) -> ResponderSlot:  # type: ignore[no-untyped-def]
    """The runtime's responder: the extractive one until a test puts its own in."""
    return ResponderSlot(ExtractiveResponder(embeddings))


@pytest.fixture
def runtime(
    tmp_path: Path, sqlite_url: str, analyzer, embeddings, responder_slot: ResponderSlot
) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    printed: list[str] = []
    rt = Runtime(
        make_settings(tmp_path / "var", sqlite_url),
        analyzer=analyzer,
        embeddings=embeddings,
        responder=responder_slot,
        console=printed.append,
    )
    rt.printed = printed  # type: ignore[attr-defined]
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box)
    yield rt
    rt.close()


def _receive(runtime: Runtime, text: str) -> int:
    batch = WebhookBatch(
        messages=[InboundMessage("42", "wamid.1", "447700900123", "Maria Lopez", "text", text)]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    return message_id


def test_the_responder_sees_only_masked_text_and_invented_placeholders_are_dropped(
    runtime: Runtime, responder_slot: ResponderSlot
) -> None:
    recorder = RecordingResponder()
    responder_slot.use(recorder)
    message_id = _receive(
        runtime, "I'm Maria Lopez (maria.lopez@example.com, +44 7700 900123). Do you deliver?"
    )
    outcome = runtime.assistant.handle(message_id)
    assert outcome is not None and len(outcome.replies) == 1
    (request,) = recorder.requests
    seen = repr(request)
    assert all(value not in seen for value in RAW)
    assert request.customer == "<PERSON_1>"
    assert request.question == "I'm <PERSON_1> (<EMAIL_ADDRESS_1>, <PHONE_NUMBER_1>). Do you deliver?"
    # Console mode (no access token): the reply is stored and printed masked.
    assert runtime.outbox.deliver_due() == 1
    assert runtime.printed == [  # type: ignore[attr-defined]
        "[console] reply for conversation 1: Hello <PERSON_1>, noted <EMAIL_ADDRESS_1>. <PERSON_9> is invented."
    ]
    with session_scope(runtime.engine) as session:
        reply = session.exec(select(Message).where(Message.id == outcome.replies[0])).one()
        assert reply.status == OutboundStatus.PRINTED
        unmasked = runtime.masker.unmask(session, reply.text_masked or "", [runtime_scope(reply)])
    assert unmasked == "Hello Maria Lopez, noted maria.lopez@example.com. is invented."


def runtime_scope(message: Message):  # type: ignore[no-untyped-def]
    from privacy.vault import VaultScope

    return VaultScope.conversation(message.conversation_id)


def test_a_handled_message_is_not_handled_twice(runtime: Runtime, responder_slot: ResponderSlot) -> None:
    responder_slot.use(RecordingResponder())
    message_id = _receive(runtime, "hello")
    assert runtime.assistant.handle(message_id) is not None
    assert runtime.assistant.handle(message_id) is None


def test_chat_model_prompt_holds_masked_passages_and_question_only(embeddings) -> None:  # type: ignore[no-untyped-def]
    model = FakeListChatModel(responses=["We open at 9 am on Sundays [1]."])
    prompts: list[str] = []
    original = model._call

    def recording(messages, *args, **kwargs):  # type: ignore[no-untyped-def]
        prompts.append("\n".join(str(m.content) for m in messages))
        return original(messages, *args, **kwargs)

    object.__setattr__(model, "_call", recording)
    responder = ChatModelResponder(model, fallback=ExtractiveResponder(embeddings), embeddings=embeddings)
    passage = Passage("v1", 1, "Hours", "Hours\nOn Sundays we open at 9 am.", 0.7)
    answer = responder.answer(
        AnswerRequest(
            question="<PERSON_1> asks: open on Sunday?",
            passages=[passage],
            business_name="Crumb",
            customer="<PERSON_1>",
        )
    )
    assert answer.confident and answer.text == "We open at 9 am on Sundays [1]."
    assert "[1] (Hours)\nOn Sundays we open at 9 am." in prompts[0]
    assert "<PERSON_1> asks: open on Sunday?" in prompts[0]


def test_a_failing_chat_model_falls_back_to_the_extractive_answer(embeddings) -> None:  # type: ignore[no-untyped-def]
    class Broken(FakeListChatModel):
        def _call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise TimeoutError("model down")

    responder = ChatModelResponder(
        Broken(responses=["x"]), fallback=ExtractiveResponder(embeddings), embeddings=embeddings
    )
    passage = Passage("v1", 1, "Hours", "Hours\nOn Sundays we open at 9 am.", 0.7)
    answer = responder.answer(
        AnswerRequest(question="open on Sunday?", passages=[passage], business_name="Crumb")
    )
    assert (
        answer.confident and "On Sundays we open at 9 am." in answer.text and "(Source: Hours)" in answer.text
    )


def test_extractive_answer_quotes_the_best_sentence_and_names_the_source(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        business = create_business(session, name="bakery", phone_number_id="43", box=runtime.box)
    runtime.pipeline.ingest_paths(business.id or 0, sorted(EXAMPLES.iterdir()))
    passages = runtime.retriever.search(business.id or 0, "Is the delivery free?")
    answer = ExtractiveResponder(runtime.embeddings).answer(
        AnswerRequest(
            question="Is the delivery free?", passages=passages, business_name="Crumb", customer="<PERSON_1>"
        )
    )
    assert answer.confident
    assert answer.text.startswith("Hi <PERSON_1>! ")
    assert "free for orders over £30" in answer.text
    assert answer.text.endswith("(Source: Delivery and orders)")


class LockProbingResponder(RecordingResponder):
    """Writes from another connection while the turn is answering, as a webhook would, and never waits."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.wrote_while_answering = False

    def answer(self, request: AnswerRequest) -> Answer:
        import sqlite3

        path = self.url.removeprefix("sqlite:///")
        other = sqlite3.connect(path, timeout=0)  # no busy wait: a held write lock fails at once
        try:
            other.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
            other.execute("INSERT INTO probe VALUES (1)")
            other.commit()
            self.wrote_while_answering = True
        finally:
            other.close()
        return super().answer(request)


def test_a_turn_holds_no_write_lock_while_it_answers(
    runtime: Runtime, sqlite_url: str, responder_slot: ResponderSlot
) -> None:
    probe = LockProbingResponder(sqlite_url)
    responder_slot.use(probe)
    # New values (a name, an address, the sender's number) all need vault entries: planned, written last.
    message_id = _receive(runtime, "I'm Maria Lopez, maria.lopez@example.com. Do you deliver?")
    outcome = runtime.assistant.handle(message_id)
    assert probe.wrote_while_answering
    assert outcome is not None and len(outcome.replies) == 1
    (request,) = probe.requests
    assert request.question == "I'm <PERSON_1>, <EMAIL_ADDRESS_1>. Do you deliver?"
    with session_scope(runtime.engine) as session:
        message = session.get(Message, message_id)
        assert message is not None and message.text_sealed is None
        assert message.text_masked == request.question
        reply = session.get(Message, outcome.replies[0])
        assert reply is not None
        unmasked = runtime.masker.unmask(session, reply.text_masked or "", [runtime_scope(reply)])
    assert unmasked == "Hello Maria Lopez, noted maria.lopez@example.com. is invented."


class NoteWritingResponder(RecordingResponder):
    """An agent adds a note with a new address to the conversation while the first answer is computed."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    def answer(self, request: AnswerRequest) -> Answer:
        if not self.requests:
            with session_scope(self.runtime.engine) as session:
                self.runtime.masker.mask(session, "ann@example.net", runtime_scope_of(1))
        return super().answer(request)


def runtime_scope_of(conversation_id: int):  # type: ignore[no-untyped-def]
    from privacy.vault import VaultScope

    return VaultScope.conversation(conversation_id)


def test_a_turn_whose_placeholder_was_taken_meanwhile_is_computed_again(
    runtime: Runtime, responder_slot: ResponderSlot
) -> None:
    recorder = NoteWritingResponder(runtime)
    responder_slot.use(recorder)
    message_id = _receive(runtime, "Please mail maria.lopez@example.com")
    outcome = runtime.assistant.handle(message_id)
    assert outcome is not None and len(outcome.replies) == 1
    first, second = recorder.requests  # planned, overtaken by the note, planned again
    assert first.question == "Please mail <EMAIL_ADDRESS_1>"
    assert second.question == "Please mail <EMAIL_ADDRESS_2>"
    with session_scope(runtime.engine) as session:
        reply = session.get(Message, outcome.replies[0])
        assert reply is not None
        assert reply.text_masked == "Hello <PERSON_1>, noted <EMAIL_ADDRESS_1>. <PERSON_9> is invented."
        message = session.get(Message, message_id)
        assert message is not None and message.text_masked == "Please mail <EMAIL_ADDRESS_2>"
        values = runtime.masker.vault.values(session, runtime_scope_of(1))
    assert values["<EMAIL_ADDRESS_1>"] == ("EMAIL_ADDRESS", "ann@example.net")
    assert values["<EMAIL_ADDRESS_2>"] == ("EMAIL_ADDRESS", "maria.lopez@example.com")


class WebhookDuringAnswer(RecordingResponder):
    """While the turn answers, the customer's next message arrives: its webhook must not wait on the turn."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime
        self.stored_in_time = False

    def answer(self, request: AnswerRequest) -> Answer:
        import threading

        batch = WebhookBatch(
            messages=[InboundMessage("42", "wamid.2", "447700900123", "Maria Lopez", "text", "and Sundays?")]
        )
        intake = threading.Thread(target=self.runtime.intake.accept, args=(batch,))
        intake.start()
        intake.join(timeout=5)  # a turn holding its locks would keep it waiting until the commit
        self.stored_in_time = not intake.is_alive()
        intake.join()
        return super().answer(request)


@pytest.fixture
def any_db_runtime(
    tmp_path: Path, database_url: str, analyzer, embeddings, responder_slot: ResponderSlot
) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(
        make_settings(tmp_path / "var", database_url),
        analyzer=analyzer,
        embeddings=embeddings,
        responder=responder_slot,
        console=lambda _line: None,
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box)
    yield rt
    rt.close()


def test_the_next_webhook_of_a_conversation_is_stored_while_its_turn_is_answered(
    any_db_runtime: Runtime,
    responder_slot: ResponderSlot,
) -> None:
    runtime = any_db_runtime
    responder = WebhookDuringAnswer(runtime)
    responder_slot.use(responder)
    message_id = _receive(runtime, "Hi, I'm Maria Lopez. Do you deliver?")
    assert runtime.assistant.handle(message_id) is not None
    assert responder.stored_in_time
    with session_scope(runtime.engine) as session:
        inbound = session.exec(select(Message).where(Message.wa_message_id == "wamid.2")).one()
        assert inbound.conversation_id == session.get(Message, message_id).conversation_id  # type: ignore[union-attr]


COVID_FAQ = "\n\n".join(
    f"## {question}\n{answer}"
    for question, answer in [
        ("What is Covid?", "Covid, also called Corona, is the disease the coronavirus causes."),
        ("How does Covid spread?", "Corona spreads in droplets; Covid spreads most indoors."),
        ("Is there a Covid vaccine?", "Yes: Corona vaccines lower the risk of severe Covid."),
        ("How long does Covid last?", "Most Corona infections pass in two weeks; Covid can last longer."),
    ]
)


def test_the_words_a_knowledge_base_keeps_using_are_no_customer_names(
    runtime: Runtime, responder_slot: ResponderSlot
) -> None:
    recorder = RecordingResponder()
    responder_slot.use(recorder)
    with session_scope(runtime.engine) as session:
        business_id = create_business(session, name="clinic", phone_number_id="43", box=runtime.box).id
    assert business_id is not None
    runtime.pipeline.ingest_bytes(business_id, "covid.md", COVID_FAQ.encode())
    batch = WebhookBatch(
        messages=[
            InboundMessage(
                "43", "wamid.9", "447700900123", "Maria Lopez", "text", "What does Corona and Covid mean?"
            )
        ]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    assert runtime.assistant.handle(message_id) is not None
    (request,) = recorder.requests
    assert request.question == "What does Corona and Covid mean?"
    # The demo business has no such knowledge base: there, spaCy's guess stands and both are masked.
    demo_message = _receive(runtime, "What does Corona and Covid mean?")
    runtime.assistant.handle(demo_message)
    assert recorder.requests[-1].question == "What does <PERSON_2> and <PERSON_3> mean?"


def test_a_reply_claimed_by_another_deliverer_is_neither_read_nor_sent(
    runtime: Runtime, responder_slot: ResponderSlot
) -> None:
    """`Outbox.deliver` claims before it reads: a reply another deliverer holds is left alone, and one
    queued again (a dead deliverer's) is printed once."""
    responder_slot.use(RecordingResponder())
    outcome = runtime.assistant.handle(_receive(runtime, "Do you deliver?"))
    assert outcome is not None
    (reply_id,) = outcome.replies

    def set_status(status: OutboundStatus) -> None:
        with session_scope(runtime.engine) as session:
            row = session.exec(select(Message).where(Message.id == reply_id)).one()
            row.status = status
            session.add(row)

    set_status(OutboundStatus.SENDING)
    assert runtime.outbox.deliver(reply_id) is Attempt.SKIPPED
    assert runtime.printed == []  # type: ignore[attr-defined]
    set_status(OutboundStatus.QUEUED)
    assert runtime.outbox.deliver(reply_id) is Attempt.SETTLED
    assert runtime.outbox.deliver(reply_id) is Attempt.SKIPPED
    with session_scope(runtime.engine) as session:
        sent = session.exec(select(Message).where(Message.id == reply_id)).one()
    assert (sent.status, sent.attempts, len(runtime.printed)) == (OutboundStatus.PRINTED, 1, 1)  # type: ignore[attr-defined]
