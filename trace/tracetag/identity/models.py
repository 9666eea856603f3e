"""Users, their server-side sessions, one-time password-reset links, and API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, UTCDateTime, one_of, utcnow


class Role(StrEnum):
    """What a user is: one role each (issue 8)."""

    ADMIN = "admin"
    PRODUCER = "producer"  # a member of one producer; see MemberRole
    INSPECTOR = "inspector"


class MemberRole(StrEnum):
    """A producer member's part: an owner also manages members and API keys."""

    OWNER = "owner"
    STAFF = "staff"


class User(Base):
    """A person who signs in with an e-mail address and a password (argon2id hash only)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({one_of(Role)})", name="role"),
        CheckConstraint(
            "(role = 'producer' AND producer_id IS NOT NULL AND "
            f"member_role IN ({one_of(MemberRole)})) OR "
            "(role <> 'producer' AND producer_id IS NULL AND member_role IS NULL)",
            name="role_member",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower case, NFC
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    producer_id: Mapped[int | None] = mapped_column(
        ForeignKey("producers.id", ondelete="RESTRICT"), index=True
    )
    member_role: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(Base):
    """A signed-in browser. Only the SHA-256 of its cookie is stored; it ends on logout, after
    an idle time, or at its absolute expiry, whichever comes first."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordReset(Base):
    """A one-time link to set a new password; only the SHA-256 of its token is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """An API key; only its SHA-256 is stored (keys are 256-bit random, so no KDF is needed)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'producer')", name="role"),
        CheckConstraint(
            "(role = 'admin' AND producer_id IS NULL) OR "
            "(role = 'producer' AND producer_id IS NOT NULL)",
            name="role_producer",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(10))
    producer_id: Mapped[int | None] = mapped_column(
        ForeignKey("producers.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
