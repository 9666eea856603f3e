from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracetag.core.database import Base, UTCDateTime, utcnow
from tracetag.producers.models import Producer


class ProductImage(Base):
    """A re-encoded product image, addressed by the SHA-256 of its bytes."""

    __tablename__ = "product_images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producers.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str | None] = mapped_column(String(200))
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    category: Mapped[str] = mapped_column(String(20))
    characteristics: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(40))
    standards: Mapped[list[str]] = mapped_column(JSON, default=list)
    image_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("product_images.sha256", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    producer: Mapped[Producer] = relationship(lazy="joined")
