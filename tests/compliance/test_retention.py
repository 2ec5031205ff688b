"""Retention: conversations idle past their business's days are purged; contacts and consent stay."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from api import cli
from api.runtime import Runtime
from bot.channel.whatsapp import InboundMessage, WebhookBatch
from bot.models import Contact, Conversation, Message
from compliance.retention import RetentionSchedule, run_retention
from core.db import session_scope, utcnow
from core.tenants import create_business
from privacy.consent import ConsentSource, Purpose, allows, record_consent
from privacy.models import RedactionEvent, VaultEntry
from privacy.redaction import record_redactions
from privacy.vault import VaultScope
from tests.conftest import make_settings
from tests.helpers import wait_until

_ids = itertools.count()


@pytest.fixture
def runtime(
    tmp_path: Path,
    database_url: str,
    analyzer,
    embeddings,  # type: ignore[no-untyped-def]
) -> Iterator[Runtime]:
    rt = Runtime(
        make_settings(tmp_path / "var", database_url), analyzer=analyzer, embeddings=embeddings, console=print
    )
    rt.migrate()
    with session_scope(rt.engine) as session:
        create_business(session, name="shop", phone_number_id="42", box=rt.box)
        create_business(session, name="other", phone_number_id="43", box=rt.box)
    yield rt
    rt.close()


def _conversation(runtime: Runtime, phone_number_id: str, sender: str, *, days_ago: float) -> int:
    """A masked customer message (with a vault entry and a redaction), dated `days_ago`; its conversation."""
    text = "I'm Maria Lopez, maria.lopez@example.com. Do you deliver?"
    batch = WebhookBatch(
        messages=[
            InboundMessage(phone_number_id, f"wamid.r{next(_ids)}", sender, "Maria Lopez", "text", text)
        ]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    then = utcnow() - timedelta(days=days_ago)
    with session_scope(runtime.engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None and conversation.id is not None
        mask = runtime.masker.mask(session, text, VaultScope.conversation(conversation.id))
        record_redactions(
            session,
            business_id=message.business_id,
            source_kind="message",
            source_id=message_id,
            spans=mask.spans,
        )
        message.text_masked, message.text_sealed, message.status = mask.text, None, "answered"
        message.created_at = message.updated_at = then
        conversation.created_at = conversation.last_inbound_at = then
        session.add_all([message, conversation])
        return conversation.id


def _counts(runtime: Runtime) -> tuple[int, int, int, int, int]:
    with session_scope(runtime.engine) as session:
        return (
            len(session.exec(select(Conversation)).all()),
            len(session.exec(select(Message)).all()),
            len(session.exec(select(VaultEntry)).all()),
            len(session.exec(select(RedactionEvent)).all()),
            len(session.exec(select(Contact)).all()),
        )


def test_conversations_past_retention_are_purged_and_consent_stays(runtime: Runtime) -> None:
    old = _conversation(runtime, "42", "447700900001", days_ago=40)
    recent = _conversation(runtime, "42", "447700900002", days_ago=10)
    other_old = _conversation(runtime, "43", "447700900003", days_ago=40)  # its business keeps 365 days
    with session_scope(runtime.engine) as session:
        contact_id = session.exec(select(Conversation.contact_id).where(Conversation.id == old)).one()
        record_consent(
            session,
            business_id=1,
            contact_id=contact_id,
            purpose=Purpose.SERVICE_REPLIES,
            granted=False,
            source=ConsentSource.KEYWORD,
        )
    configured = CliRunner().invoke(
        cli.app, ["tenant", "configure", "shop", "--retention-days", "30"], obj=runtime
    )
    assert configured.exit_code == 0 and "retention 30 days" in configured.output
    before = _counts(runtime)
    assert before == (3, 3, 6, 6, 3)

    report = run_retention(runtime.engine, now=utcnow())
    assert list(report.purged) == [1]
    counts = report.purged[1]
    assert (counts.conversations, counts.messages, counts.vault_entries, counts.redaction_events) == (
        1,
        1,
        2,
        2,
    )
    assert _counts(runtime) == (2, 2, 4, 4, 3)
    with session_scope(runtime.engine) as session:
        assert sorted(c.id for c in session.exec(select(Conversation)).all()) == sorted([recent, other_old])
        assert not allows(session, contact_id, Purpose.SERVICE_REPLIES)  # a STOP outlives the purge
        assert all(e.scope != f"conv:{old}" for e in session.exec(select(VaultEntry)).all())

    # A fixed clock a year on: everything has expired.
    later = run_retention(runtime.engine, now=utcnow() + timedelta(days=400))
    assert later.conversations == 2 and _counts(runtime) == (0, 0, 0, 0, 3)


def test_retention_days_out_of_range_are_refused(runtime: Runtime) -> None:
    result = CliRunner().invoke(
        cli.app, ["tenant", "configure", "shop", "--retention-days", "0"], obj=runtime
    )
    assert "between 1 and 3650" in str(result.exception)


def test_the_schedule_purges_in_its_own_thread(runtime: Runtime) -> None:
    _conversation(runtime, "42", "447700900001", days_ago=400)
    schedule = RetentionSchedule(runtime.engine, interval=timedelta(seconds=0.2), first_delay=timedelta(0))
    schedule.start()
    try:
        assert wait_until(lambda: _counts(runtime)[0] == 0, timeout=10)
    finally:
        schedule.stop()


def test_retention_run_command_prints_counts_only(runtime: Runtime) -> None:
    _conversation(runtime, "42", "447700900001", days_ago=400)
    result = CliRunner().invoke(cli.app, ["retention", "run"], obj=runtime)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "business 1: 1 conversations, 1 messages, 2 vault entries, 2 redaction events purged\n"
        "1 conversations purged in all\n"
    )
