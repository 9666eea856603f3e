"""Inspectors' pages: find any producer's batch, read each record version with its signature
check, and take the public keys and the chosen records away as one file for checks offline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response

from tracetag.batches import service
from tracetag.batches.models import Batch
from tracetag.batches.search import search_batches
from tracetag.errors import NotFound
from tracetag.gs1.digital_link import digital_link
from tracetag.signing import registry
from tracetag.web.deps import KeyRingDep, SessionDep, SettingsDep
from tracetag.web.portal.render import PortalPages
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import InspectorDep

router = portal_router("/inspect")
BUNDLE_MAX = 50


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


@router.get("")
def search(
    request: Request,
    session: SessionDep,
    user: InspectorDep,
    q: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    found = search_batches(session, query=q) if q.strip() else []
    return _pages(request).page(request, "inspect.html", q=q, found=found, searched=bool(q))


def _batch(session: SessionDep, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound("batch not found")
    return batch


@router.get("/batches/{batch_id}")
def history(
    request: Request,
    batch_id: int,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    user: InspectorDep,
) -> Response:
    batch = _batch(session, batch_id)
    versions = service.checked_versions(session, batch=batch, keyring=keyring)
    return _pages(request).page(
        request,
        "inspect_batch.html",
        batch=batch,
        versions=versions,
        link=digital_link(settings.public_base_url, batch.product.gtin, batch.lot),
    )


@router.get("/bundle.json")
def bundle(
    session: SessionDep,
    settings: SettingsDep,
    user: InspectorDep,
    batch: Annotated[list[int], Query(max_length=BUNDLE_MAX)],
) -> Response:
    """The JWKS and every version of the chosen batches' records, as stored: an inspector
    checks them later with any JOSE library, trusting only these public keys."""
    entries: list[dict[str, Any]] = []
    for batch_id in dict.fromkeys(batch):
        row = _batch(session, batch_id)
        entries.append(
            {
                "digital_link": digital_link(settings.public_base_url, row.product.gtin, row.lot),
                "records": [
                    {
                        "version": r.version,
                        "record_hash": r.record_hash,
                        "prev_hash": r.prev_hash,
                        "kid": r.kid,
                        "jws": r.jws,
                    }
                    for r in service.records_of(session, row.id)
                ],
            }
        )
    taken = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return JSONResponse(
        {
            "issuer": settings.public_base_url,
            "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "jwks": registry.jwks(session),  # with each key's status and dates
            "batches": entries,
        },
        headers={
            "Content-Disposition": f'attachment; filename="tracetag-records-{taken}.json"',
            "Cache-Control": "no-store",
        },
    )
