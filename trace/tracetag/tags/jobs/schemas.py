from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from tracetag.core.fields import ValuesOf, from_row
from tracetag.tags.jobs.models import JobStatus, TagJob
from tracetag.tags.schemas import IssuanceOut


class TagJobOut(BaseModel):
    id: int
    batch_id: int
    count: int
    signed: bool
    idempotency_key: str
    status: Annotated[str, ValuesOf(JobStatus)]
    done_count: int = Field(
        description="Tags stored so far; a job resumed after its worker stopped counts again "
        "from 0 (the half-made run is removed first)."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="Why a failed job failed, and what to do.")
    issuance: IssuanceOut | None = Field(
        description="When done: the issuance made, with where to download its labels."
    )

    @classmethod
    def of(cls, job: TagJob) -> TagJobOut:
        """The API's view of a job; its issuance once it is done."""
        issuance = IssuanceOut.of(job.issuance) if job.issuance is not None else None
        return from_row(cls, job, issuance=issuance)
