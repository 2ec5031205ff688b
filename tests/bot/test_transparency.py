"""What customers are told and can ask: the first-contact privacy notice, data requests in their own words,
and how a compliance officer closes those requests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from api import cli
from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.desk.conversations import configure_policy
from bot.models import Contact, Direction, InboundStatus, Message
from bot.turn.policies import Intent, classify
from bot.turn.responders import Answer, AnswerRequest
from compliance.data_requests import close_data_request
from compliance.data_rights import erase_contact_data
from core.db import session_scope
from core.errors import Conflict, InvalidInput, NotFound
from core.tenants import create_business
from privacy.data_requests import RequestKind, RequestStatus, list_data_requests
from privacy.models import DataSubjectRequest, ErasureRecord
from tests.conftest import make_settings
from tests.fakes import NoPassages

pytestmark = pytest.mark.transparency

_ids = itertools.count()
PHONE = "447700900123"
ANSWER = "We open at 9."


class FixedResponder:
    def answer(self, request: AnswerRequest) -> Answer:
        return Answer(ANSWER, True)


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, mock_analyzer, mock_embeddings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = Runtime(
        make_settings(tmp_path / "var", database_url),
        analyzer=mock_analyzer,
        embeddings=mock_embeddings,
        retriever=NoPassages(),
        responder=FixedResponder(),
        console=print,
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="crumb", phone_number_id="42", box=rt.box, display_name="Crumb")
    yield rt
    rt.close()


def _turn(runtime: Runtime, text: str, sender: str = PHONE) -> list[str]:
    """One customer message handled; the masked texts of the replies it queued, in order."""
    batch = WebhookBatch(
        messages=[InboundMessage("42", f"wamid.{next(_ids)}", sender, "Maria Lopez", "text", text)]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)
    with session_scope(runtime.engine) as session:
        replies = session.exec(
            select(Message).where(Message.in_reply_to_id == message_id).order_by(col(Message.id))
        ).all()
        return [r.text_masked or "" for r in replies]


def _configure(runtime: Runtime, **changes: object) -> None:
    with session_scope(runtime.engine) as session:
        configure_policy(session, business_id=1, **changes)  # type: ignore[arg-type]


def _requests(runtime: Runtime) -> list[DataSubjectRequest]:
    with session_scope(runtime.engine) as session:
        return list_data_requests(session, business_id=1)


# --- the customer's words ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("What do you do with my data?", Intent.DATA_INFO),
        ("how do you use my personal information", Intent.DATA_INFO),
        ("Is my data safe with you?", Intent.DATA_INFO),
        ("who can see my messages?", Intent.DATA_INFO),
        ("what happens to my details", Intent.DATA_INFO),
        ("Where is your privacy policy?", Intent.DATA_INFO),
        ("Delete my data", Intent.DATA_ERASURE),
        ("please delete all my data", Intent.DATA_ERASURE),
        ("Can you erase my personal information?", Intent.DATA_ERASURE),
        ("I want my data deleted", Intent.DATA_ERASURE),
        ("remove my number", Intent.DATA_ERASURE),
        ("forget me", Intent.DATA_ERASURE),
        ("I'm using my right to be forgotten", Intent.DATA_ERASURE),
        ("delete my data! what do you do with my data anyway?", Intent.DATA_ERASURE),
        ("Send me my data", Intent.DATA_EXPORT),
        ("can you give me a copy of my data?", Intent.DATA_EXPORT),
        ("I'd like a copy of all my personal data", Intent.DATA_EXPORT),
        ("what data do you have about me?", Intent.DATA_EXPORT),
        ("email me my information please", Intent.DATA_EXPORT),
        ("This is a subject access request", Intent.DATA_EXPORT),
        # Everyday questions that only look like it.
        ("Can you delete my order?", Intent.QUESTION),
        ("Send me the menu", Intent.QUESTION),
        ("what do you do with leftover bread?", Intent.QUESTION),
        ("give me my receipt", Intent.QUESTION),
        ("STOP", Intent.STOP),
    ],
)
def test_data_requests_in_the_customer_own_words(text: str, intent: Intent) -> None:
    assert classify(text) is intent


# --- the first-contact notice --------------------------------------------------------------------
def test_the_notice_goes_once_before_the_first_answer_and_again_after_erasure(runtime: Runtime) -> None:
    _configure(runtime, privacy_notice_enabled=True, compliance_contact="privacy@crumb.example")
    notice, answer = _turn(runtime, "When are you open on Sunday?")
    assert notice.startswith("Privacy notice: Crumb answers your messages here with an automated assistant")
    for promise in (
        "Crumb is responsible for your data",
        "masked before any AI sees what you write",
        "deleted 365 days after your last message",
        "Send STOP at any time",
        '"send me my data"',
        '"delete my data"',
        "Questions about your data: privacy@crumb.example.",
    ):
        assert promise in notice, promise
    assert answer == ANSWER
    assert _turn(runtime, "And on Monday?") == [ANSWER]  # not again
    assert _turn(runtime, "Thanks, bye", sender="447700900999")[0] == notice  # another new contact: told

    erase_contact_data(runtime.engine, runtime.box, business_id=1, phone=PHONE)
    assert _turn(runtime, "Hello again, open on Sunday?") == [notice, ANSWER]  # a new contact once more
    with session_scope(runtime.engine) as session:
        queued = session.exec(select(Message).where(Message.direction == Direction.OUTBOUND)).all()
        # The notice is a reply like any other (outbox, unmasked when sent), with no sources of its own.
        assert [(m.status, m.sources) for m in queued if m.text_masked == notice] == [("queued", None)] * 2


def test_the_notice_is_off_until_the_business_turns_it_on(runtime: Runtime) -> None:
    assert _turn(runtime, "When are you open?") == [ANSWER]
    _configure(runtime, privacy_notice_enabled=True)
    # Maria was never told: she is, before her next answer.
    notice, answer = _turn(runtime, "And on Sunday?")
    assert "Questions about your data" not in notice  # no compliance contact set
    assert answer == ANSWER


def test_a_business_writes_its_own_notice(runtime: Runtime) -> None:
    _configure(
        runtime,
        privacy_notice_enabled=True,
        privacy_notice="{business} keeps chats {days} days. Reach {contact}. Say STOP to stop.",
        compliance_contact="  dpo@crumb.example \n",
        retention_days=30,
    )
    assert _turn(runtime, "hi") == [
        "Crumb keeps chats 30 days. Reach dpo@crumb.example. Say STOP to stop.",
        ANSWER,
    ]


def test_stop_as_a_first_word_gets_no_notice_and_start_gets_it(runtime: Runtime) -> None:
    _configure(runtime, privacy_notice_enabled=True)
    (stopped,) = _turn(runtime, "STOP")
    assert stopped.startswith("You won't get any more messages")
    notice, welcome = _turn(runtime, "START")
    assert notice.startswith("Privacy notice:") and welcome.startswith("Welcome back")


def test_asking_what_happens_to_my_data_answers_with_the_notice_once(runtime: Runtime) -> None:
    _configure(runtime, privacy_notice_enabled=True)
    (notice,) = _turn(runtime, "What do you do with my data?")  # the answer is the notice: not twice
    assert notice.startswith("Privacy notice: Crumb")
    assert _turn(runtime, "when are you open?") == [ANSWER]
    assert _turn(runtime, "is my data safe?") == [notice]  # asked again: answered again


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"privacy_notice": "Write to <PERSON_1>"}, "cannot contain < or >"),
        ({"privacy_notice": "x" * 1001}, "limited to 1,000 characters"),
        ({"compliance_contact": "<dpo@crumb.example>"}, "cannot contain < or >"),
        ({"compliance_contact": "d" * 201}, "limited to 200 characters"),
    ],
)
def test_a_notice_that_could_not_be_sent_is_refused(
    runtime: Runtime, change: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        _configure(runtime, **change)


def test_the_cli_configures_the_notice(runtime: Runtime) -> None:
    result = CliRunner().invoke(
        cli.app,
        ["tenant", "configure", "crumb", "--privacy-notice", "--compliance-contact", "dpo@crumb.example"],
        obj=runtime,
    )
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(
        "retention 365 days, privacy notice on, not sure: offer a person, satisfaction survey on"
    )
    notice, _ = _turn(runtime, "hello")
    assert notice.endswith("Questions about your data: dpo@crumb.example.")
    refused = CliRunner().invoke(
        cli.app, ["tenant", "configure", "crumb", "--notice-text", "<b>hi</b>"], obj=runtime
    )
    assert refused.exit_code == 1 and "cannot contain < or >" in str(refused.exception)


# --- data requests -------------------------------------------------------------------------------
def test_an_erasure_request_is_queued_with_its_deadline_never_carried_out(runtime: Runtime) -> None:
    (reply,) = _turn(runtime, "Please delete my data")
    (request,) = _requests(runtime)
    assert (request.kind, request.status, request.contact_id) == ("erasure", "open", 1)
    assert request.due_at - request.created_at == timedelta(days=30)
    due = f"{request.due_at.day} {request.due_at.strftime('%B %Y')}"
    assert reply == (
        f"Thanks: your request to delete your data (reference #{request.id}) is with our compliance team. "
        f"It will be done by {due} at the latest; they may first check that this number is yours, so that "
        "nobody else can have your data deleted."
    )
    with session_scope(runtime.engine) as session:  # nothing was erased on the chat's word
        assert session.exec(select(Contact)).one().id == 1
        assert len(session.exec(select(Message)).all()) == 2

    (again,) = _turn(runtime, "delete my data!!")
    assert again.endswith("(You asked already; that request is still open.)") and f"#{request.id}" in again
    (export,) = _turn(runtime, "and send me a copy of my data first")
    assert export.startswith("Thanks: your request for a copy of your data (reference #")
    assert [(r.kind, r.status) for r in _requests(runtime)] == [("erasure", "open"), ("export", "open")]


def test_a_request_is_filed_even_when_the_bot_stays_silent(runtime: Runtime) -> None:
    _turn(runtime, "STOP")
    assert _turn(runtime, "delete my data") == []
    assert [(r.kind, r.status) for r in _requests(runtime)] == [("erasure", "open")]
    with session_scope(runtime.engine) as session:
        last = session.exec(select(Message).order_by(col(Message.id).desc())).first()
        assert last is not None and last.status == InboundStatus.RECORDED


def test_closing_an_export_request_returns_the_export(runtime: Runtime) -> None:
    _turn(runtime, "send me my data")
    (request,) = _requests(runtime)
    assert request.id is not None
    closed = close_data_request(
        runtime.engine,
        runtime.box,
        business_id=1,
        request_id=request.id,
        status=RequestStatus.DONE,
        closed_by="user:3 dpo@crumb.example",
    )
    assert (
        closed.request.status is RequestStatus.DONE and closed.request.closed_by == "user:3 dpo@crumb.example"
    )
    assert closed.export is not None and closed.erasure is None
    assert closed.export["contact"]["phone"] == PHONE
    texts = [m["text"] for m in closed.export["conversations"][0]["messages"]]
    assert texts[0] == "send me my data" and texts[1].startswith("Thanks: your request for a copy")
    with pytest.raises(Conflict, match="already closed"):
        close_data_request(
            runtime.engine,
            runtime.box,
            business_id=1,
            request_id=request.id,
            status=RequestStatus.DONE,
            closed_by="api",
        )


def test_closing_an_erasure_request_erases_the_customer_and_keeps_the_request(runtime: Runtime) -> None:
    _turn(runtime, "Hi, I'm Maria Lopez, delete my data")
    _turn(runtime, "send me my data")
    erasure, export = _requests(runtime)
    assert erasure.id is not None and export.id is not None
    closed = close_data_request(
        runtime.engine,
        runtime.box,
        business_id=1,
        request_id=erasure.id,
        status=RequestStatus.DONE,
        closed_by="api",
    )
    assert closed.erasure is not None and closed.export is None
    assert (closed.erasure.messages, closed.erasure.conversations, closed.erasure.consent_records) == (
        4,
        1,
        0,
    )
    with session_scope(runtime.engine) as session:
        assert session.exec(select(Contact)).all() == []
        assert session.exec(select(Message)).all() == []
        (record,) = session.exec(select(ErasureRecord)).all()
        assert record.id == closed.erasure.erasure_id
    # Both requests stay, unlinked; the export can no longer be done, only rejected.
    assert [(r.kind, r.status, r.contact_id) for r in _requests(runtime)] == [
        ("export", "open", None),
        ("erasure", "done", None),
    ]
    with pytest.raises(Conflict, match="nothing to export"):
        close_data_request(
            runtime.engine,
            runtime.box,
            business_id=1,
            request_id=export.id,
            status=RequestStatus.DONE,
            closed_by="api",
        )
    rejected = close_data_request(
        runtime.engine,
        runtime.box,
        business_id=1,
        request_id=export.id,
        status=RequestStatus.REJECTED,
        closed_by="api",
    )
    assert rejected.request.status is RequestStatus.REJECTED and rejected.request.closed_at is not None


def test_a_rejected_erasure_erases_nothing_and_another_business_cannot_close_it(runtime: Runtime) -> None:
    _turn(runtime, "delete my data")
    (request,) = _requests(runtime)
    assert request.id is not None
    with session_scope(runtime.engine) as session:
        other = create_business(session, name="other", phone_number_id="43", box=runtime.box)
    assert other.id is not None
    with pytest.raises(NotFound):
        close_data_request(
            runtime.engine,
            runtime.box,
            business_id=other.id,
            request_id=request.id,
            status=RequestStatus.DONE,
            closed_by="api",
        )
    closed = close_data_request(
        runtime.engine,
        runtime.box,
        business_id=1,
        request_id=request.id,
        status=RequestStatus.REJECTED,
        closed_by="api",
    )
    assert closed.erasure is None and closed.request.kind is RequestKind.ERASURE
    with session_scope(runtime.engine) as session:
        assert len(session.exec(select(Message)).all()) == 2
        assert session.exec(select(Contact)).one().id == 1
