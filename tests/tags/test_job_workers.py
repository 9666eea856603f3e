"""Tag job workers on a database of their own, each with its own connections (issue 8).

Claims race from threads, two runners share a queue, a worker process is killed mid-run and its
job resumed, and the app's worker starts, wakes and stops with the app.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tests.databases import backends, fresh_database
from tracetag.app import create_app
from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.batches.models import Batch
from tracetag.core.database import make_engine, make_session_factory
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing, KeyStore
from tracetag.tags import service as tags_service
from tracetag.tags.jobs import lease, runner
from tracetag.tags.jobs.models import JobStatus, TagJob
from tracetag.tags.jobs.service import queue_tag_job
from tracetag.tags.models import IssuanceState, Tag, TagIssuance

DEADLINE = 60.0


@pytest.fixture(scope="module", params=backends())
def database_url(request: pytest.FixtureRequest, keys_dir: Path) -> Iterator[str]:
    """One database for the module: its tests commit, and each leaves no job unfinished."""
    with fresh_database(request.param, keys_dir=keys_dir) as url:
        yield url


@pytest.fixture
def engines(database_url: str) -> Iterator[Callable[[], sessionmaker[Session]]]:
    """Session factories, each on an engine (and connections) of its own."""
    made: list[Engine] = []

    def factory() -> sessionmaker[Session]:
        made.append(make_engine(database_url))
        return make_session_factory(made[-1])

    yield factory
    with make_session_factory(made[0])() as session:  # leave no job a later test would claim
        unfinished = TagJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
        session.execute(update(TagJob).where(unfinished).values(status=JobStatus.FAILED))
        session.commit()
    for engine in made:
        engine.dispose()


@pytest.fixture
def factory(engines: Callable[[], sessionmaker[Session]]) -> sessionmaker[Session]:
    return engines()


@pytest.fixture
def batch(factory: sessionmaker[Session], issuer: Issuer) -> Batch:
    with factory() as session:
        auth = factories.producer_with_key(session)
        made = factories.make_batch(session, issuer, factories.make_product(session, auth.producer))
        session.commit()
        return made


def _queue(factory: sessionmaker[Session], batch: Batch, count: int = 40) -> int:
    with factory() as session:
        job, _ = queue_tag_job(
            session,
            producer_id=batch.product.producer_id,
            batch_id=batch.id,
            count=count,
            signed=False,
            idempotency_key=f"k{time.monotonic_ns()}",
            requested_by=Actor(Channel.CLI, "cli"),
        )
        session.commit()
        return job.id


def _jobs(factory: sessionmaker[Session], ids: list[int]) -> list[TagJob]:
    with factory() as session:
        return list(session.scalars(select(TagJob).where(TagJob.id.in_(ids)).order_by(TagJob.id)))


def _wait_until_finished(factory: sessionmaker[Session], ids: list[int]) -> list[TagJob]:
    deadline = time.monotonic() + DEADLINE
    while True:
        jobs = _jobs(factory, ids)
        if all(job.status in (JobStatus.DONE, JobStatus.FAILED) for job in jobs):
            return jobs
        assert time.monotonic() < deadline, [(j.id, j.status, j.done_count) for j in jobs]
        time.sleep(0.05)


def _issuances(factory: sessionmaker[Session], batch: Batch) -> list[tuple[str, int, int]]:
    """(state, count, tags stored) of the batch's issuances."""
    with factory() as session:
        stored = select(func.count()).where(Tag.issuance_id == TagIssuance.id).scalar_subquery()
        rows = session.execute(
            select(TagIssuance.state, TagIssuance.count, stored)
            .where(TagIssuance.batch_id == batch.id)
            .order_by(TagIssuance.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _race(workers: list[sessionmaker[Session]]) -> list[lease.Claim]:
    """Every worker tries to claim a job at the same moment; the claims they got."""
    start = threading.Barrier(len(workers))
    claims: list[lease.Claim | None] = [None] * len(workers)

    def claim(i: int) -> None:
        start.wait()
        claims[i] = lease.claim_next_job(workers[i], worker=f"w{i}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [c for c in claims if c is not None]


def test_claims_racing_for_one_job_give_it_to_one_worker(
    engines: Callable[[], sessionmaker[Session]], factory: sessionmaker[Session], batch: Batch
) -> None:
    workers = [engines() for _ in range(4)]
    for _ in range(5):
        job_id = _queue(factory, batch)
        won = _race(workers)
        assert [(c.job_id, c.attempt) for c in won] == [(job_id, 1)]
        (job,) = _jobs(factory, [job_id])
        assert (job.status, job.attempts, job.claimed_by) == ("running", 1, won[0].worker)


def test_two_runners_issue_every_job_exactly_once(
    engines: Callable[[], sessionmaker[Session]],
    factory: sessionmaker[Session],
    batch: Batch,
    issuer: Issuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tags_service, "WRITE_CHUNK", 10)  # each job takes several chunks
    ids = [_queue(factory, batch) for _ in range(6)]
    runners = [runner.TagJobRunner(engines(), issuer, poll_interval=0.05) for _ in range(2)]
    for each in runners:
        each.start()
    try:
        jobs = _wait_until_finished(factory, ids)
    finally:
        for each in runners:
            each.stop()
    assert [(job.status, job.attempts, job.done_count) for job in jobs] == [("done", 1, 40)] * 6
    assert {job.claimed_by for job in jobs} <= {each.worker for each in runners}
    assert _issuances(factory, batch) == [("published", 40, 40)] * 6


# A worker process that dies, as a killed one does, once it has stored two chunks of its job.
_DIES_MIDWAY = """
import os, sys
from pathlib import Path
from tracetag.core.database import make_engine, make_session_factory
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyStore
from tracetag.tags import service
from tracetag.tags.jobs import runner

service.WRITE_CHUNK = 10
real, stored = runner.issue_tags, []

def issue_tags(*args, progress, **kw):
    def dying(n):
        progress(n)
        stored.append(n)
        if sum(stored) >= 20:
            os._exit(3)
    return real(*args, progress=dying, **kw)

runner.issue_tags = issue_tags
issuer = Issuer(keys=KeyStore(Path(sys.argv[2]), None), name="t", base_url="https://t.test")
factory = make_session_factory(make_engine(sys.argv[1]))
runner.TagJobRunner(factory, issuer, progress_every=0).run_once()
"""


@pytest.mark.slow
def test_a_job_whose_worker_process_was_killed_is_resumed_after_its_lease(
    database_url: str,
    factory: sessionmaker[Session],
    batch: Batch,
    issuer: Issuer,
    keys_dir: Path,
) -> None:
    job_id = _queue(factory, batch)
    died = subprocess.run(
        [sys.executable, "-c", _DIES_MIDWAY, database_url, str(keys_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == 3, died.stderr
    (job,) = _jobs(factory, [job_id])
    assert (job.status, job.done_count, job.attempts) == ("running", 20, 1)
    assert _issuances(factory, batch) == [("pending", 40, 20)]

    resumer = runner.TagJobRunner(factory, issuer, poll_interval=0.05, lease=timedelta(seconds=1))
    resumer.start()
    try:
        (job,) = _wait_until_finished(factory, [job_id])
    finally:
        resumer.stop()
    assert (job.status, job.attempts, job.claimed_by) == ("done", 2, resumer.worker)
    assert _issuances(factory, batch) == [("published", 40, 40)]


def test_a_runner_waiting_for_an_hour_is_woken_by_wake(
    factory: sessionmaker[Session], batch: Batch, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked = threading.Event()
    real = runner.claim_next_job

    def claim(*args: Any, **kw: Any) -> lease.Claim | None:
        found = real(*args, **kw)
        looked.set()
        return found

    monkeypatch.setattr(runner, "claim_next_job", claim)
    sleeper = runner.TagJobRunner(factory, issuer, poll_interval=3600)
    sleeper.start()
    try:
        assert looked.wait(DEADLINE)  # its first look found nothing; the next is an hour away
        job_id = _queue(factory, batch)
        sleeper.wake()
        (job,) = _wait_until_finished(factory, [job_id])
    finally:
        sleeper.stop()
    assert job.status == "done"


def test_the_apps_worker_issues_a_job_queued_through_the_api(
    database_url: str, factory: sessionmaker[Session], keyring: KeyRing, keys_dir: Path
) -> None:
    with factory() as session:
        auth = factories.producer_with_key(session)
        issuer = Issuer(keys=KeyStore(keys_dir, None), name="tracetag", base_url=BASE_URL)
        made = factories.make_batch(session, issuer, factories.make_product(session, auth.producer))
        session.commit()
    settings = Settings(database_url=database_url, keys_dir=keys_dir, public_base_url=BASE_URL)
    assert settings.job_worker
    app = create_app(settings, keyring=keyring)
    with TestClient(app, base_url=BASE_URL) as client:
        body = {"count": 30, "signed": True, "idempotency_key": "via-api"}
        r = client.post(f"/api/v1/batches/{made.id}/tag-jobs", json=body, headers=auth.headers)
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + DEADLINE
        while (job := client.get(r.headers["location"], headers=auth.headers).json())[
            "status"
        ] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
    assert (job["status"], job["done_count"], job["issuance"]["count"]) == ("done", 30, 30)
    assert app.state.tag_job_runner is not None
    assert _issuances(factory, made) == [(IssuanceState.PUBLISHED, 30, 30)]
