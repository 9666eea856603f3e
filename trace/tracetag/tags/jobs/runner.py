"""The worker inside the service process that issues queued tag jobs (issue 8).

Every process of the service runs one (`serve --workers 4`: four), and the claims in the
database (lease.py) keep them from ever running one job at once; a single process needs nothing
more, no broker. A job cut off by a shutdown goes back to the queue; one whose process died is
claimed again once its heartbeat is older than the lease.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta
from functools import partial
from types import TracebackType

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tracetag.errors import Conflict, Invalid, NotFound
from tracetag.signing.issuer import Issuer
from tracetag.tags.jobs.lease import (
    HEARTBEAT_EVERY,
    LEASE,
    MAX_ATTEMPTS,
    PROGRESS_EVERY,
    Claim,
    Lease,
    LeaseLost,
    claim_next_job,
    remove_earlier_attempt,
)
from tracetag.tags.jobs.models import TagJob
from tracetag.tags.jobs.service import requester
from tracetag.tags.service import issue_tags

log = logging.getLogger("tracetag.tags.jobs")

POLL_INTERVAL = 2.0  # seconds between looks at the queue, for jobs other processes queued
MAX_BACKOFF = 60.0  # between looks while the database cannot be reached
STOP_TIMEOUT = 30.0
INTERNAL_ERROR = (
    "the tags could not be issued because of an error in the service (it has been logged); "
    "ask again with a new idempotency key"
)
GAVE_UP = (
    "the job was cut off {times} times before it could finish (its worker stopped each time); "
    "ask again with a new idempotency key, or for fewer tags"
)


class _ShuttingDown(Exception):
    """The service is stopping: the job goes back to the queue."""


def readable_error(exc: Exception) -> str:
    """What a person is told of a failed job: the rule it broke, never a traceback."""
    if isinstance(exc, Invalid):
        return exc.message
    if isinstance(exc, Conflict | NotFound):
        return str(exc)
    return INTERNAL_ERROR


class _Heartbeat:
    """Writes a job's heartbeat from a thread of its own while the job runs.

    Progress comes only between chunks; a thread of its own keeps the lease alive through
    anything longer (a large half-made run being removed, a chunk waiting for SQLite's lock).
    """

    def __init__(self, lease: Lease, every: float) -> None:
        self._lease = lease
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tag-job-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._every):
            try:
                self._lease.beat()
            except LeaseLost:
                return  # the job's own thread finds out at its next chunk
            except Exception:
                log.warning(
                    "tag job %d: heartbeat not written", self._lease.claim.job_id, exc_info=True
                )


class TagJobRunner:
    """Claims queued tag jobs and issues them, one at a time, in a background thread."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        issuer: Issuer,
        *,
        poll_interval: float = POLL_INTERVAL,
        lease: timedelta = LEASE,
        heartbeat_every: float = HEARTBEAT_EVERY,
        progress_every: float = PROGRESS_EVERY,
    ) -> None:
        self._factory = factory
        self._issuer = issuer
        self._poll_interval = poll_interval
        self._lease = lease
        self._heartbeat_every = heartbeat_every
        self._progress_every = progress_every
        # Names this runner in claimed_by: which host and process holds a job.
        self.worker = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Once only: a claim is named by the worker and its attempt, and a runner that handed
        # a job back (on stop) must not claim it again under the same name.
        if self._stopping.is_set():
            raise RuntimeError("a stopped TagJobRunner cannot start again")
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tag-jobs", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look at the queue now: a job was queued in this process."""
        self._wake.set()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop after the current chunk; the job being issued goes back to the queue."""
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("a tag job did not stop in %.0f s; another worker resumes it", timeout)

    def run_once(self) -> bool:
        """Claim one job and issue it to its end; False when there was none to claim."""
        if self._stopping.is_set():
            return False
        claim = claim_next_job(self._factory, worker=self.worker, lease=self._lease)
        if claim is None:
            return False
        self._run(claim)
        return True

    def _loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()  # before looking: a job queued while we look wakes the next look
            try:
                ran = self.run_once()
                failures = 0
            except Exception:
                failures = min(failures + 1, 10)
                log.warning("tag jobs: the queue cannot be read now", exc_info=True)
                ran = False
            if not ran:
                self._wake.wait(min(self._poll_interval * 2**failures, MAX_BACKOFF))

    def _advance(self, lease: Lease, stored: int) -> None:
        if self._stopping.is_set():
            raise _ShuttingDown
        lease.advance(stored)

    def _run(self, claim: Claim) -> None:
        job = claim.job_id
        log.info("tag job %d: attempt %d by %s", job, claim.attempt, self.worker)
        lease = Lease(self._factory, claim, progress_every=self._progress_every)
        with _Heartbeat(lease, self._heartbeat_every):
            try:
                remove_earlier_attempt(self._factory, claim)
                if claim.attempt > MAX_ATTEMPTS:
                    log.error("tag job %d: given up after %d attempts", job, MAX_ATTEMPTS)
                    lease.fail(GAVE_UP.format(times=claim.attempt - 1))
                    return
                with self._factory() as session:  # who asked: the audit event names them
                    actor = requester(session.get_one(TagJob, claim.job_id))
                issuance, _created = issue_tags(
                    self._factory,
                    actor=actor,
                    batch_id=claim.batch_id,
                    producer_id=claim.producer_id,
                    count=claim.count,
                    signed=claim.signed,
                    idempotency_key=claim.idempotency_key,
                    issuer=self._issuer,
                    progress=partial(self._advance, lease),
                )
            except LeaseLost:
                log.warning("tag job %d: taken over by another worker; this one stops", job)
                return
            except _ShuttingDown:
                log.info("tag job %d: cut off by shutdown; queued again", job)
                lease.hand_back(count_attempt=False)
                return
            except (OperationalError, InterfaceError):
                # Not the job's fault: it is queued again (or, if even that cannot be written,
                # claimed again when its lease lapses).
                log.warning("tag job %d: the database failed; queued again", job, exc_info=True)
                lease.hand_back(count_attempt=True)
                return
            except Exception as exc:
                if not isinstance(exc, Invalid | Conflict | NotFound):
                    log.exception("tag job %d failed", job)
                lease.fail(readable_error(exc))
                return
            if lease.finish(issuance):
                log.info("tag job %d: done, issuance %d", job, issuance.id)
            else:
                log.warning("tag job %d: taken over by another worker before it was done", job)
