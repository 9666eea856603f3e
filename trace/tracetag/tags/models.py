from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, BigId, UTCDateTime, one_of, utcnow


class IssuanceState(StrEnum):
    """A run is written in chunks while pending; only a published run's tags exist for anyone."""

    PENDING = "pending"
    PUBLISHED = "published"


class TagIssuance(Base):
    """One run of issuing N tags for a batch: all its tags exist, or none do."""

    __tablename__ = "tag_issuances"
    __table_args__ = (
        UniqueConstraint("producer_id", "idempotency_key"),
        CheckConstraint(f"state IN ({one_of(IssuanceState)})", name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="RESTRICT"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="RESTRICT"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    count: Mapped[int] = mapped_column(Integer)
    signed: Mapped[bool] = mapped_column(Boolean)
    kid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default=IssuanceState.PUBLISHED)
    # While pending: when the last chunk was stored. A pending run that stopped moving is a
    # crashed one, and start-up removes it.
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Tag(Base):
    """A unit tag: one printed QR code, unique per GTIN."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("gtin", "serial"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    issuance_id: Mapped[int] = mapped_column(
        ForeignKey("tag_issuances.id", ondelete="RESTRICT"), index=True
    )
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="RESTRICT"))
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    digsig: Mapped[str | None] = mapped_column(String(90))
    scan_count: Mapped[int] = mapped_column(Integer, default=0)
    first_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
