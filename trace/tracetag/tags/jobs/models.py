from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracetag.audit.models import Channel
from tracetag.core.database import Base, UTCDateTime, one_of, utcnow
from tracetag.tags.models import TagIssuance


class JobStatus(StrEnum):
    """A job waits queued, runs under one worker's lease, and ends done or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class TagJob(Base):
    """A request for a tag run, issued in the background by whichever worker claims it.

    The database is the queue (issue 8): a worker claims a job by one conditional UPDATE, holds
    it by writing heartbeat_at, and a job whose heartbeat stopped is claimed again.
    """

    __tablename__ = "tag_jobs"
    __table_args__ = (
        UniqueConstraint("producer_id", "idempotency_key"),
        CheckConstraint(f"status IN ({one_of(JobStatus)})", name="status"),
        CheckConstraint(f"requested_via IN ({one_of(Channel)})", name="requested_via"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="RESTRICT"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="RESTRICT"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    signed: Mapped[bool] = mapped_column(Boolean)
    # Also the key of the issuance the job makes: a job run again gets that issuance back.
    idempotency_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED, index=True)
    # Tags stored so far by the current attempt (a resumed job starts again from nothing).
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    issuance_id: Mapped[int | None] = mapped_column(
        ForeignKey("tag_issuances.id", ondelete="RESTRICT")
    )
    error: Mapped[str | None] = mapped_column(String(500))  # for a person: what to do next
    # Who asked, as the audit log names an actor (audit.service.Actor).
    requested_via: Mapped[str] = mapped_column(String(10))
    requested_by: Mapped[str] = mapped_column(String(254))
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    requested_by_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="RESTRICT")
    )
    requested_from: Mapped[str | None] = mapped_column(String(45))  # the client's address
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # of the latest attempt
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The worker holding the job; with attempts, it names one claim (see jobs.lease).
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    issuance: Mapped[TagIssuance | None] = relationship()  # set when the job is done
