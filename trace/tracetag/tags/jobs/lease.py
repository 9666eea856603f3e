"""Claiming a tag job and holding it: one worker at a time, and a dead worker's job taken over.

Decision (issue 8): the database is the queue. A worker claims a job with one UPDATE whose
WHERE names what may be claimed (queued, or running with a heartbeat older than the lease);
PostgreSQL picks the row FOR UPDATE SKIP LOCKED, and on SQLite BEGIN IMMEDIATE lets one claimer
in at a time. A claim is named by (claimed_by, attempts): every later write of the worker's
(progress, heartbeat, the result) carries that name in its WHERE, so a worker whose job was
taken over finds out from a rowcount of 0 and writes nothing more. The tags themselves are safe
either way: the job's idempotency key is its issuance's, and a pending issuance taken over stops
its writer (tags/service.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement

from tracetag.audit.models import AuditEvent
from tracetag.audit.service import record_change
from tracetag.core.database import begin_write, utcnow
from tracetag.tags.jobs.models import JobStatus, TagJob
from tracetag.tags.jobs.service import requester
from tracetag.tags.models import IssuanceState, TagIssuance
from tracetag.tags.service import _claim, _remove_run, find_issuance

_JOBS = cast(Table, TagJob.__table__)
# A job whose heartbeat is older than this is a dead worker's, and may be claimed again.
LEASE = timedelta(seconds=60)
# How often a running job's heartbeat is written, from a thread of its own: well inside the
# lease, even when one write waits out SQLite's 15 s busy timeout.
HEARTBEAT_EVERY = 10.0
# done_count is written at most this often (every chunk, with chunks a second or more apart).
PROGRESS_EVERY = 1.0
# A job claimed this many times without an end is given up: it may be what kills its worker.
MAX_ATTEMPTS = 3
# Taking over an earlier attempt's pending run: however recently it moved (clocks of other
# hosts included), since the job's lease, not the run's age, says its writer is gone.
_ANY_AGE = timedelta(days=1)
AUDIT_ACTION = "tag_issuance.create"


class LeaseLost(Exception):
    """Another worker holds the job now; this one stops and writes nothing more."""


@dataclass(frozen=True)
class Claim:
    """A job as its worker took it: what to issue, and the name of this claim."""

    job_id: int
    producer_id: int
    batch_id: int
    count: int
    signed: bool
    idempotency_key: str
    created_at: datetime
    worker: str
    attempt: int


def _claimable(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    lapsed = and_(TagJob.status == JobStatus.RUNNING, TagJob.heartbeat_at < now - lease)
    return or_(TagJob.status == JobStatus.QUEUED, lapsed)


def claim_next_job(
    factory: sessionmaker[Session], *, worker: str, lease: timedelta = LEASE
) -> Claim | None:
    """Take the oldest job that is queued or whose worker died; None when there is none."""
    now = utcnow()
    claimable = _claimable(now, lease)
    # A plain read first: polling an empty queue must not take SQLite's write lock.
    with factory() as session:
        if session.scalar(select(TagJob.id).where(claimable).limit(1)) is None:
            return None
    with factory() as session:
        begin_write(session)
        job = session.scalar(
            select(TagJob)
            .where(claimable)
            .order_by(TagJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's write lock serializes
        )
        if job is None:
            return None
        # The WHERE again, and the rowcount: the claim holds whatever the isolation level.
        attempt = session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job.id, claimable)
            .values(
                status=JobStatus.RUNNING,
                claimed_by=worker,
                attempts=_JOBS.c.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                done_count=0,
            )
            .returning(_JOBS.c.attempts)
        ).scalar_one_or_none()
        if attempt is None:
            return None
        session.commit()
        return Claim(
            job_id=job.id,
            producer_id=job.producer_id,
            batch_id=job.batch_id,
            count=job.count,
            signed=job.signed,
            idempotency_key=job.idempotency_key,
            created_at=job.created_at,
            worker=worker,
            attempt=attempt,
        )


def remove_earlier_attempt(factory: sessionmaker[Session], claim: Claim) -> bool:
    """Remove the pending run an earlier attempt of the job left half made; True if there was.

    Only a run made after the job was queued is the job's own: one older than that, under the
    same key, is another request's, and issue_tags deals with it (published: it is the answer;
    pending: "in progress", or removed once stale).
    """
    with factory() as session:
        begin_write(session)
        run = find_issuance(
            session, producer_id=claim.producer_id, idempotency_key=claim.idempotency_key
        )
        if run is None or run.state != IssuanceState.PENDING or run.created_at < claim.created_at:
            return False
        # As cleanup_incomplete_issuances does: claim the run (its writer, if alive, stops at
        # its next chunk), then delete it in short transactions.
        _claim(session, run.id, utcnow() + _ANY_AGE)
        session.commit()
    _remove_run(factory, run.id)  # also when another remover claimed it first: that run is gone
    return True


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


class Lease:
    """A worker's hold on a claimed job: heartbeats, progress, and the job's end."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        claim: Claim,
        *,
        progress_every: float = PROGRESS_EVERY,
    ) -> None:
        self._factory = factory
        self.claim = claim
        self._progress_every = progress_every
        self._written_at = time.monotonic()
        self.done = 0
        self.lost = False

    def _holding(self) -> ColumnElement[bool]:
        """This claim still holds the job: nobody took it over since."""
        return and_(
            _JOBS.c.id == self.claim.job_id,
            _JOBS.c.status == JobStatus.RUNNING,
            _JOBS.c.claimed_by == self.claim.worker,
            _JOBS.c.attempts == self.claim.attempt,
        )

    def _write(self, **values: object) -> None:
        """Update the job if this claim still holds it, else raise LeaseLost."""
        if self.lost:
            raise LeaseLost(f"tag job {self.claim.job_id} was taken over")
        with self._factory() as session:
            begin_write(session)
            written = session.execute(update(_JOBS).where(self._holding()).values(**values))
            session.commit()
        if _rowcount(written) != 1:
            self.lost = True
            raise LeaseLost(f"tag job {self.claim.job_id} was taken over")

    def beat(self) -> None:
        """Say the worker is alive (from the heartbeat thread)."""
        self._write(heartbeat_at=utcnow())

    def advance(self, stored: int) -> None:
        """Count tags stored; write the count if PROGRESS_EVERY has passed since the last."""
        if self.lost:
            raise LeaseLost(f"tag job {self.claim.job_id} was taken over")
        self.done += stored
        if time.monotonic() - self._written_at >= self._progress_every:
            self._write(done_count=self.done, heartbeat_at=utcnow())
            self._written_at = time.monotonic()

    def finish(self, issuance: TagIssuance) -> bool:
        """Mark the job done with its issuance, and log who asked; False if no longer ours."""
        now = utcnow()
        with self._factory() as session:
            begin_write(session)
            done = session.execute(
                update(_JOBS)
                .where(self._holding())
                .values(
                    status=JobStatus.DONE,
                    issuance_id=issuance.id,
                    done_count=issuance.count,
                    finished_at=now,
                    heartbeat_at=now,
                )
            )
            if _rowcount(done) != 1:
                return False
            # Once per issuance: an earlier attempt may have published it and logged it, then
            # died before it could mark the job done.
            logged = session.scalar(
                select(
                    exists().where(
                        AuditEvent.action == AUDIT_ACTION,
                        AuditEvent.target_type == "tag_issuance",
                        AuditEvent.target_id == str(issuance.id),
                    )
                )
            )
            if not logged:
                record_change(
                    session,
                    actor=requester(session.get_one(TagJob, self.claim.job_id)),
                    action=AUDIT_ACTION,
                    target_type="tag_issuance",
                    target_id=issuance.id,
                    producer_id=self.claim.producer_id,
                    at=now,
                    details={
                        "job_id": self.claim.job_id,
                        "batch_id": issuance.batch_id,
                        "count": issuance.count,
                        "signed": issuance.signed,
                    },
                )
            session.commit()
        return True

    def fail(self, message: str) -> bool:
        """Mark the job failed with a message a person can act on; False if no longer ours."""
        now = utcnow()
        return self._end(
            status=JobStatus.FAILED, error=message[:500], finished_at=now, heartbeat_at=now
        )

    def hand_back(self, *, count_attempt: bool) -> bool:
        """Queue the job again for any worker; a shutdown's cut does not count as an attempt."""
        attempts = _JOBS.c.attempts - (0 if count_attempt else 1)
        return self._end(
            status=JobStatus.QUEUED,
            claimed_by=None,
            heartbeat_at=None,
            done_count=0,
            attempts=attempts,
        )

    def _end(self, **values: object) -> bool:
        try:
            self._write(**values)
        except LeaseLost:
            return False
        return True
