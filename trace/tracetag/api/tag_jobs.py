"""Producer API: tag runs of any size as background jobs, followed by polling (issue 8)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from tracetag.api.deps import CallerDep, ProducerIdDep, ResourceId
from tracetag.api.responses import API_ERRORS, errors
from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.tags.jobs import service
from tracetag.tags.jobs.runner import TagJobRunner
from tracetag.tags.jobs.schemas import TagJobOut
from tracetag.tags.schemas import IssueTags
from tracetag.web.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["tags"], responses=API_ERRORS)

_LOCATION: dict[str, Any] = {
    "Location": {"description": "Where to follow the job.", "schema": {"type": "string"}}
}


@router.post(
    "/batches/{batch_id}/tag-jobs",
    response_model=TagJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {"description": "Queued; follow it at Location.", "headers": _LOCATION},
        200: {
            "model": TagJobOut,
            "description": "The job queued earlier with this idempotency key.",
            "headers": _LOCATION,
        },
        **errors(400, 404, 409, 413),
    },
)
def queue_tag_job(
    request: Request,
    batch_id: ResourceId,
    data: IssueTags,
    response: Response,
    session: SessionDep,
    producer_id: ProducerIdDep,
    caller: CallerDep,
) -> TagJobOut:
    """Queue `count` unit tags for a batch, issued in the background: all of them or none.

    The answer comes at once; `GET` the Location until `status` is `done` (then `issuance` has
    the labels' links) or `failed` (then `error` says why).
    """
    requested_by = Actor(
        Channel.API,
        f"API key {caller.key_id}",
        key_id=caller.key_id,
        client_ip=request.client.host if request.client else None,
    )
    job, created = service.queue_tag_job(
        session,
        producer_id=producer_id,
        batch_id=batch_id,
        count=data.count,
        signed=data.signed,
        idempotency_key=data.idempotency_key,
        requested_by=requested_by,
    )
    session.commit()
    runner: TagJobRunner | None = request.app.state.tag_job_runner
    if created and runner is not None:
        runner.wake()
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = str(request.url_for("get_tag_job", job_id=job.id).path)
    return TagJobOut.of(job)


@router.get("/tag-jobs/{job_id}", response_model=TagJobOut, responses=errors(404))
def get_tag_job(job_id: ResourceId, session: SessionDep, producer_id: ProducerIdDep) -> TagJobOut:
    """A job's status and progress; once done, its issuance."""
    return TagJobOut.of(service.get_job(session, producer_id=producer_id, job_id=job_id))


@router.get("/tag-jobs", response_model=list[TagJobOut])
def list_tag_jobs(
    session: SessionDep,
    producer_id: ProducerIdDep,
    batch_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> list[TagJobOut]:
    """The producer's newest jobs first (at most 100), of one batch or of all."""
    jobs = service.list_jobs(session, producer_id=producer_id, batch_id=batch_id)
    return [TagJobOut.of(job) for job in jobs]
