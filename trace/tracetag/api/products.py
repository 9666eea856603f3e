"""Producer API: products and their images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile, status

from tracetag.api.deps import ActorDep, ProducerIdDep, ResourceId
from tracetag.api.responses import API_ERRORS, errors
from tracetag.batches.service import resign_product_batches
from tracetag.errors import Invalid
from tracetag.products import service
from tracetag.products.images import clean_image
from tracetag.products.schemas import ProductCreate, ProductOut
from tracetag.web.deps import IssuerDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/products", tags=["producer"], responses=API_ERRORS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductOut,
    responses=errors(400, 409, 413),
)
def create_product(
    data: ProductCreate, session: SessionDep, producer_id: ProducerIdDep, actor: ActorDep
) -> ProductOut:
    product = service.create_product(session, producer_id=producer_id, data=data, actor=actor)
    session.commit()
    return ProductOut.of(product)


@router.get("", response_model=list[ProductOut])
def list_products(session: SessionDep, producer_id: ProducerIdDep) -> list[ProductOut]:
    return [ProductOut.of(p) for p in service.list_products(session, producer_id=producer_id)]


@router.get("/{product_id}", response_model=ProductOut, responses=errors(404))
def get_product(
    product_id: ResourceId, session: SessionDep, producer_id: ProducerIdDep
) -> ProductOut:
    return ProductOut.of(
        service.get_product(session, producer_id=producer_id, product_id=product_id)
    )


@router.put("/{product_id}/image", response_model=ProductOut, responses=errors(400, 404, 413))
def upload_image(
    product_id: ResourceId,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP; re-encoded as JPEG.")],
    session: SessionDep,
    producer_id: ProducerIdDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    actor: ActorDep,
) -> ProductOut:
    """Set the product image. Batches of the product get a new signed version with its hash,
    which only an approved producer's batches get (else 403, and the image stays as it was)."""
    product = service.get_product(session, producer_id=producer_id, product_id=product_id)
    raw = file.file.read(settings.max_image_bytes + 1)
    if len(raw) > settings.max_image_bytes:
        raise Invalid("file", f"the image is larger than {settings.max_image_bytes:,} bytes")
    image = clean_image(raw, max_bytes=settings.max_image_bytes, max_side=settings.image_max_side)
    if service.store_image(session, product=product, image=image, actor=actor):
        resign_product_batches(
            session, product=product, issuer=issuer, note="product image updated", actor=actor
        )
    session.commit()
    return ProductOut.of(product)
