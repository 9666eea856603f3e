from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.errors import Conflict, NotFound
from tracetag.products.images import CleanImage
from tracetag.products.models import Product, ProductImage
from tracetag.products.schemas import ProductCreate


def create_product(session: Session, *, producer_id: int, data: ProductCreate) -> Product:
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


def store_image(session: Session, *, product: Product, image: CleanImage) -> None:
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


def get_image(session: Session, sha256: str) -> ProductImage:
    image = session.get(ProductImage, sha256)
    if image is None:
        raise NotFound("image not found")
    return image
