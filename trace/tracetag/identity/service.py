"""Users, sign-in and sessions, password resets. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor, record_change, stored_record
from tracetag.core.database import utcnow
from tracetag.core.fields import Text
from tracetag.errors import Conflict, Invalid, TraceError
from tracetag.identity.models import MemberRole, PasswordReset, Role, User, UserSession
from tracetag.identity.passwords import Passwords, check_new_password

# How often a live session's last-seen time is written: not on every request.
_TOUCH_EVERY = timedelta(minutes=1)
MAX_EMAIL = 254


class InvalidCredentials(TraceError):
    """Wrong e-mail address or password; one answer for both, on purpose."""


class InvalidResetLink(TraceError):
    """A reset link that is unknown, used already, or expired."""


@dataclass(frozen=True)
class SessionPolicy:
    """When a session ends on its own: after `idle` without a request, or `absolute` after
    sign-in, whichever is first (OWASP Session Management Cheat Sheet)."""

    idle: timedelta = timedelta(hours=1)
    absolute: timedelta = timedelta(hours=12)


def token_hash(token: str) -> str:
    """Tokens are 256-bit random, so a plain SHA-256 is enough to store them (no KDF)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    text = unicodedata.normalize("NFC", email).strip().lower()
    local, at, domain = text.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(text) > MAX_EMAIL
        or any(ch.isspace() for ch in text)
    ):
        raise Invalid("email", "not an e-mail address")
    return text


def create_user(
    session: Session,
    passwords: Passwords,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    producer_id: int | None = None,
    member_role: MemberRole | None = None,
    actor: Actor,
) -> User:
    """A new user; raises Conflict when the e-mail address has an account already."""
    address = normalize_email(email)
    check_new_password(password, email=address)
    if (role is Role.PRODUCER) != (producer_id is not None and member_role is not None):
        raise Invalid("role", "a producer member needs a producer and a member role; no one else")
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise Conflict("an account with this e-mail address exists")
    now = utcnow()
    user = User(
        email=address,
        name=_clean_name(name),
        password_hash=passwords.hash(password),
        role=role.value,
        producer_id=producer_id,
        member_role=member_role.value if member_role else None,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        producer_id=user.producer_id,
        at=now,
        after=user_record(user),
        details={"email": user.email, "role": user.role},
    )
    return user


_NAME = TypeAdapter(Annotated[str, Text.for_column(User.name)])


def _clean_name(name: str) -> str:
    """A person's name under the text policy every stored field keeps (core/fields.py)."""
    try:
        return _NAME.validate_python(name)
    except ValidationError as exc:
        raise Invalid("name", exc.errors()[0]["msg"]) from None


def user_record(user: User) -> dict[str, Any]:
    """What the audit log hashes of a user: the stored row, less the password's hash."""
    return stored_record(user, leave_out={"password_hash"})


def authenticate(
    session: Session, passwords: Passwords, *, email: str, password: str, now: datetime
) -> User:
    """The user with these credentials; InvalidCredentials otherwise, in the same time."""
    try:
        address = normalize_email(email)
    except Invalid:
        address = ""
    user = session.scalar(select(User).where(User.email == address)) if address else None
    ok = passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled_at is not None:
        raise InvalidCredentials("wrong e-mail address or password")
    if passwords.needs_rehash(user.password_hash):  # the cost was raised since it was set
        user.password_hash = passwords.hash(password)
    user.last_login_at = now
    session.flush()
    return user


def start_session(
    session: Session, *, user: User, now: datetime, policy: SessionPolicy
) -> tuple[UserSession, str]:
    """A new session for user; returns it and the cookie value, which is never stored."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=token_hash(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
    )
    session.add(row)
    session.flush()
    return row, token


def session_user(
    session: Session, *, token: str, now: datetime, policy: SessionPolicy
) -> tuple[UserSession, User] | None:
    """The live session for a cookie value and its user, or None (ended, idle, expired)."""
    if not token or len(token) > 100:
        return None
    found = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash(token))
    ).first()
    if found is None:
        return None
    row, user = found[0], found[1]
    if (
        row.ended_at is not None
        or now >= row.expires_at
        or now - row.last_seen_at >= policy.idle
        or user.disabled_at is not None
    ):
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return row, user


def end_session(session: Session, *, token: str, now: datetime) -> None:
    """Log out: the session ends for good, whatever else holds its cookie."""
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == token_hash(token), UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    session.flush()


def end_all_sessions(session: Session, *, user_id: int, now: datetime) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    session.flush()


def request_reset(
    session: Session, *, email: str, now: datetime, valid_for: timedelta = timedelta(hours=1)
) -> tuple[User, str] | None:
    """A one-time reset token for the account at email, or None when there is no such live
    account (the caller says the same thing either way)."""
    try:
        address = normalize_email(email)
    except Invalid:
        return None
    user = session.scalar(select(User).where(User.email == address))
    if user is None or user.disabled_at is not None:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + valid_for,
        )
    )
    session.flush()
    return user, token


def reset_password(
    session: Session,
    passwords: Passwords,
    *,
    token: str,
    password: str,
    now: datetime,
    actor: Actor,
) -> User:
    """Set a new password from a reset link; the link is used up and every session ends."""
    row = session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)).with_for_update()
    )
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise InvalidResetLink("this link is not valid any more; ask for a new one")
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        raise InvalidResetLink("this link is not valid any more; ask for a new one")
    check_new_password(password, email=user.email)
    row.used_at = now
    # Other links of the same user die with this one.
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    _new_password(session, passwords, user=user, password=password, now=now)
    # The one who holds the link is taken to be its user: the log names them, and from where.
    record_change(
        session,
        actor=replace(actor, label=user.email, user_id=user.id),
        action="user.password_reset",
        target_type="user",
        target_id=user.id,
        producer_id=user.producer_id,
        at=now,
        after=user_record(user),
    )
    return user


def set_password(
    session: Session,
    passwords: Passwords,
    *,
    user: User,
    password: str,
    now: datetime,
    actor: Actor,
) -> None:
    """An operator sets a user's password (a demo login, a CLI reset); every session ends."""
    check_new_password(password, email=user.email)
    _new_password(session, passwords, user=user, password=password, now=now)
    record_change(
        session,
        actor=actor,
        action="user.password_set",
        target_type="user",
        target_id=user.id,
        producer_id=user.producer_id,
        at=now,
        after=user_record(user),
    )


def _new_password(
    session: Session, passwords: Passwords, *, user: User, password: str, now: datetime
) -> None:
    user.password_hash = passwords.hash(password)
    user.password_changed_at = now
    end_all_sessions(session, user_id=user.id, now=now)
