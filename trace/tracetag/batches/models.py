from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracetag.core.database import Base, UTCDateTime, one_of, utcnow
from tracetag.products.models import Product


class BatchStatus(StrEnum):
    """A batch is active until recalled; a recall is final."""

    ACTIVE = "active"
    RECALLED = "recalled"


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("product_id", "lot"),
        CheckConstraint("price_vnd >= 0", name="price_vnd"),
        CheckConstraint(f"status IN ({one_of(BatchStatus)})", name="status"),
        CheckConstraint("expiry_date >= production_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    lot: Mapped[str] = mapped_column(String(20))
    # Decimal as normalized text: exact on both databases and in the signed JSON.
    quantity: Mapped[str] = mapped_column(String(24))
    quantity_unit: Mapped[str] = mapped_column(String(40))
    production_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date] = mapped_column(Date)
    price_vnd: Mapped[int] = mapped_column(BigInteger)
    origin_area: Mapped[str] = mapped_column(String(200))
    origin_commune: Mapped[str] = mapped_column(String(100))
    origin_district: Mapped[str | None] = mapped_column(String(100))
    origin_province: Mapped[str] = mapped_column(String(100))
    origin_lat: Mapped[float | None] = mapped_column(Float)
    origin_lng: Mapped[float | None] = mapped_column(Float)
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default=BatchStatus.ACTIVE)
    recall_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(lazy="joined")


class SignedRecord(Base):
    """One signed version of a batch record. Rows are only ever inserted."""

    __tablename__ = "signed_records"
    __table_args__ = (UniqueConstraint("batch_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    jws: Mapped[str] = mapped_column(Text)
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    kid: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
