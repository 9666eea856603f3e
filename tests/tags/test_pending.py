"""Pending runs (issue 6): invisible until published, removed when they fail or go stale."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tests.databases import backends, fresh_database
from tests.tags.conftest import visible_tags
from tracetag.app import create_app
from tracetag.audit.models import AuditEvent
from tracetag.batches.service import recall_batch
from tracetag.core.database import make_engine, make_session_factory, utcnow
from tracetag.errors import Conflict, Invalid, NotFound, ProducerNotApproved
from tracetag.gs1.serials import new_serial
from tracetag.producers.service import suspend_producer
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing
from tracetag.tags import service
from tracetag.tags.models import IssuanceState, Tag, TagIssuance

CHUNK = 10


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "WRITE_CHUNK", CHUNK)


@pytest.fixture
def ctx(session: Session, issuer: Issuer) -> dict[str, Any]:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    batch = factories.make_batch(session, issuer, product)
    session.commit()
    return {"auth": auth, "batch": batch, "producer_id": auth.producer.id}


def _issue(
    factory: sessionmaker[Session], ctx: dict[str, Any], issuer: Issuer, **kw: Any
) -> tuple[TagIssuance, bool]:
    args: dict[str, Any] = {"count": 3 * CHUNK, "signed": True, "idempotency_key": "k", **kw}
    return service.issue_tags(
        factory,
        batch_id=ctx["batch"].id,
        producer_id=ctx["producer_id"],
        issuer=issuer,
        actor=factories.ACTOR,
        **args,
    )


def _left_behind(session: Session) -> tuple[int, int]:
    session.rollback()  # a fresh look
    tags = session.scalar(select(func.count()).select_from(Tag)) or 0
    runs = session.scalar(select(func.count()).select_from(TagIssuance)) or 0
    return tags, runs


def _dead_run(session: Session, ctx: dict[str, Any], *, key: str, age: timedelta) -> TagIssuance:
    """What a killed run leaves: a pending issuance and some of its tags, untouched for age."""
    then = utcnow() - age
    run = TagIssuance(
        producer_id=ctx["producer_id"],
        batch_id=ctx["batch"].id,
        idempotency_key=key,
        count=1000,
        signed=False,
        state=IssuanceState.PENDING,
        created_at=then,
        touched_at=then,
    )
    session.add(run)
    session.flush()
    gtin = ctx["batch"].product.gtin
    for _ in range(2 * CHUNK + 5):
        session.add(
            Tag(issuance_id=run.id, batch_id=ctx["batch"].id, gtin=gtin, serial=new_serial())
        )
    session.commit()
    return run


def test_a_run_is_written_in_chunks_that_stay_invisible_until_published(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    seen: list[tuple[str, int, int, str]] = []

    def look(n: int) -> None:
        with session_factory() as other:
            run = other.scalars(select(TagIssuance)).one()
            stored = other.scalar(select(func.count()).select_from(Tag)) or 0
            serial = other.scalars(select(Tag.serial)).first()
            assert serial is not None
            assert service.find_tag(other, gtin=ctx["batch"].product.gtin, serial=serial) is None
            assert service.find_published(other, issuance_id=run.id) is None
            with pytest.raises(Conflict, match="in progress"):
                _issue(session_factory, ctx, issuer)
            assert service.cleanup_incomplete_issuances(session_factory) == 0
            seen.append((run.state, stored, visible_tags(other), other.get_bind().dialect.name))

    issuance, created = _issue(session_factory, ctx, issuer, progress=look)
    assert created and issuance.state == IssuanceState.PUBLISHED
    assert [(state, stored, visible) for state, stored, visible, _ in seen] == [
        ("pending", CHUNK, 0),
        ("pending", 2 * CHUNK, 0),
        ("pending", 3 * CHUNK, 0),
    ]
    assert visible_tags(session) == 3 * CHUNK
    again, created = _issue(session_factory, ctx, issuer)
    assert (again.id, created) == (issuance.id, False)


def test_a_failing_run_removes_itself(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    calls: list[int] = []

    def fail_on_second_chunk(n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise RuntimeError("printer on fire")

    with pytest.raises(RuntimeError, match="printer on fire"):
        _issue(session_factory, ctx, issuer, progress=fail_on_second_chunk)
    assert _left_behind(session) == (0, 0)
    _, created = _issue(session_factory, ctx, issuer)  # the key is free again
    assert created and visible_tags(session) == 3 * CHUNK


@pytest.mark.parametrize("cleanup", ["claimed", "removed"])
def test_a_run_taken_over_as_stale_stops_and_leaves_nothing(
    session_factory: sessionmaker[Session],
    session: Session,
    ctx: dict[str, Any],
    issuer: Issuer,
    cleanup: str,
) -> None:
    """A run that stalled past stale_after, then moves again while a clean-up removes it."""
    taken: list[bool] = []

    def stall(n: int) -> None:
        if taken:
            return
        if cleanup == "removed":
            done = service.cleanup_incomplete_issuances(session_factory, stale_after=timedelta(0))
            taken.append(done == 1)
            return
        # claimed, with its tags not yet deleted: the writer must still stop
        with session_factory() as other:
            run_id = other.scalars(select(TagIssuance.id)).one()
            taken.append(service._claim(other, run_id, utcnow()))
            other.commit()

    with pytest.raises(Conflict, match="removed as stale"):
        _issue(session_factory, ctx, issuer, progress=stall)
    assert taken == [True]
    assert _left_behind(session) == (0, 0)


def test_a_recall_during_the_run_publishes_nothing(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    def recall(n: int) -> None:
        with session_factory() as other:
            batch = other.get(type(ctx["batch"]), ctx["batch"].id)
            assert batch is not None and batch.status == "active"
            recall_batch(other, batch=batch, reason="Ẩm mốc", issuer=issuer, actor=factories.ACTOR)
            other.commit()

    with pytest.raises(Invalid, match="recalled"):
        _issue(session_factory, ctx, issuer, count=CHUNK, progress=recall)
    assert _left_behind(session) == (0, 0)


def test_a_suspension_during_the_run_publishes_nothing(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    def suspend(n: int) -> None:
        with session_factory() as other:
            suspend_producer(
                other, producer_id=ctx["producer_id"], reason="Tạm dừng", actor=factories.ACTOR
            )
            other.commit()

    with pytest.raises(ProducerNotApproved, match="suspended"):
        _issue(session_factory, ctx, issuer, count=CHUNK, progress=suspend)
    assert _left_behind(session) == (0, 0)
    logged = select(AuditEvent.action).where(AuditEvent.target_type == "tag_issuance")
    assert session.scalars(logged).all() == []


def test_cleanup_removes_only_stale_pending_runs(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    published, _ = _issue(session_factory, ctx, issuer, idempotency_key="on-shelves")
    dead = _dead_run(session, ctx, key="killed", age=timedelta(hours=1))
    alive = _dead_run(session, ctx, key="moving", age=timedelta(seconds=5))
    dead_id, alive_id = dead.id, alive.id
    assert (
        service.cleanup_incomplete_issuances(session_factory, stale_after=timedelta(minutes=2)) == 1
    )
    session.expire_all()
    left = dict(session.execute(select(TagIssuance.id, TagIssuance.state)).all())
    assert left == {published.id: "published", alive_id: "pending"}
    per_run = dict(
        session.execute(select(Tag.issuance_id, func.count()).group_by(Tag.issuance_id)).all()
    )
    assert per_run == {published.id: 3 * CHUNK, alive_id: 2 * CHUNK + 5}
    assert dead_id not in per_run


def test_the_same_key_replaces_a_stale_run_and_refuses_a_moving_one(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    _dead_run(session, ctx, key="moving", age=timedelta(seconds=5))
    with pytest.raises(Conflict, match="in progress"):
        _issue(session_factory, ctx, issuer, idempotency_key="moving")
    dead = _dead_run(session, ctx, key="killed", age=service.STALE_AFTER + timedelta(seconds=1))
    dead_serials = set(session.scalars(select(Tag.serial).where(Tag.issuance_id == dead.id)))
    issuance, created = _issue(session_factory, ctx, issuer, idempotency_key="killed")
    assert created and issuance.state == "published"
    serials = set(session.scalars(select(Tag.serial).where(Tag.issuance_id == issuance.id)))
    assert len(serials) == 3 * CHUNK and len(dead_serials) == 2 * CHUNK + 5
    assert not serials & dead_serials


def test_a_pending_run_cannot_be_read_or_downloaded(
    client: TestClient, session: Session, ctx: dict[str, Any]
) -> None:
    run = _dead_run(session, ctx, key="killed", age=timedelta(0))
    headers = ctx["auth"].headers
    for path in ("", "/labels.csv", "/labels.pdf", "/labels.zpl"):
        r = client.get(f"/api/v1/tag-issuances/{run.id}{path}", headers=headers)
        assert r.status_code == 404, (path, r.text)
    with pytest.raises(NotFound):
        service.get_issuance(session, producer_id=ctx["producer_id"], issuance_id=run.id)


def test_removal_touches_only_a_claimed_run(
    session_factory: sessionmaker[Session], session: Session, ctx: dict[str, Any], issuer: Issuer
) -> None:
    """SQLite reuses a removed run's id: a remover that comes late must not take the new run."""
    published, _ = _issue(session_factory, ctx, issuer, idempotency_key="on-shelves")
    moving = _dead_run(session, ctx, key="moving", age=timedelta(0))
    for run_id in (published.id, moving.id):
        service._remove_run(session_factory, run_id)
    assert _left_behind(session) == (3 * CHUNK + 2 * CHUNK + 5, 2)


@pytest.mark.parametrize("backend", backends())
def test_the_api_issues_on_a_database_of_separate_connections(
    backend: str, keys_dir: Path, keyring: KeyRing, issuer: Issuer
) -> None:
    """The request's session must let go of SQLite's write lock before the chunks commit.

    The per-test savepoint fixtures share one connection and cannot show this; held, every
    chunk would wait for it until the 15 s busy timeout and fail.
    """
    with fresh_database(backend, keys_dir=keys_dir) as url:
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            auth = factories.producer_with_key(session)
            batch = factories.make_batch(
                session, issuer, factories.make_product(session, auth.producer)
            )
            session.commit()
            batch_id = batch.id
        settings = Settings(database_url=url, keys_dir=keys_dir, public_base_url=BASE_URL)
        app = create_app(settings, keyring=keyring)
        try:
            with TestClient(app, base_url=BASE_URL) as client:
                start = time.monotonic()
                r = client.post(
                    f"/api/v1/batches/{batch_id}/tags",
                    json={"count": 2 * CHUNK + 1, "idempotency_key": "api"},
                    headers=auth.headers,
                )
                elapsed = time.monotonic() - start
                assert r.status_code == 201, r.text
                assert elapsed < 5
                labels = client.get(
                    f"/api/v1/tag-issuances/{r.json()['id']}/labels.csv", headers=auth.headers
                )
                assert labels.status_code == 200
                assert len(labels.text.strip().splitlines()) == 1 + 2 * CHUNK + 1
        finally:
            app.state.scan_recorder.stop()
            engine.dispose()
