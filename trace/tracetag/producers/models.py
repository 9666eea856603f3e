from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, UTCDateTime, one_of, utcnow


class ProducerKind(StrEnum):
    """The kinds of OCOP producer ("chủ thể") the service registers."""

    ENTERPRISE = "enterprise"
    COOPERATIVE = "cooperative"
    COOPERATIVE_GROUP = "cooperative_group"
    HOUSEHOLD = "household"


class ProducerStatus(StrEnum):
    """Whether a producer may sign: only an approved one creates, corrects or tags batches.

    Decision (issue 8): a producer that signed up waits for an administrator's approval, and an
    administrator can suspend one, with a reason, and reinstate it. Products and recalls are
    never refused: a recall protects consumers, whatever the producer's standing.
    """

    PENDING = "pending"
    APPROVED = "approved"
    SUSPENDED = "suspended"


class Producer(Base):
    __tablename__ = "producers"
    __table_args__ = (
        CheckConstraint(f"kind IN ({one_of(ProducerKind)})", name="kind"),
        CheckConstraint(f"status IN ({one_of(ProducerStatus)})", name="status"),
        CheckConstraint("ocop_stars IS NULL OR ocop_stars BETWEEN 1 AND 5", name="ocop_stars"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    registration_code: Mapped[str] = mapped_column(String(40), unique=True)
    address_line: Mapped[str] = mapped_column(String(300))
    commune: Mapped[str] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    ocop_stars: Mapped[int | None] = mapped_column(Integer)
    ocop_certificate_no: Mapped[str | None] = mapped_column(String(80))
    ocop_issuer: Mapped[str | None] = mapped_column(String(200))
    ocop_issued_on: Mapped[date | None] = mapped_column(Date)
    ocop_expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10))
    status_reason: Mapped[str | None] = mapped_column(Text)  # why it is suspended
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
