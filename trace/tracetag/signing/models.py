"""The key registry: every signing key's public JWK and state, and an append-only event list.

The private parts never come here: they stay in keys/ (0600, encrypted with the passphrase) or
in a device. Decision (issue 9): the database holds which key signs, so that every worker reads
the same answer at signing time, and a rotation takes effect without a restart.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, UTCDateTime, one_of


class KeyState(StrEnum):
    """pending (made, signs nothing yet) → active (signs) → retired (signs no more, verifies);
    revoked from any state (compromised, or withdrawn): its signatures from `compromised_at` on
    are not to be trusted. A state never goes back."""

    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


class KeyEvent(StrEnum):
    GENERATE = "generate"
    ACTIVATE = "activate"
    RETIRE = "retire"
    REVOKE = "revoke"


class SigningKey(Base):
    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint(f"state IN ({one_of(KeyState)})", name="state"),
        CheckConstraint(
            "(state = 'revoked') = (revoked_at IS NOT NULL AND compromised_at IS NOT NULL)",
            name="revoked_when",
        ),
        CheckConstraint(
            "state <> 'active' OR activated_at IS NOT NULL",
            name="activated_when",
        ),
        # At most one active key, whatever the service does: both databases have partial indexes.
        Index(
            "uq_signing_keys_one_active",
            "state",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)  # RFC 7638 thumbprint
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)  # kty, crv, x: never "d"
    state: Mapped[str] = mapped_column(String(10))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(254))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_by: Mapped[str | None] = mapped_column(String(254))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_by: Mapped[str | None] = mapped_column(String(254))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(254))
    # From when its signatures are not to be trusted (at or before revoked_at).
    compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKeyEvent(Base):
    """One row per generate, activate, retire or revoke; never updated or deleted (a trigger
    refuses both, migration 0010). `entry` is the event's RFC 8785 JSON: the transparency log's
    leaf (signing/events.py builds it)."""

    __tablename__ = "signing_key_events"
    __table_args__ = (
        CheckConstraint(f"event IN ({one_of(KeyEvent)})", name="event"),
        Index("ix_signing_key_events_kid", "kid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(ForeignKey("signing_keys.kid", ondelete="RESTRICT"))
    event: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(254))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
