"""Producer API: the suspicious scans of a batch and of one of its tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from tracetag.api.deps import ProducerIdDep, ResourceId
from tracetag.api.responses import API_ERRORS, errors
from tracetag.batches.service import get_batch
from tracetag.errors import NotFound
from tracetag.gs1.serials import canonical_serial
from tracetag.scans.schemas import SuspiciousScanOut
from tracetag.scans.service import suspicious_scans
from tracetag.tags.models import Tag
from tracetag.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/batches", tags=["producer"], responses=API_ERRORS)

Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many scans.")]
Before = Annotated[
    int | None, Query(ge=1, le=2**63 - 1, description="Only scans older than this scan id.")
]
Serial = Annotated[str, Path(min_length=1, max_length=20, pattern="^[0-9A-Za-z]+$")]


@router.get(
    "/{batch_id}/suspicious-scans",
    response_model=list[SuspiciousScanOut],
    responses=errors(404),
)
def batch_suspicious_scans(
    batch_id: ResourceId,
    session: SessionDep,
    producer_id: ProducerIdDep,
    limit: Limit = 100,
    before: Before = None,
) -> list[SuspiciousScanOut]:
    """Scans of this batch's tags whose label failed its check, newest first."""
    batch = get_batch(session, producer_id=producer_id, batch_id=batch_id)
    return suspicious_scans(session, batch_id=batch.id, before=before, limit=limit)


@router.get(
    "/{batch_id}/tags/{serial}/suspicious-scans",
    response_model=list[SuspiciousScanOut],
    responses=errors(404),
)
def tag_suspicious_scans(
    batch_id: ResourceId,
    serial: Serial,
    session: SessionDep,
    producer_id: ProducerIdDep,
    limit: Limit = 100,
    before: Before = None,
) -> list[SuspiciousScanOut]:
    """The suspicious scans of one tag of this batch (serials typed in lower case are read)."""
    batch = get_batch(session, producer_id=producer_id, batch_id=batch_id)
    issued = canonical_serial(serial)
    tag_batch = session.scalar(
        select(Tag.batch_id).where(Tag.gtin == batch.product.gtin, Tag.serial == issued)
    )
    if tag_batch != batch.id:
        raise NotFound("this batch has no tag with that serial")
    return suspicious_scans(session, batch_id=batch.id, serial=issued, before=before, limit=limit)
