"""Webhook intake of WhatsApp's `user_preferences`: one ledger record per stop or resume, in event order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.channel.inbound import WebhookIntake
from bot.channel.whatsapp import InboundMessage, PreferenceUpdate, WebhookBatch
from bot.models import Contact, Conversation, Message
from compliance.data_rights import erase_contact_data
from core.crypto import SecretBox
from core.db import create_db_engine, session_scope
from core.migrate import upgrade
from core.tenants import create_business
from privacy.consent import Purpose, current_consent
from privacy.models import ConsentRecord

NUMBER = "447700900123"
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def intake(database_url: str) -> Iterator[tuple[WebhookIntake, Engine, SecretBox]]:
    upgrade(database_url)
    engine = create_db_engine(database_url)
    box = SecretBox([Fernet.generate_key()])
    with session_scope(engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=box)
    yield WebhookIntake(engine, box), engine, box
    engine.dispose()


def _preference(
    granted: bool, at: datetime | None, *, category: str = "marketing_messages", phone_number_id: str = "42"
) -> PreferenceUpdate:
    return PreferenceUpdate(phone_number_id, NUMBER, "Maria Lopez", category, granted, at)


def _ledger(engine: Engine) -> list[tuple[str, bool, str, datetime]]:
    with session_scope(engine) as session:
        rows = session.exec(select(ConsentRecord).order_by(col(ConsentRecord.id))).all()
        return [(r.purpose, r.granted, r.source, r.created_at) for r in rows]


def test_stop_from_an_unknown_number_creates_the_sealed_contact_and_withdraws_marketing(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, box = intake
    result = webhook.accept(WebhookBatch(preferences=[_preference(False, T0)]))
    assert (result.preferences, result.duplicates, result.stored) == (1, 0, [])
    assert _ledger(engine) == [("marketing", False, "user_preferences", T0)]
    with session_scope(engine) as session:
        (contact,) = session.exec(select(Contact)).all()
        assert contact.wa_id_hash == box.lookup_hash(NUMBER)
        assert NUMBER not in contact.wa_id_sealed and box.open(contact.wa_id_sealed) == NUMBER
        assert (
            contact.profile_name_sealed is not None and box.open(contact.profile_name_sealed) == "Maria Lopez"
        )
        assert session.exec(select(Conversation)).all() == []  # no message, no conversation
        assert contact.id is not None
        assert current_consent(session, contact.id)[Purpose.MARKETING] is False


def test_a_repeated_delivery_is_one_record_and_late_events_keep_their_order(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, _ = intake
    later = T0.replace(hour=10)
    first = webhook.accept(WebhookBatch(preferences=[_preference(True, later)]))
    again = webhook.accept(WebhookBatch(preferences=[_preference(True, later)]))
    stale = webhook.accept(WebhookBatch(preferences=[_preference(False, T0)]))  # sent first, arrived last
    assert [(r.preferences, r.duplicates) for r in (first, again, stale)] == [(1, 0), (0, 1), (1, 0)]
    assert len(_ledger(engine)) == 2
    with session_scope(engine) as session:
        (contact,) = session.exec(select(Contact)).all()
        assert contact.id is not None
        assert current_consent(session, contact.id)[Purpose.MARKETING] is True  # the newer choice holds


def test_without_a_time_every_delivery_is_recorded_at_arrival(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, _ = intake
    for _ in range(2):
        assert webhook.accept(WebhookBatch(preferences=[_preference(False, None)])).preferences == 1
    assert [row[:3] for row in _ledger(engine)] == [("marketing", False, "user_preferences")] * 2


def test_unknown_categories_and_numbers_record_nothing(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, _ = intake
    result = webhook.accept(
        WebhookBatch(
            preferences=[
                _preference(False, T0, category="utility_messages"),
                _preference(False, T0, phone_number_id="999"),
            ]
        )
    )
    assert (result.preferences, result.unknown_number, result.duplicates) == (0, 1, 0)
    assert _ledger(engine) == []
    with session_scope(engine) as session:
        assert session.exec(select(Contact)).all() == []


class RacedIntake(WebhookIntake):
    """Meta delivers the same message twice at once: the other request stores it while this one is mid-way."""

    def __init__(self, engine: Engine, box: SecretBox, batch: WebhookBatch) -> None:
        super().__init__(engine, box)
        self._batch: WebhookBatch | None = batch

    def _customer(self, connection, business_id, wa_hash, wamid):  # type: ignore[no-untyped-def]
        customer = super()._customer(connection, business_id, wa_hash, wamid)  # read before the other stored
        if self._batch is not None:
            batch, self._batch = self._batch, None
            assert WebhookIntake(self._engine, self._box).accept(batch).stored  # the racing request
        return customer


def test_a_delivery_stored_meanwhile_by_a_racing_request_is_a_duplicate_not_an_error(intake) -> None:  # type: ignore[no-untyped-def]
    _webhook, engine, box = intake
    batch = WebhookBatch(messages=[InboundMessage("42", "wamid.twice", NUMBER, "Maria Lopez", "text", "hi")])
    result = RacedIntake(engine, box, batch).accept(batch)
    assert (result.stored, result.duplicates) == ([], 1)
    with session_scope(engine) as session:
        assert [m.wa_message_id for m in session.exec(select(Message)).all()] == ["wamid.twice"]
        assert len(session.exec(select(Contact)).all()) == 1


def test_a_new_customer_writing_twice_at_once_gets_one_contact_and_conversation(intake) -> None:  # type: ignore[no-untyped-def]
    _webhook, engine, _ = intake
    other = WebhookBatch(messages=[InboundMessage("42", "wamid.one", NUMBER, "Maria Lopez", "text", "hi")])
    mine = WebhookBatch(messages=[InboundMessage("42", "wamid.two", NUMBER, "Maria Lopez", "text", "hello?")])
    result = RacedIntake(engine, intake[2], other).accept(mine)
    assert len(result.stored) == 1 and result.duplicates == 0
    with session_scope(engine) as session:
        (contact,) = session.exec(select(Contact)).all()
        (conversation,) = session.exec(select(Conversation)).all()
        rows = session.exec(select(Message).order_by(col(Message.id))).all()
        assert [(m.wa_message_id, m.conversation_id) for m in rows] == [
            ("wamid.one", conversation.id),
            ("wamid.two", conversation.id),
        ]
        assert intake[2].open(contact.wa_id_sealed) == NUMBER


class VanishingConversation(WebhookIntake):
    """The conversation the read found is erased before the write (a data-subject request, say)."""

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        super().__init__(engine, box)
        self.erase = True

    def _customer(self, connection, business_id, wa_hash, wamid):  # type: ignore[no-untyped-def]
        customer = super()._customer(connection, business_id, wa_hash, wamid)
        if self.erase and customer.conversation_id is not None:
            self.erase = False
            with session_scope(self._engine) as session:
                for message in session.exec(select(Message)).all():
                    session.delete(message)
                session.flush()
                session.delete(session.get(Conversation, customer.conversation_id))
        return customer


def test_a_message_whose_conversation_went_meanwhile_starts_a_new_one(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, box = intake
    webhook.accept(_message("wamid.a", "hi"))
    intake = VanishingConversation(engine, box)
    (second,) = intake.accept(_message("wamid.b", "still there?")).stored
    assert not intake.erase  # the conversation did go between the read and the write
    with session_scope(engine) as session:
        (conversation,) = session.exec(select(Conversation)).all()
        (message,) = session.exec(select(Message)).all()
        assert conversation.last_inbound_at is not None
        assert (message.id, message.conversation_id, message.wa_message_id) == (
            second,
            conversation.id,
            "wamid.b",
        )


def _message(
    wamid: str, text: str, name: str | None = "Maria Lopez", phone_number_id: str = "42"
) -> WebhookBatch:
    return WebhookBatch(messages=[InboundMessage(phone_number_id, wamid, NUMBER, name, "text", text)])


def test_a_returning_customer_is_stored_under_its_contact_and_latest_conversation(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, box = intake
    (first,) = webhook.accept(_message("wamid.a", "hi")).stored
    (second,) = webhook.accept(_message("wamid.b", "are you open?")).stored
    assert webhook.accept(_message("wamid.b", "are you open?")).duplicates == 1  # the same delivery again
    with session_scope(engine) as session:
        (contact,) = session.exec(select(Contact)).all()
        (conversation,) = session.exec(select(Conversation)).all()
        sealed_name = contact.profile_name_sealed
        rows = session.exec(select(Message).order_by(col(Message.id))).all()
        assert [(m.id, m.conversation_id) for m in rows] == [
            (first, conversation.id),
            (second, conversation.id),
        ]
        assert box.open(rows[1].text_sealed or "") == "are you open?"
        assert conversation.last_inbound_at is not None
        # A conversation started since (an agent closed the first): the next message goes to the latest.
        newer = Conversation(business_id=contact.business_id, contact_id=contact.id)  # type: ignore[arg-type]
        session.add(newer)
        session.flush()
        newer_id = newer.id
    webhook.accept(_message("wamid.c", "one more", name="Maria L."))  # a new profile name
    webhook.accept(_message("wamid.d", "and again", name=None))  # no name: the one we have stays
    with session_scope(engine) as session:
        (contact,) = session.exec(select(Contact)).all()
        assert (
            contact.profile_name_sealed != sealed_name
            and box.open(contact.profile_name_sealed or "") == "Maria L."
        )
        latest = session.exec(
            select(Message).where(col(Message.wa_message_id).in_(["wamid.c", "wamid.d"]))
        ).all()
        assert {m.conversation_id for m in latest} == {newer_id}
        stamped = session.get(Conversation, newer_id)
        assert stamped is not None and stamped.last_inbound_at is not None


def test_a_number_registered_after_a_message_to_it_was_ignored_gets_the_next_one(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, box = intake
    assert webhook.accept(_message("wamid.early", "hi", phone_number_id="77")).unknown_number == 1
    with session_scope(engine) as session:
        create_business(session, name="late", phone_number_id="77", box=box)
    assert len(webhook.accept(_message("wamid.later", "hi", phone_number_id="77")).stored) == 1


@pytest.mark.postgres
def test_a_message_on_a_connection_the_database_closed_is_stored_once(postgres_url: str) -> None:
    """The intake's pool hands out connections untested (no ping a webhook would wait on): one the server
    closed meanwhile (a restart) fails, and the message goes in on a new one."""
    import psycopg
    from sqlalchemy.engine import make_url

    upgrade(postgres_url)
    engine, unpinged = create_db_engine(postgres_url), create_db_engine(postgres_url, pre_ping=False)
    box = SecretBox([Fernet.generate_key()])
    with session_scope(engine) as session:
        create_business(session, name="demo", phone_number_id="42", box=box)
    intake = WebhookIntake(engine, box, message_engine=unpinged)
    try:
        assert len(intake.accept(_message("wamid.before", "hi")).stored) == 1
        with unpinged.connect() as connection:  # the pooled connection the intake will take next
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        conninfo = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        assert len(intake.accept(_message("wamid.after", "still there?")).stored) == 1
        with session_scope(engine) as session:
            stored = session.exec(select(Message.wa_message_id).order_by(col(Message.id))).all()
        assert stored == ["wamid.before", "wamid.after"]
    finally:
        unpinged.dispose()
        engine.dispose()


def _text(wamid: str, sent_at: datetime | None) -> WebhookBatch:
    return WebhookBatch(
        messages=[InboundMessage("42", wamid, NUMBER, "Maria Lopez", "text", "Hello", sent_at=sent_at)]
    )


def test_a_message_older_than_metas_retries_is_refused(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, _box = intake
    now = datetime.now(UTC)
    old = webhook.accept(_text("wamid.old", now - timedelta(days=8)))
    recent = webhook.accept(_text("wamid.recent", now - timedelta(days=6)))  # a retry after an outage
    assert (old.refused, old.stored, recent.refused, len(recent.stored)) == (1, [], 0, 1)
    with session_scope(engine) as session:
        assert [m.wa_message_id for m in session.exec(select(Message)).all()] == ["wamid.recent"]


def test_a_message_replayed_after_its_senders_erasure_is_not_stored_again(intake) -> None:  # type: ignore[no-untyped-def]
    webhook, engine, box = intake
    sent = datetime.now(UTC) - timedelta(minutes=5)
    assert len(webhook.accept(_text("wamid.before", sent)).stored) == 1
    with session_scope(engine) as session:
        business_id = session.exec(select(Contact.business_id)).one()
    erase_contact_data(engine, box, business_id=business_id, phone=f"+{NUMBER}")

    replayed = webhook.accept(_text("wamid.before", sent))  # the same signed body, delivered again
    assert (replayed.refused, replayed.stored) == (1, [])
    with session_scope(engine) as session:
        assert session.exec(select(Message)).all() == []
        assert session.exec(select(Contact)).all() == []
    # The customer writing again after the erasure is a new customer, even within the erasure's second
    # (Meta stamps whole seconds).
    again = webhook.accept(_text("wamid.after", datetime.now(UTC).replace(microsecond=0)))
    assert (again.refused, len(again.stored)) == (0, 1)
