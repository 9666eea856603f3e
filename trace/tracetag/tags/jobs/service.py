"""Queue tag jobs and read them back: what a request does, at once; runner.py issues the tags."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.batches.models import BatchStatus
from tracetag.batches.service import get_batch
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, Invalid, NotFound
from tracetag.tags.jobs.models import JobStatus, TagJob
from tracetag.tags.models import TagIssuance
from tracetag.tags.schemas import MAX_TAGS_PER_ISSUANCE
from tracetag.tags.service import find_issuance

# Runs of this many tags or more go through a job: one request would hold its worker (and,
# without a job, its client) for the whole run, about a minute per 100,000 signed tags.
JOB_THRESHOLD = 10_000
MAX_LISTED = 100


def find_job(session: Session, *, producer_id: int, idempotency_key: str) -> TagJob | None:
    """The job queued with this key, in whatever state."""
    stmt = select(TagJob).where(
        TagJob.producer_id == producer_id, TagJob.idempotency_key == idempotency_key
    )
    return session.scalar(stmt)


def _check_same_request(
    earlier: TagJob | TagIssuance, *, batch_id: int, count: int, signed: bool
) -> None:
    """A key already used stands for one request: the same batch, count and signing."""
    if (earlier.batch_id, earlier.count, earlier.signed) != (batch_id, count, signed):
        raise Conflict(
            "this idempotency key was used for a different request "
            f"(batch {earlier.batch_id}, {earlier.count} tags); use a new key"
        )


def queue_tag_job(
    session: Session,
    *,
    producer_id: int,
    batch_id: int,
    count: int,
    signed: bool,
    idempotency_key: str,
    requested_by: Actor,
) -> tuple[TagJob, bool]:
    """Queue a tag run, or return the job this key queued before; (job, created). Flushes."""
    existing = find_job(session, producer_id=producer_id, idempotency_key=idempotency_key)
    if existing is not None:
        _check_same_request(existing, batch_id=batch_id, count=count, signed=signed)
        return existing, False
    batch = get_batch(session, producer_id=producer_id, batch_id=batch_id)
    if not 1 <= count <= MAX_TAGS_PER_ISSUANCE:
        raise Invalid("count", f"must be from 1 to {MAX_TAGS_PER_ISSUANCE:,}")
    if batch.status == BatchStatus.RECALLED:
        raise Invalid("batch_id", "the batch is recalled; no new tags can be issued for it")
    # The job's key is also its issuance's: a key an issuance already has for another request
    # would only fail later, in the worker.
    issued = find_issuance(session, producer_id=producer_id, idempotency_key=idempotency_key)
    if issued is not None:
        _check_same_request(issued, batch_id=batch_id, count=count, signed=signed)
    job = TagJob(
        producer_id=producer_id,
        batch_id=batch_id,
        count=count,
        signed=signed,
        idempotency_key=idempotency_key,
        status=JobStatus.QUEUED,
        done_count=0,
        attempts=0,
        created_at=utcnow(),
        requested_via=requested_by.channel,
        requested_by=requested_by.label[:254],
        requested_by_user_id=requested_by.user_id,
        requested_by_key_id=requested_by.key_id,
        requested_from=requested_by.client_ip,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # The same key, queued by a concurrent request that committed first (PostgreSQL; on
        # SQLite the request's write lock keeps the two apart).
        existing = find_job(session, producer_id=producer_id, idempotency_key=idempotency_key)
        if existing is None:
            raise
        _check_same_request(existing, batch_id=batch_id, count=count, signed=signed)
        return existing, False
    return job, True


def get_job(session: Session, *, producer_id: int, job_id: int) -> TagJob:
    """A job of this producer; another producer's job is simply not found."""
    job = session.get(TagJob, job_id)
    if job is None or job.producer_id != producer_id:
        raise NotFound("tag job not found")
    return job


def list_jobs(session: Session, *, producer_id: int, batch_id: int | None = None) -> list[TagJob]:
    """The producer's newest jobs first (at most MAX_LISTED), of one batch or of all."""
    stmt = select(TagJob).where(TagJob.producer_id == producer_id)
    if batch_id is not None:
        stmt = stmt.where(TagJob.batch_id == batch_id)
    stmt = stmt.options(selectinload(TagJob.issuance)).order_by(TagJob.id.desc()).limit(MAX_LISTED)
    return list(session.scalars(stmt))


def requester(job: TagJob) -> Actor:
    """Who queued the job, as the audit log names an actor."""
    return Actor(
        Channel(job.requested_via),
        job.requested_by,
        user_id=job.requested_by_user_id,
        key_id=job.requested_by_key_id,
        client_ip=job.requested_from,
    )
