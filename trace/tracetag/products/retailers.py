"""Where to buy a product: the producer's ordered list, read, or replaced as a whole.

The list is not part of the signed record (issue 8), so setting it signs nothing new. Services
flush and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor, record_change, stored_record
from tracetag.core.database import utcnow
from tracetag.errors import Invalid, ProducerNotApproved
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.products.models import Product
from tracetag.products.retailer_models import MAX_RETAILERS, ProductRetailer
from tracetag.products.retailer_schemas import RetailerIn


def list_retailers(session: Session, *, product_id: int) -> list[ProductRetailer]:
    """The product's places to buy, in the producer's order."""
    stmt = (
        select(ProductRetailer)
        .where(ProductRetailer.product_id == product_id)
        .order_by(ProductRetailer.position)
    )
    return list(session.scalars(stmt))


def set_retailers(
    session: Session, *, product: Product, retailers: Sequence[RetailerIn], actor: Actor
) -> list[ProductRetailer]:
    """Replace the product's list with `retailers`, in their order; an empty list clears it.

    The whole list is checked before anything is written, so a refused list leaves the stored
    one as it was.
    """
    _check(retailers)
    producer = session.get(Producer, product.producer_id)
    if producer is not None and producer.status == ProducerStatus.SUSPENDED:
        # A suspended producer's places would still show on its public pages and in the
        # resolver's redirects: it cannot point consumers at a new address meanwhile.
        raise ProducerNotApproved(
            f"producer {producer.id} is suspended ({producer.status_reason}): its places to buy "
            "cannot change until an administrator reinstates it"
        )
    # Two saves of one product's list at once: the second waits for the first and then replaces
    # it, rather than failing on a position the first has just taken (PostgreSQL; a SQLite
    # writer holds the database lock already).
    session.execute(select(Product.id).where(Product.id == product.id).with_for_update())
    before = _listed(list_retailers(session, product_id=product.id))
    # Deleted before the new rows are added: a flush inserts before it deletes, and the old
    # rows hold the positions the new ones take.
    session.execute(delete(ProductRetailer).where(ProductRetailer.product_id == product.id))
    rows = [
        ProductRetailer(
            product_id=product.id,
            position=position,
            name=retailer.name,
            kind=retailer.kind,
            url=retailer.url,
            address=retailer.address,
        )
        for position, retailer in enumerate(retailers)
    ]
    session.add_all(rows)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="product.retailers_set",
        target_type="product",
        target_id=product.id,
        producer_id=product.producer_id,
        at=utcnow(),
        before=before,
        after=_listed(rows),
        details={"count": len(rows)},
    )
    return rows


def _listed(rows: Sequence[ProductRetailer]) -> dict[str, Any]:
    """What the audit log hashes of a product's list: each place as stored, in order."""
    return {"retailers": [stored_record(r, leave_out={"id", "created_at"}) for r in rows]}


def _check(retailers: Sequence[RetailerIn]) -> None:
    """What no single retailer shows: too many of them, one web address listed twice."""
    if len(retailers) > MAX_RETAILERS:
        raise Invalid("retailers", f"at most {MAX_RETAILERS} places to buy; {len(retailers)} given")
    first_at: dict[str, int] = {}
    for position, retailer in enumerate(retailers):
        if retailer.url is None:
            continue
        first = first_at.setdefault(retailer.url, position)
        if first != position:
            raise Invalid(
                f"retailers.{position}.url", f"the same web address as retailers.{first}.url"
            )
