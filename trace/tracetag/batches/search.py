"""Finding batches across every producer, for inspectors: by link, by GTIN, or by words."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tracetag.batches.models import Batch
from tracetag.gs1.ai import GS1Error, normalize_gtin
from tracetag.gs1.digital_link import parse_digital_link
from tracetag.producers.models import Producer
from tracetag.products.models import Product

MAX_RESULTS = 50


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_batches(session: Session, *, query: str, limit: int = MAX_RESULTS) -> list[Batch]:
    """A scanned or typed Digital Link names one batch; a GTIN, a product's batches; other
    text is looked for in lot codes, product names and producer names (newest first).

    Letters match regardless of case for ASCII only on SQLite (its LOWER() knows no more);
    PostgreSQL folds Vietnamese letters too.
    """
    text = query.strip()[:200]
    if not text:
        return []
    stmt = (
        select(Batch)
        .join(Product, Product.id == Batch.product_id)
        .join(Producer, Producer.id == Product.producer_id)
        .order_by(Batch.id.desc())
        .limit(limit)
    )
    if "/01/" in text:
        try:
            link = parse_digital_link(text)
        except GS1Error:
            return []
        return list(session.scalars(stmt.where(Product.gtin == link.gtin, Batch.lot == link.lot)))
    if text.isdigit():
        try:
            return list(session.scalars(stmt.where(Product.gtin == normalize_gtin(text))))
        except GS1Error:
            pass
    pattern = f"%{_escaped(text.lower())}%"
    return list(
        session.scalars(
            stmt.where(
                or_(
                    Batch.lot.ilike(pattern, escape="\\"),
                    Product.name.ilike(pattern, escape="\\"),
                    Producer.name.ilike(pattern, escape="\\"),
                )
            )
        )
    )
