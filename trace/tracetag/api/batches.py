"""Producer API: batches, corrections, recalls and QR downloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from tracetag.api.deps import ActorDep, ProducerIdDep, ResourceId
from tracetag.api.responses import API_ERRORS, errors
from tracetag.batches import service
from tracetag.batches.models import Batch
from tracetag.batches.schemas import (
    BatchCorrection,
    BatchCreate,
    BatchOut,
    Recall,
)
from tracetag.gs1.digital_link import digital_link
from tracetag.labels.exports import ImageFormat
from tracetag.labels.qr import ErrorLevel, render_png, render_svg
from tracetag.web.deps import IssuerDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/batches", tags=["producer"], responses=API_ERRORS)

QrSize = Annotated[int, Query(ge=64, le=4000, description="Width in pixels (PNG) or units (SVG).")]
QrLevel = Annotated[ErrorLevel, Query(description="Error correction: L, M, Q or H.")]


def to_out(session: Session, batch: Batch, base_url: str) -> BatchOut:
    return BatchOut.of(batch, service.records_of(session, batch.id), base_url)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BatchOut,
    responses=errors(400, 409, 413),
)
def create_batch(
    data: BatchCreate,
    session: SessionDep,
    producer_id: ProducerIdDep,
    issuer: IssuerDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> BatchOut:
    """Register a batch; its record is signed as version 1 (for an approved producer only)."""
    batch = service.create_batch(
        session, producer_id=producer_id, data=data, issuer=issuer, actor=actor
    )
    session.commit()
    return to_out(session, batch, settings.public_base_url)


@router.get("", response_model=list[BatchOut])
def list_batches(
    session: SessionDep, producer_id: ProducerIdDep, settings: SettingsDep
) -> list[BatchOut]:
    return [
        to_out(session, b, settings.public_base_url)
        for b in service.list_batches(session, producer_id=producer_id)
    ]


@router.get("/{batch_id}", response_model=BatchOut, responses=errors(404))
def get_batch(
    batch_id: ResourceId, session: SessionDep, producer_id: ProducerIdDep, settings: SettingsDep
) -> BatchOut:
    batch = service.get_batch(session, producer_id=producer_id, batch_id=batch_id)
    return to_out(session, batch, settings.public_base_url)


@router.post("/{batch_id}/corrections", response_model=BatchOut, responses=errors(400, 404, 413))
def correct_batch(
    batch_id: ResourceId,
    data: BatchCorrection,
    session: SessionDep,
    producer_id: ProducerIdDep,
    issuer: IssuerDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> BatchOut:
    """Correct a batch: a new signed version that names the previous version's hash (for an
    approved producer only)."""
    batch = service.get_batch(session, producer_id=producer_id, batch_id=batch_id)
    service.correct_batch(session, batch=batch, data=data, issuer=issuer, actor=actor)
    session.commit()
    return to_out(session, batch, settings.public_base_url)


@router.post("/{batch_id}/recall", response_model=BatchOut, responses=errors(400, 404, 409, 413))
def recall_batch(
    batch_id: ResourceId,
    data: Recall,
    session: SessionDep,
    producer_id: ProducerIdDep,
    issuer: IssuerDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> BatchOut:
    """Recall a batch: its page shows a red banner with the reason. A suspended producer may
    recall too: a recall protects consumers."""
    batch = service.get_batch(session, producer_id=producer_id, batch_id=batch_id)
    service.recall_batch(session, batch=batch, reason=data.reason, issuer=issuer, actor=actor)
    session.commit()
    return to_out(session, batch, settings.public_base_url)


QR_MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


@router.get(
    "/{batch_id}/qr.{image_format}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}, **errors(404)},
)
def batch_qr(
    batch_id: ResourceId,
    image_format: ImageFormat,
    session: SessionDep,
    producer_id: ProducerIdDep,
    settings: SettingsDep,
    size: QrSize = 600,
    ec: QrLevel = "M",
) -> Response:
    """The batch QR code (its Digital Link URI): 1-bit PNG or vector SVG, quiet zone included."""
    batch = service.get_batch(session, producer_id=producer_id, batch_id=batch_id)
    uri = digital_link(settings.public_base_url, batch.product.gtin, batch.lot)
    render = render_png if image_format == "png" else render_svg
    return Response(
        render(uri, size=size, level=ec),
        media_type=QR_MEDIA_TYPES[image_format],
        headers={"Content-Disposition": f'inline; filename="batch-{batch.id}.{image_format}"'},
    )
