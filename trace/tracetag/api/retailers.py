"""Producer API: where to buy each product (issue 8)."""

from __future__ import annotations

from fastapi import APIRouter

from tracetag.api.deps import ActorDep, ProducerIdDep, ResourceId
from tracetag.api.responses import API_ERRORS, errors
from tracetag.products.retailer_models import ProductRetailer
from tracetag.products.retailer_schemas import RetailerOut, RetailersIn, RetailersOut
from tracetag.products.retailers import list_retailers, set_retailers
from tracetag.products.service import get_product
from tracetag.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/products", tags=["producer"], responses=API_ERRORS)


def _answer(product_id: int, rows: list[ProductRetailer]) -> RetailersOut:
    return RetailersOut(product_id=product_id, retailers=[RetailerOut.of(r) for r in rows])


@router.get("/{product_id}/retailers", response_model=RetailersOut, responses=errors(404))
def get_retailers(
    product_id: ResourceId, session: SessionDep, producer_id: ProducerIdDep
) -> RetailersOut:
    """The product's places to buy, in the order its public pages list them."""
    product = get_product(session, producer_id=producer_id, product_id=product_id)
    return _answer(product.id, list_retailers(session, product_id=product.id))


@router.put("/{product_id}/retailers", response_model=RetailersOut, responses=errors(400, 404, 413))
def put_retailers(
    product_id: ResourceId,
    data: RetailersIn,
    session: SessionDep,
    producer_id: ProducerIdDep,
    actor: ActorDep,
) -> RetailersOut:
    """Replace the whole list (at most 20); `[]` clears it. A web address must start with
    https:// or http:// and is stored normalized. The list is not part of the signed record:
    saving it signs nothing, and the public pages show it apart from the record, the first
    places of the list (up to five) within a size limit; the linkset lists every web address."""
    product = get_product(session, producer_id=producer_id, product_id=product_id)
    rows = set_retailers(session, product=product, retailers=data.retailers, actor=actor)
    session.commit()
    return _answer(product.id, rows)
