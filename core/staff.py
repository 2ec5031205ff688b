"""Staff of a business who use the console: users with one role each, argon2 password hashes, lock-out after
repeated failures, and server-side sessions whose cookie carries only a random token (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from core.db import utcnow
from core.errors import Conflict, InvalidInput, NotFound, Unauthenticated

MAX_FAILED_LOGINS = 5
LOCK_OUT = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=8)  # a console left alone this long asks for the password again
SESSION_MAX = timedelta(days=7)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    ADMIN = "admin"  # users, business settings, knowledge documents
    AGENT = "agent"  # conversations: take over, reply, reveal originals
    COMPLIANCE = "compliance"  # redaction log, consent, data-subject requests, audit log


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    # An account belongs to one business; one address may hold accounts in several (a consultant, a person
    # who works for two shops), each with its own password. No business can learn that another uses an
    # address: adding it answers the same as for any new address.
    __table_args__ = (UniqueConstraint("business_id", "email", name="uq_staff_user_business_email"),)

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    email: str = Field(max_length=254, index=True)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    csrf_token: str = Field(max_length=64)  # every form of this session carries it
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class StaffUserPublic(SQLModel):
    id: int
    business_id: int
    email: str
    role: Role
    active: bool
    locked: bool
    last_login_at: datetime | None
    created_at: datetime


def to_public(user: StaffUser, now: datetime | None = None) -> StaffUserPublic:
    assert user.id is not None
    now = now or utcnow()
    return StaffUserPublic(
        id=user.id,
        business_id=user.business_id,
        email=user.email,
        role=Role(user.role),
        active=user.active,
        locked=user.locked_until is not None and user.locked_until > now,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


@dataclass(frozen=True)
class SignedIn:
    """A new session: `token` goes into the cookie and is never stored."""

    user: StaffUser
    token: str
    csrf_token: str


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if not 3 <= len(value) <= 254 or value.count("@") != 1 or value.startswith("@") or value.endswith("@"):
        raise InvalidInput("give a valid e-mail address")
    return value


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 256:
        raise InvalidInput("a password is limited to 256 characters")


def create_user(session: Session, *, business_id: int, email: str, role: Role, password: str) -> StaffUser:
    address = normalise_email(email)
    check_password_strength(password)
    if _account(session, business_id, address) is not None:
        raise Conflict("this business has a user with this e-mail address already")
    user = StaffUser(
        business_id=business_id, email=address, role=Role(role), password_hash=_hasher.hash(password)
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, *, business_id: int, email: str) -> StaffUser:
    user = _account(session, business_id, normalise_email(email))
    if user is None:
        raise NotFound("no such user in this business")
    return user


def _account(session: Session, business_id: int, address: str) -> StaffUser | None:
    query = select(StaffUser).where(StaffUser.business_id == business_id, StaffUser.email == address)
    return session.exec(query).first()


def _accounts(session: Session, address: str) -> list[StaffUser]:
    """Every account of an address, locked for the sign-in's update, oldest first."""
    query = select(StaffUser).where(StaffUser.email == address).order_by(col(StaffUser.id)).with_for_update()
    return list(session.exec(query).all())


def list_users(session: Session, *, business_id: int) -> list[StaffUser]:
    query = select(StaffUser).where(StaffUser.business_id == business_id).order_by(col(StaffUser.email))
    return list(session.exec(query).all())


def set_active(session: Session, user: StaffUser, active: bool) -> StaffUser:
    """Disabling a user also ends every session they have open."""
    user.active = active
    if not active:
        end_sessions(session, user)
    else:
        user.failed_logins, user.locked_until = 0, None
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: StaffUser, password: str) -> None:
    check_password_strength(password)
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    end_sessions(session, user)


def end_sessions(session: Session, user: StaffUser) -> None:
    for row in session.exec(select(StaffSession).where(StaffSession.user_id == user.id)).all():
        session.delete(row)
    session.flush()


def sign_in(session: Session, *, email: str, password: str) -> SignedIn:
    """Check the password and open a session; the same error for a wrong e-mail, password or a locked user."""
    now = utcnow()
    refused = Unauthenticated("wrong e-mail or password, or the account is locked: try again later")
    try:
        address = normalise_email(email)
    except InvalidInput:
        raise refused from None
    # The password says which account it is, where an address has several: each has its own.
    open_to_guesses = [
        user
        for user in _accounts(session, address)
        if user.active and (user.locked_until is None or user.locked_until <= now)
    ]
    if not open_to_guesses:
        _verify(_dummy_hash(), password)  # as slow as a wrong password: no address is confirmed
        raise refused
    for user in open_to_guesses:
        if _verify(user.password_hash, password):
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            return _open_session(session, user)
    for user in open_to_guesses:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until, user.failed_logins = now + LOCK_OUT, 0
        session.add(user)
    session.commit()  # the failures count even though the caller's transaction ends in an error
    raise refused


def sign_in_verified(session: Session, *, email: str) -> SignedIn:
    """Open a session for an address an identity provider vouched for: the user must exist already (an
    admin adds them, with their role) and be active and not locked out."""
    refused = Unauthenticated("no active console user has this e-mail address: ask your admin to add you")
    try:
        address = normalise_email(email)
    except InvalidInput:
        raise refused from None
    now = utcnow()
    usable = [
        user
        for user in _accounts(session, address)
        if user.active and (user.locked_until is None or user.locked_until <= now)
    ]
    if not usable:
        raise refused
    if len(usable) > 1:
        # The provider vouches for the address, not for a business: the password tells them apart.
        raise Unauthenticated("this address has accounts in several businesses: sign in with a password")
    return _open_session(session, usable[0])


def _open_session(session: Session, user: StaffUser) -> SignedIn:
    assert user.id is not None
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, utcnow()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(user)
    session.add(StaffSession(user_id=user.id, token_hash=_digest(token), csrf_token=csrf))
    session.flush()
    return SignedIn(user, token, csrf)


def session_user(session: Session, token: str) -> tuple[StaffUser, StaffSession]:
    """The user of a session cookie; expired sessions are deleted and refused."""
    if not token or len(token) > 100:
        raise Unauthenticated("sign in first")
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == _digest(token))).first()
    now = utcnow()
    if row is None:
        raise Unauthenticated("sign in first")
    user = session.get(StaffUser, row.user_id)
    if (
        user is None
        or not user.active
        or now - row.last_seen_at > SESSION_IDLE
        or now - row.created_at > SESSION_MAX
    ):
        session.delete(row)
        session.commit()
        raise Unauthenticated("your session ended: sign in again")
    if now - row.last_seen_at > timedelta(minutes=1):  # one write a minute at most, not one a request
        row.last_seen_at = now
        session.add(row)
    return user, row


def sign_out(session: Session, token: str) -> None:
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == _digest(token))).first()
    if row is not None:
        session.delete(row)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
