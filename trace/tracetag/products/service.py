"""Products: what a producer makes. Every change is written to the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor, record_change
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, NotFound
from tracetag.products.images import CleanImage
from tracetag.products.models import Product, ProductImage
from tracetag.products.schemas import ProductCreate, ProductOut


def product_record(product: Product) -> dict[str, Any]:
    """What the audit log hashes of a product: the API's view of the stored row."""
    return ProductOut.of(product).model_dump(mode="json")


def create_product(
    session: Session, *, producer_id: int, data: ProductCreate, actor: Actor
) -> Product:
    """Any producer may add products, approved or not: nothing about a product is signed
    until a batch of it is."""
    if session.scalar(select(Product.id).where(Product.gtin == data.gtin)) is not None:
        raise Conflict(f"GTIN {data.gtin} is already registered")
    product = Product(
        producer_id=producer_id,
        name=data.name,
        brand=data.brand,
        gtin=data.gtin,
        category=data.category,
        characteristics=data.characteristics,
        unit=data.unit,
        standards=list(data.standards),
    )
    session.add(product)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="product.create",
        target_type="product",
        target_id=product.id,
        producer_id=producer_id,
        at=utcnow(),
        after=product_record(product),
        details={"gtin": product.gtin},
    )
    return product


def get_product(session: Session, *, producer_id: int, product_id: int) -> Product:
    """A product of this producer; another producer's product is simply not found."""
    product = session.get(Product, product_id)
    if product is None or product.producer_id != producer_id:
        raise NotFound("product not found")
    return product


def list_products(session: Session, *, producer_id: int) -> list[Product]:
    stmt = select(Product).where(Product.producer_id == producer_id).order_by(Product.id)
    return list(session.scalars(stmt))


def store_image(session: Session, *, product: Product, image: CleanImage, actor: Actor) -> bool:
    """Set the product's image; False when it is that image already (nothing changes, nothing
    is logged). The caller re-signs the product's batches, whose records name the image."""
    if product.image_sha256 == image.sha256:
        return False
    before = product_record(product)
    if session.get(ProductImage, image.sha256) is None:
        session.add(
            ProductImage(
                sha256=image.sha256,
                content_type=image.content_type,
                width=image.width,
                height=image.height,
                data=image.data,
            )
        )
        session.flush()
    product.image_sha256 = image.sha256
    session.flush()
    record_change(
        session,
        actor=actor,
        action="product.image_set",
        target_type="product",
        target_id=product.id,
        producer_id=product.producer_id,
        at=utcnow(),
        before=before,
        after=product_record(product),
        details={"image_sha256": image.sha256},
    )
    return True


def get_image(session: Session, sha256: str) -> ProductImage:
    image = session.get(ProductImage, sha256)
    if image is None:
        raise NotFound("image not found")
    return image
