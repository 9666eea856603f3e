"""One row per change, from the portal, the API or the CLI; rows are never updated or deleted.

The application has no code path that changes a row; the database refuses UPDATE and DELETE
with a trigger (PostgreSQL and SQLite alike; migration 0006).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, UTCDateTime, one_of


class Channel(StrEnum):
    """Where a change came from."""

    PORTAL = "portal"
    API = "api"
    CLI = "cli"
    SYSTEM = "system"  # the service itself, e.g. cleaning up after a crash


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(f"channel IN ({one_of(Channel)})", name="channel"),
        Index("ix_audit_events_producer_id_at", "producer_id", "at"),
        Index("ix_audit_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(10))
    # Who: a user, an API key, or an operator at the CLI (actor_id is then null).
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"))
    actor: Mapped[str] = mapped_column(String(254))  # as it read then: an e-mail, a key's label
    client_ip: Mapped[str | None] = mapped_column(String(45))  # from where
    # Whose data it touched (null for the service's own, e.g. keys): producers see theirs.
    producer_id: Mapped[int | None] = mapped_column(ForeignKey("producers.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(60))  # e.g. "batch.recall"
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(80))
    # SHA-256 (hex) of the record's canonical JSON before and after the change.
    before_hash: Mapped[str | None] = mapped_column(String(64))
    after_hash: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
