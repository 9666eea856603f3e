"""Producer API: issue unit tags and download their labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from tracetag.api.deps import ActorDep, ProducerIdDep, ResourceId
from tracetag.api.responses import API_ERRORS, errors
from tracetag.batches.models import Batch
from tracetag.errors import Invalid
from tracetag.labels.exports import ImageFormat
from tracetag.labels.pdf import SheetLayout
from tracetag.tags import service
from tracetag.tags.printing import (
    MEDIA_TYPES,
    ExportFormat,
    check_export,
    export,
)
from tracetag.tags.schemas import IssuanceOut, IssueTags
from tracetag.web.deps import IssuerDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["tags"], responses=API_ERRORS)

Mm = Annotated[float, Query(gt=0, le=1000)]
DEFAULT = SheetLayout()  # the query's defaults are the layout's own


@router.post(
    "/batches/{batch_id}/tags",
    response_model=IssuanceOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The issuance made earlier with this idempotency key."},
        **errors(400, 404, 409, 413),
    },
)
def issue_tags(
    request: Request,
    batch_id: ResourceId,
    data: IssueTags,
    response: Response,
    session: SessionDep,
    producer_id: ProducerIdDep,
    issuer: IssuerDep,
    actor: ActorDep,
) -> IssuanceOut:
    """Issue `count` unit tags for a batch: all of them or none, published in one step (for an
    approved producer only)."""
    # The request's session began as a writer (on SQLite: BEGIN IMMEDIATE, the write lock)
    # to check the API key. The run commits chunks from sessions of its own, so this one lets
    # go first; holding it, every chunk would wait for it until the busy timeout (issue 6).
    session.commit()
    issuance, created = service.issue_tags(
        request.app.state.session_factory,
        batch_id=batch_id,
        producer_id=producer_id,
        count=data.count,
        signed=data.signed,
        idempotency_key=data.idempotency_key,
        issuer=issuer,
        actor=actor,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return IssuanceOut.of(issuance)


@router.get("/tag-issuances/{issuance_id}", response_model=IssuanceOut, responses=errors(404))
def get_issuance(
    issuance_id: ResourceId, session: SessionDep, producer_id: ProducerIdDep
) -> IssuanceOut:
    return IssuanceOut.of(
        service.get_issuance(session, producer_id=producer_id, issuance_id=issuance_id)
    )


@router.get(
    "/tag-issuances/{issuance_id}/labels.{export_format}",
    response_class=StreamingResponse,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}, **errors(404)},
)
def download_labels(
    request: Request,
    issuance_id: ResourceId,
    export_format: ExportFormat,
    session: SessionDep,
    producer_id: ProducerIdDep,
    settings: SettingsDep,
    page_width: Mm = DEFAULT.page_width,
    page_height: Mm = DEFAULT.page_height,
    columns: Annotated[int, Query(ge=1, le=20)] = DEFAULT.columns,
    rows: Annotated[int, Query(ge=1, le=40)] = DEFAULT.rows,
    margin_top: Annotated[float, Query(ge=0, le=500)] = DEFAULT.margin_top,
    margin_left: Annotated[float, Query(ge=0, le=500)] = DEFAULT.margin_left,
    label_width: Mm = DEFAULT.label_width,
    label_height: Mm = DEFAULT.label_height,
    gap_x: Annotated[float, Query(ge=0, le=100)] = DEFAULT.gap_x,
    gap_y: Annotated[float, Query(ge=0, le=100)] = DEFAULT.gap_y,
    qr_size: Mm = DEFAULT.qr_size,
    image: ImageFormat = "png",
    image_size: Annotated[int, Query(ge=64, le=4000)] = 600,
) -> StreamingResponse:
    """Labels of an issuance, streamed: PDF sheets (sizes in mm), CSV, ZPL, or a ZIP of images.

    A PDF layout whose QR code would be too small to scan, or would not fit, is refused (422)
    with the size it needs.
    """
    issuance = service.get_issuance(session, producer_id=producer_id, issuance_id=issuance_id)
    batch = session.get(Batch, issuance.batch_id)
    assert batch is not None
    layout = SheetLayout(
        page_width=page_width,
        page_height=page_height,
        columns=columns,
        rows=rows,
        margin_top=margin_top,
        margin_left=margin_left,
        label_width=label_width,
        label_height=label_height,
        gap_x=gap_x,
        gap_y=gap_y,
        qr_size=qr_size,
    )
    try:
        check_export(export_format, layout, issuance, batch, settings.public_base_url)
    except ValueError as exc:
        raise Invalid("layout", str(exc)) from exc
    filename = f"tags-{issuance.id}.{export_format}"
    return StreamingResponse(
        export(
            request.app.state.session_factory,
            issuance_id=issuance.id,
            export_format=export_format,
            base_url=settings.public_base_url,
            layout=layout,
            image_format=image,
            image_size=image_size,
            workers=settings.label_workers,
        ),
        media_type=MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
