"""The consent ledger: append-only, newest record wins, defaults for purposes never recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.models import Contact
from core.db import create_db_engine, session_scope, utcnow
from core.errors import InvalidInput
from core.migrate import upgrade
from core.tenants import Business
from privacy.consent import (
    ConsentSource,
    Purpose,
    allows,
    consent_history,
    current_consent,
    forget_consent,
    record_consent,
    states_under_age,
)
from privacy.models import ConsentRecord


@pytest.fixture
def ids(database_url: str):  # type: ignore[no-untyped-def]
    upgrade(database_url)
    engine = create_db_engine(database_url)
    with session_scope(engine) as session:
        business = Business(name="b", display_name="B", phone_number_id="1")
        session.add(business)
        session.flush()
        assert business.id is not None
        contact = Contact(business_id=business.id, wa_id_hash="h", wa_id_sealed="s")
        session.add(contact)
        session.flush()
        assert contact.id is not None
        business_id, contact_id = business.id, contact.id
    yield engine, business_id, contact_id
    engine.dispose()


def test_newest_record_per_purpose_is_the_state_and_history_is_kept(ids) -> None:  # type: ignore[no-untyped-def]
    engine, business_id, contact_id = ids
    start = utcnow()
    with session_scope(engine) as session:
        assert current_consent(session, contact_id) == {
            Purpose.SERVICE_REPLIES: True,
            Purpose.AI_PROCESSING: True,
            Purpose.MARKETING: False,
        }
        for minutes, purpose, granted, source in [
            (1, Purpose.SERVICE_REPLIES, False, ConsentSource.KEYWORD),
            (2, Purpose.MARKETING, True, ConsentSource.API),
            (3, Purpose.SERVICE_REPLIES, True, ConsentSource.KEYWORD),
            (4, Purpose.AI_PROCESSING, False, ConsentSource.AGENT),
        ]:
            record_consent(
                session,
                business_id=business_id,
                contact_id=contact_id,
                purpose=purpose,
                granted=granted,
                source=source,
                at=start + timedelta(minutes=minutes),
            )
    with session_scope(engine) as session:
        assert current_consent(session, contact_id) == {
            Purpose.SERVICE_REPLIES: True,
            Purpose.AI_PROCESSING: False,
            Purpose.MARKETING: True,
        }
        assert allows(session, contact_id, Purpose.SERVICE_REPLIES)
        assert not allows(session, contact_id, Purpose.AI_PROCESSING)
        assert [
            (r.purpose, r.granted, r.source, r.policy_version) for r in consent_history(session, contact_id)
        ] == [
            ("service_replies", False, "keyword", "2026-01"),
            ("marketing", True, "api", "2026-01"),
            ("service_replies", True, "keyword", "2026-01"),
            ("ai_processing", False, "agent", "2026-01"),
        ]
        assert forget_consent(session, contact_id) == 4
        assert session.exec(select(ConsentRecord)).all() == []


def test_an_unknown_purpose_or_source_is_invalid_input(ids) -> None:  # type: ignore[no-untyped-def]
    engine, business_id, contact_id = ids
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="purpose must be one of"):
        record_consent(
            session,
            business_id=business_id,
            contact_id=contact_id,
            purpose="spam",
            granted=True,
            source="api",
        )


@pytest.mark.parametrize(
    ("text", "under"),
    [
        ("I'm 14", True),
        ("I am 15 years old", True),
        ("im 13", True),
        ("hi, i am fourteen and want a cake", True),
        ("I'm 12 yo, when are you open?", True),
        ("my age is 15.", True),
        ("I'm under 16", True),
        ("I'm 16", False),
        ("I am 34 years old", False),
        ("I'm 5 minutes away", False),
        ("I am 15 minutes late for my order", False),
        ("we are 14 people", False),
        ("order 14 croissants please", False),
    ],
)
def test_states_under_age(text: str, under: bool) -> None:
    assert states_under_age(text) is under
