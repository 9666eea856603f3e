"""Tag jobs (issue 8): queued, claimed once, resumed after a dead worker, failed in plain words.

These run a job in the test's own thread (`run_once`) on the test's one connection; what needs
threads and connections of their own is in test_job_workers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.audit.models import AuditEvent, Channel
from tracetag.audit.service import Actor
from tracetag.batches.service import recall_batch
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, Invalid, NotFound
from tracetag.gs1.serials import new_serial
from tracetag.signing.issuer import Issuer
from tracetag.tags import service as tags_service
from tracetag.tags.jobs import lease, runner
from tracetag.tags.jobs.models import JobStatus, TagJob
from tracetag.tags.jobs.service import get_job, list_jobs, queue_tag_job
from tracetag.tags.models import IssuanceState, Tag, TagIssuance

ASKED_BY = Actor(Channel.API, "API key 7", client_ip="203.0.113.9")
# Heartbeats come from a thread of their own, and the test's connection is for one thread: an
# hour apart, none is written while a test's job runs.
NO_HEARTBEAT = 3600.0


@pytest.fixture
def ctx(session: Session, issuer: Issuer) -> dict[str, Any]:
    auth = factories.producer_with_key(session)
    batch = factories.make_batch(session, issuer, factories.make_product(session, auth.producer))
    session.commit()
    return {"batch": batch, "producer_id": auth.producer.id}


@pytest.fixture
def jobs_runner(session_factory: sessionmaker[Session], issuer: Issuer) -> runner.TagJobRunner:
    return runner.TagJobRunner(session_factory, issuer, heartbeat_every=NO_HEARTBEAT)


def _queue(session: Session, ctx: dict[str, Any], **kw: Any) -> TagJob:
    args: dict[str, Any] = {"count": 30, "signed": False, "idempotency_key": "k", **kw}
    job, _ = queue_tag_job(
        session,
        producer_id=ctx["producer_id"],
        batch_id=ctx["batch"].id,
        requested_by=ASKED_BY,
        **args,
    )
    session.commit()
    return job


def _fresh(session: Session, job: TagJob) -> TagJob:
    session.expire_all()
    return session.get_one(TagJob, job.id)


def _issuances(session: Session) -> list[tuple[str, int, int]]:
    """(state, count, tags stored) of every issuance."""
    session.expire_all()
    stored = select(func.count()).where(Tag.issuance_id == TagIssuance.id).scalar_subquery()
    rows = session.execute(select(TagIssuance.state, TagIssuance.count, stored))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _watch_progress(monkeypatch: pytest.MonkeyPatch, look: Callable[[int], None]) -> None:
    """Call look(stored) after each progress call the job's issue_tags makes."""
    real = runner.issue_tags

    def issue_tags(*args: Any, progress: Callable[[int], None], **kw: Any) -> Any:
        def watched(stored: int) -> None:
            progress(stored)
            look(stored)

        return real(*args, progress=watched, **kw)

    monkeypatch.setattr(runner, "issue_tags", issue_tags)


def _done_counts_seen(
    monkeypatch: pytest.MonkeyPatch, factory: sessionmaker[Session], job: TagJob
) -> list[int]:
    """The job's done_count as stored after each chunk, filled in as the job runs."""
    seen: list[int] = []

    def look(_stored: int) -> None:
        with factory() as other:
            row = other.get_one(TagJob, job.id)
            assert row.status == JobStatus.RUNNING
            seen.append(row.done_count)

    _watch_progress(monkeypatch, look)
    return seen


def test_a_10000_tag_job_is_done_with_progress_rising_to_10000(
    session_factory: sessionmaker[Session],
    session: Session,
    ctx: dict[str, Any],
    issuer: Issuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tags_service, "WRITE_CHUNK", 1000)
    job = _queue(session, ctx, count=10_000)
    seen = _done_counts_seen(monkeypatch, session_factory, job)
    jobs_runner = runner.TagJobRunner(
        session_factory, issuer, heartbeat_every=NO_HEARTBEAT, progress_every=0
    )
    assert jobs_runner.run_once()
    assert seen == list(range(1000, 10_001, 1000))
    done = _fresh(session, job)
    assert (done.status, done.done_count, done.attempts, done.error) == ("done", 10_000, 1, None)
    assert done.issuance is not None and done.issuance.idempotency_key == "k"
    assert done.claimed_by == jobs_runner.worker
    assert done.started_at is not None and done.finished_at is not None
    assert _issuances(session) == [("published", 10_000, 10_000)]
    assert not jobs_runner.run_once()  # nothing more to do


def test_progress_is_written_at_most_once_a_progress_interval(
    session_factory: sessionmaker[Session],
    session: Session,
    ctx: dict[str, Any],
    issuer: Issuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tags_service, "WRITE_CHUNK", 10)
    job = _queue(session, ctx, count=30)
    seen = _done_counts_seen(monkeypatch, session_factory, job)
    slow = runner.TagJobRunner(
        session_factory, issuer, heartbeat_every=NO_HEARTBEAT, progress_every=NO_HEARTBEAT
    )
    assert slow.run_once()
    assert seen == [0, 0, 0]  # no chunk came an hour after the last write
    assert _fresh(session, job).done_count == 30  # the end writes the count


def test_the_job_is_done_once_and_the_audit_log_names_who_asked(
    session: Session, ctx: dict[str, Any], jobs_runner: runner.TagJobRunner
) -> None:
    job = _queue(session, ctx)
    assert jobs_runner.run_once()
    done = _fresh(session, job)
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "tag_issuance.create")
    ).one()
    assert (event.action, event.target_type, event.target_id) == (
        "tag_issuance.create",
        "tag_issuance",
        str(done.issuance_id),
    )
    assert (event.channel, event.actor, event.client_ip) == ("api", "API key 7", "203.0.113.9")
    assert event.producer_id == ctx["producer_id"]
    assert event.details == {
        "batch_id": ctx["batch"].id,
        "count": 30,
        "signed": False,
    }


def test_the_same_key_gives_the_same_job_and_another_request_is_refused(
    session: Session, ctx: dict[str, Any]
) -> None:
    job = _queue(session, ctx)
    again, created = queue_tag_job(
        session,
        producer_id=ctx["producer_id"],
        batch_id=ctx["batch"].id,
        count=30,
        signed=False,
        idempotency_key="k",
        requested_by=ASKED_BY,
    )
    assert (again.id, created) == (job.id, False)
    with pytest.raises(Conflict, match=r"different request \(batch \d+, 30 tags\)"):
        _queue(session, ctx, count=31)
    assert session.scalar(select(func.count()).select_from(TagJob)) == 1


def test_a_key_an_issuance_has_for_another_request_is_refused_when_queued(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    factories.make_tags(session_factory, issuer, ctx["batch"], 3, key="used")
    with pytest.raises(Conflict, match="different request"):
        _queue(session, ctx, idempotency_key="used", count=30)


def test_a_job_under_the_key_of_an_issuance_gets_that_issuance(
    session_factory: sessionmaker[Session],
    session: Session,
    ctx: dict[str, Any],
    issuer: Issuer,
    jobs_runner: runner.TagJobRunner,
) -> None:
    issuance, _ = factories.make_tags(session_factory, issuer, ctx["batch"], 30, signed=False)
    job = _queue(session, ctx, idempotency_key=issuance.idempotency_key)
    assert jobs_runner.run_once()
    assert _fresh(session, job).issuance_id == issuance.id
    assert _issuances(session) == [("published", 30, 30)]


def test_queueing_checks_the_batch_and_the_count(
    session: Session, ctx: dict[str, Any], other_auth: factories.ProducerAuth, issuer: Issuer
) -> None:
    with pytest.raises(NotFound):
        queue_tag_job(
            session,
            producer_id=other_auth.producer.id,
            batch_id=ctx["batch"].id,
            count=30,
            signed=False,
            idempotency_key="k",
            requested_by=ASKED_BY,
        )
    with pytest.raises(Invalid, match="from 1 to 1,000,000"):
        _queue(session, ctx, count=1_000_001)
    recall_batch(session, batch=ctx["batch"], reason="Ẩm mốc", issuer=issuer, actor=factories.ACTOR)
    with pytest.raises(Invalid, match="recalled"):
        _queue(session, ctx)


def test_another_producers_job_is_not_found_nor_listed(
    session: Session, ctx: dict[str, Any], other_auth: factories.ProducerAuth
) -> None:
    job = _queue(session, ctx)
    with pytest.raises(NotFound, match="tag job not found"):
        get_job(session, producer_id=other_auth.producer.id, job_id=job.id)
    assert list_jobs(session, producer_id=other_auth.producer.id) == []
    assert get_job(session, producer_id=ctx["producer_id"], job_id=job.id) is job
    assert list_jobs(session, producer_id=ctx["producer_id"], batch_id=ctx["batch"].id) == [job]


def test_a_job_for_a_batch_recalled_meanwhile_fails_in_plain_words(
    session: Session, ctx: dict[str, Any], issuer: Issuer, jobs_runner: runner.TagJobRunner
) -> None:
    job = _queue(session, ctx)
    recall_batch(session, batch=ctx["batch"], reason="Ẩm mốc", issuer=issuer, actor=factories.ACTOR)
    session.commit()
    assert jobs_runner.run_once()
    failed = _fresh(session, job)
    assert (failed.status, failed.error) == (
        "failed",
        "the batch is recalled; no new tags can be issued for it",
    )
    assert failed.finished_at is not None and failed.issuance_id is None
    assert _issuances(session) == []


def test_an_unexpected_error_fails_the_job_without_a_traceback(
    session: Session,
    ctx: dict[str, Any],
    jobs_runner: runner.TagJobRunner,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("disk on fire at /var/lib/tracetag")

    monkeypatch.setattr(runner, "issue_tags", broken)
    job = _queue(session, ctx)
    assert jobs_runner.run_once()
    failed = _fresh(session, job)
    assert (failed.status, failed.error) == ("failed", runner.INTERNAL_ERROR)
    assert "disk on fire" in caplog.text  # the operator's log has it; the producer does not


def _die_while_running(
    session: Session, job: TagJob, gtin: str, *, attempts: int, lapsed: timedelta = 2 * lease.LEASE
) -> None:
    """What a worker killed mid-run leaves: the job running with an old heartbeat, and a pending
    run of part of its tags that moved seconds ago (too recent for the 2-minute clean-up)."""
    then = utcnow() - lapsed
    session.execute(
        update(TagJob)
        .where(TagJob.id == job.id)
        .values(
            created_at=then - timedelta(minutes=1),
            status=JobStatus.RUNNING,
            claimed_by="dead-host:1:0",
            attempts=attempts,
            started_at=then,
            heartbeat_at=then,
            done_count=20,
        )
    )
    recently = utcnow() - timedelta(seconds=5)
    run = TagIssuance(
        producer_id=job.producer_id,
        batch_id=job.batch_id,
        idempotency_key=job.idempotency_key,
        count=job.count,
        signed=job.signed,
        state=IssuanceState.PENDING,
        created_at=recently,
        touched_at=recently,
    )
    session.add(run)
    session.flush()
    for _ in range(20):
        session.add(Tag(issuance_id=run.id, batch_id=job.batch_id, gtin=gtin, serial=new_serial()))
    session.commit()


def test_a_job_whose_worker_died_is_resumed_into_one_issuance(
    session: Session, ctx: dict[str, Any], jobs_runner: runner.TagJobRunner
) -> None:
    job = _queue(session, ctx, count=30)
    _die_while_running(session, job, ctx["batch"].product.gtin, attempts=1)
    assert _issuances(session) == [("pending", 30, 20)]
    assert jobs_runner.run_once()
    resumed = _fresh(session, job)
    assert (resumed.status, resumed.attempts, resumed.done_count) == ("done", 2, 30)
    assert resumed.claimed_by == jobs_runner.worker
    assert _issuances(session) == [("published", 30, 30)]


def test_a_live_run_of_another_request_under_the_key_is_not_taken_over(
    session: Session, ctx: dict[str, Any], jobs_runner: runner.TagJobRunner
) -> None:
    """A pending run begun before the job was queued is not the job's: it is left to finish."""
    job = _queue(session, ctx)
    _die_while_running(session, job, ctx["batch"].product.gtin, attempts=1)
    session.execute(update(TagJob).values(created_at=utcnow()).where(TagJob.id == job.id))
    session.commit()
    assert jobs_runner.run_once()
    failed = _fresh(session, job)
    assert (failed.status, failed.error) == (
        "failed",
        "an issuance with this idempotency key is in progress",
    )
    assert _issuances(session) == [("pending", 30, 20)]


def test_a_running_job_whose_heartbeat_is_fresh_is_left_alone(
    session: Session, ctx: dict[str, Any], jobs_runner: runner.TagJobRunner
) -> None:
    job = _queue(session, ctx)
    _die_while_running(session, job, ctx["batch"].product.gtin, attempts=1, lapsed=lease.LEASE / 2)
    assert not jobs_runner.run_once()
    assert _fresh(session, job).claimed_by == "dead-host:1:0"
    assert _issuances(session) == [("pending", 30, 20)]


def test_a_job_cut_off_too_often_is_given_up_and_leaves_nothing(
    session: Session, ctx: dict[str, Any], jobs_runner: runner.TagJobRunner
) -> None:
    job = _queue(session, ctx)
    _die_while_running(session, job, ctx["batch"].product.gtin, attempts=lease.MAX_ATTEMPTS)
    assert jobs_runner.run_once()
    failed = _fresh(session, job)
    assert failed.status == "failed"
    assert failed.error == runner.GAVE_UP.format(times=lease.MAX_ATTEMPTS)
    assert _issuances(session) == []


def test_a_job_cut_off_by_shutdown_is_queued_again_and_leaves_nothing(
    session: Session,
    ctx: dict[str, Any],
    jobs_runner: runner.TagJobRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tags_service, "WRITE_CHUNK", 10)
    job = _queue(session, ctx, count=30)
    _watch_progress(monkeypatch, lambda _stored: jobs_runner.stop())
    assert jobs_runner.run_once()
    queued = _fresh(session, job)
    assert (queued.status, queued.attempts, queued.claimed_by, queued.done_count) == (
        "queued",
        0,
        None,
        0,
    )
    assert _issuances(session) == []
    assert not jobs_runner.run_once()  # a stopped runner claims nothing more


def test_a_worker_whose_job_was_taken_over_writes_nothing_more(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any]
) -> None:
    job = _queue(session, ctx)
    first = lease.claim_next_job(session_factory, worker="a")
    assert first is not None and first.attempt == 1
    assert lease.claim_next_job(session_factory, worker="b") is None  # held by a
    session.execute(
        update(TagJob).values(heartbeat_at=utcnow() - 2 * lease.LEASE).where(TagJob.id == job.id)
    )
    session.commit()
    second = lease.claim_next_job(session_factory, worker="b")
    assert second is not None and (second.job_id, second.attempt) == (job.id, 2)
    stale = lease.Lease(session_factory, first, progress_every=0)
    with pytest.raises(lease.LeaseLost):
        stale.advance(10)
    assert not stale.fail("late")
    assert not stale.hand_back(count_attempt=False)
    now_held = _fresh(session, job)
    assert (now_held.status, now_held.claimed_by, now_held.attempts) == ("running", "b", 2)
    assert now_held.error is None
