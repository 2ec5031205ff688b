"""Staff accounts, sessions and the audit chain, on a migrated database (both engines)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import select, update

from core import migrate
from core.audit_trail import AuditEntry, record_action, verify_chain
from core.crypto import SecretBox
from core.db import create_db_engine, session_scope, utcnow
from core.errors import Conflict, InvalidInput, Unauthenticated
from core.staff import (
    Role,
    StaffSession,
    StaffUser,
    create_user,
    session_user,
    set_active,
    set_password,
    sign_in,
    sign_in_verified,
)
from core.tenants import create_business

PASSWORD = "a long enough password"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    migrate.upgrade(database_url)
    built = create_db_engine(database_url)
    yield built
    built.dispose()


@pytest.fixture
def business_id(engine: Engine) -> int:
    with session_scope(engine) as session:
        business = create_business(
            session, name="crumb", phone_number_id="1", box=SecretBox([Fernet.generate_key()])
        )
    assert business.id is not None
    return business.id


@pytest.mark.parametrize(
    ("email", "password", "problem"),
    [
        ("not-an-address", PASSWORD, "valid e-mail"),
        ("@crumb.example", PASSWORD, "valid e-mail"),
        ("sam@crumb.example", "short", "at least 12"),
        ("sam@crumb.example", "x" * 257, "256 characters"),
    ],
)
def test_users_need_an_address_and_a_real_password(
    engine: Engine, business_id: int, email: str, password: str, problem: str
) -> None:
    with session_scope(engine) as session, pytest.raises(InvalidInput, match=problem):
        create_user(session, business_id=business_id, email=email, role=Role.AGENT, password=password)


def test_addresses_are_case_insensitive_and_unique(engine: Engine, business_id: int) -> None:
    with session_scope(engine) as session:
        user = create_user(
            session, business_id=business_id, email=" Sam@Crumb.example ", role=Role.AGENT, password=PASSWORD
        )
        assert user.email == "sam@crumb.example" and user.password_hash.startswith("$argon2id$")
    with session_scope(engine) as session, pytest.raises(Conflict):
        create_user(
            session, business_id=business_id, email="SAM@crumb.example", role=Role.ADMIN, password=PASSWORD
        )
    with session_scope(engine) as session:
        assert (
            sign_in(session, email="SAM@CRUMB.EXAMPLE", password=PASSWORD).user.email == "sam@crumb.example"
        )


def test_an_address_another_business_uses_is_added_like_any_other_and_its_password_picks_the_account(
    engine: Engine, business_id: int
) -> None:
    """A 409 for an address another business uses would tell one business who works for another."""
    with session_scope(engine) as session:
        rival = create_business(
            session, name="rival", phone_number_id="2", box=SecretBox([Fernet.generate_key()])
        )
        assert rival.id is not None
        create_user(
            session, business_id=business_id, email="sam@crumb.example", role=Role.AGENT, password=PASSWORD
        )
        # Same as for an address nobody uses: created.
        create_user(
            session,
            business_id=rival.id,
            email="sam@crumb.example",
            role=Role.ADMIN,
            password="rival's own password",
        )
    with session_scope(engine) as session:
        assert sign_in(session, email="sam@crumb.example", password=PASSWORD).user.business_id == business_id
    with session_scope(engine) as session:
        assert (
            sign_in(session, email="sam@crumb.example", password="rival's own password").user.role
            == Role.ADMIN
        )
    with session_scope(engine) as session, pytest.raises(Unauthenticated):
        sign_in(session, email="sam@crumb.example", password="neither of the two")
    with session_scope(engine) as session:
        assert [u.failed_logins for u in session.exec(select(StaffUser)).all()] == [1, 1]
    with session_scope(engine) as session, pytest.raises(Unauthenticated, match="several businesses"):
        sign_in_verified(session, email="sam@crumb.example")  # an identity provider cannot pick one


def test_sessions_end_when_idle_when_the_user_is_disabled_and_when_the_password_changes(
    engine: Engine, business_id: int
) -> None:
    with session_scope(engine) as session:
        create_user(
            session, business_id=business_id, email="sam@crumb.example", role=Role.AGENT, password=PASSWORD
        )
        idle = sign_in(session, email="sam@crumb.example", password=PASSWORD).token
        disabled = sign_in(session, email="sam@crumb.example", password=PASSWORD).token
    with session_scope(engine) as session:
        session.exec(
            update(StaffSession)
            .where(StaffSession.token_hash == hashlib.sha256(idle.encode()).hexdigest())
            .values(last_seen_at=utcnow() - timedelta(hours=9))
        )
    with session_scope(engine) as session, pytest.raises(Unauthenticated, match="ended"):
        session_user(session, idle)
    with session_scope(engine) as session:
        user, _row = session_user(session, disabled)
        set_active(session, user, False)
    with session_scope(engine) as session, pytest.raises(Unauthenticated):
        session_user(session, disabled)
    with session_scope(engine) as session, pytest.raises(Unauthenticated):
        sign_in(session, email="sam@crumb.example", password=PASSWORD)
    with session_scope(engine) as session:
        user = session.exec(select(StaffUser)).one()
        set_active(session, user, True)
        fresh = sign_in(session, email="sam@crumb.example", password=PASSWORD).token
        set_password(session, user, "another long password")
    with session_scope(engine) as session, pytest.raises(Unauthenticated):
        session_user(session, fresh)
    with session_scope(engine) as session:
        assert sign_in(session, email="sam@crumb.example", password="another long password").token


def test_the_chain_finds_an_edited_a_deleted_and_a_relinked_entry(engine: Engine, business_id: int) -> None:
    with session_scope(engine) as session:
        for n in range(5):
            record_action(
                session, business_id=business_id, actor="cli", action="test.step", target=f"step:{n}"
            )
    with session_scope(engine) as session:
        assert verify_chain(session) == []
        assert [e.seq for e in session.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()] == [
            1,
            2,
            3,
            4,
            5,
        ]  # type: ignore[arg-type]
        session.exec(update(AuditEntry).where(AuditEntry.seq == 2).values(target="step:99"))
        session.delete(session.exec(select(AuditEntry).where(AuditEntry.seq == 4)).one())
        session.exec(update(AuditEntry).where(AuditEntry.seq == 5).values(prev_hash="0" * 64))
    with session_scope(engine) as session:
        problems = {(b.seq, b.reason.split()[0]) for b in verify_chain(session, business_id=business_id)}
    # Entry 2 was changed after it was written; entry 4 is missing; entry 5 was re-linked (so changed).
    assert problems == {(2, "was"), (5, "entries"), (5, "was")}


def test_a_locked_account_costs_a_password_check_like_an_unknown_one(
    engine: Engine, business_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise the refusal's speed tells a locked account (no hashing) from an unknown address (one hash)."""
    from core import staff

    with session_scope(engine) as session:
        create_user(
            session, business_id=business_id, email="sam@crumb.example", role=Role.AGENT, password=PASSWORD
        )
    for _ in range(staff.MAX_FAILED_LOGINS):
        with session_scope(engine) as session, pytest.raises(Unauthenticated):
            sign_in(session, email="sam@crumb.example", password="a wrong guess, long")
    checked: list[str] = []
    real = staff._verify
    monkeypatch.setattr(staff, "_verify", lambda h, p: checked.append(p) or real(h, p))
    for address in ("sam@crumb.example", "nobody@crumb.example"):
        with session_scope(engine) as session, pytest.raises(Unauthenticated, match="locked"):
            sign_in(session, email=address, password=PASSWORD)
    assert len(checked) == 2
    with session_scope(engine) as session:
        assert session.exec(select(StaffUser)).one().locked_until is not None  # still locked
