"""Where a product is sold: the producer's ordered list of shops, supermarkets and online stores.

Issue 8. The list is the producer's word, kept beside the product and never signed: a consumer
sees it apart from the signed record, and changing it signs nothing new.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracetag.core.database import Base, UTCDateTime, one_of, utcnow

# A consumer reads a handful; twenty is room for every shop and floor a producer works with.
MAX_RETAILERS = 20


class RetailerKind(StrEnum):
    """The kinds of place an OCOP product is sold."""

    SHOP = "shop"
    SUPERMARKET = "supermarket"
    DISTRIBUTOR = "distributor"
    MARKETPLACE = "marketplace"  # an e-commerce floor ("sàn thương mại điện tử"): Shopee, Tiki…
    OTHER = "other"


class ProductRetailer(Base):
    __tablename__ = "product_retailers"
    __table_args__ = (
        CheckConstraint(f"kind IN ({one_of(RetailerKind)})", name="kind"),
        CheckConstraint("url IS NOT NULL OR address IS NOT NULL", name="url_or_address"),
        # The input rule (retailer_schemas.normalize_url) is stricter; the database keeps at least
        # any other scheme (javascript:, data:) out of what a page could link to.
        CheckConstraint("url IS NULL OR url LIKE 'https://%' OR url LIKE 'http://%'", name="url"),
        CheckConstraint(f"position >= 0 AND position < {MAX_RETAILERS}", name="position"),
        UniqueConstraint("product_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 0 first: the producer's order
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(String(500))
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
