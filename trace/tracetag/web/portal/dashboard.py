"""A producer's overview: products, recent batches, scans this week, open warnings."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from tracetag.batches.service import list_batches
from tracetag.core.database import utcnow
from tracetag.producers.service import get_producer
from tracetag.products.service import list_products
from tracetag.scans.stats import producer_week
from tracetag.web.deps import SessionDep
from tracetag.web.portal.render import PortalPages
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import ProducerDep

router = portal_router()


@router.get("/dashboard")
def dashboard(
    request: Request, session: SessionDep, user: ProducerDep, done: str | None = None
) -> Response:
    assert user.producer_id is not None
    pages: PortalPages = request.app.state.portal_pages
    producer = get_producer(session, user.producer_id)
    products = list_products(session, producer_id=producer.id)
    batches = list_batches(session, producer_id=producer.id)
    week = producer_week(session, producer_id=producer.id, now=utcnow())
    return pages.page(
        request,
        "dashboard.html",
        producer=producer,
        product_count=len(products),
        batch_count=len(batches),
        recent=list(reversed(batches[-5:])),
        week=week,
        done=done,
    )
