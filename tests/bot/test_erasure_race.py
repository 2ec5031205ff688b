"""An erasure that lands while a turn is in flight: the turn writes nothing back, nothing of the customer stays."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import Contact, Conversation, Message
from bot.turn.responders import Answer, AnswerRequest, ExtractiveResponder
from compliance.data_rights import erase_contact_data
from core.db import session_scope
from core.tenants import create_business
from privacy.models import ConsentRecord, ErasureRecord, RedactionEvent, VaultEntry
from tests.conftest import make_settings
from tests.helpers import ResponderSlot

PHONE = "447700900123"


class ErasingResponder:
    """Where a language model would sit: while it "thinks", the customer's erasure is carried out."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.erasure: threading.Thread | None = None
        self.erased = threading.Event()

    def answer(self, request: AnswerRequest) -> Answer:
        def erase() -> None:
            erase_contact_data(self.runtime.engine, self.runtime.box, business_id=1, phone=f"+{PHONE}")
            self.erased.set()

        self.erasure = threading.Thread(target=erase)
        self.erasure.start()
        # PostgreSQL: the erasure commits now. SQLite: its rebuild waits for this turn's read to end.
        self.erased.wait(3)
        return Answer(f"Yes {request.customer}, we deliver on Sundays.", confident=True, sources=[])


@pytest.fixture
def responder_slot(embeddings) -> ResponderSlot:  # type: ignore[no-untyped-def]
    """The runtime's responder: the extractive one until a test puts its own in."""
    return ResponderSlot(ExtractiveResponder(embeddings))


@pytest.fixture
def runtime(
    tmp_path: Path, database_url: str, analyzer, embeddings, responder_slot: ResponderSlot
) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path / "var", database_url, send_lanes=0)
    rt = Runtime(settings, analyzer=analyzer, embeddings=embeddings, responder=responder_slot)
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=rt.box)
    yield rt
    rt.close()


def test_an_erasure_during_a_turn_leaves_no_trace_of_the_customer(
    runtime: Runtime, responder_slot: ResponderSlot
) -> None:
    responder = ErasingResponder(runtime)
    responder_slot.use(responder)
    text = "Hi, I'm Maria Lopez, maria.lopez@example.com. Do you deliver on Sundays?"
    batch = WebhookBatch(messages=[InboundMessage("42", "wamid.1", PHONE, "Maria Lopez", "text", text)])
    assert len(runtime.intake.accept(batch).stored) == 1

    assert runtime.assistant.handle(1) is None  # nothing to answer any more, and no error
    assert responder.erasure is not None
    responder.erasure.join(30)
    assert responder.erased.is_set()

    with session_scope(runtime.engine) as session:
        for table in (Contact, Conversation, Message, VaultEntry, RedactionEvent, ConsentRecord):
            assert session.exec(select(table)).all() == [], table.__name__
        assert len(session.exec(select(ErasureRecord)).all()) == 1
