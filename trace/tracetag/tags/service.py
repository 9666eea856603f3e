"""Issue unit tags, idempotent by key: written in short transactions, published in one step.

Decision (issue 6): one transaction per issuance held SQLite's only write lock for the whole
run, so a 600,000-tag run stalled every scan for over 20 s. A run is now a `pending` issuance
whose tags are stored chunk by chunk, each chunk in its own short write transaction with the
lock left free between chunks, and one last transaction publishes it. Nothing lists, exports or
scans the tags of a pending run, so an issuance is still all or nothing: a run that fails
removes itself, and one killed outright is removed by `cleanup_incomplete_issuances`.

The audit log (issue 8) gets one event per issuance, in the transaction that publishes it: the
change people see is the publication. A run removed before it was published (failed, or left
by a crash and cleaned up at start-up) was never seen by anyone and is logged by no one, as a
rolled-back transaction is not: its only trace is the operator's log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement

from tracetag.audit.service import Actor, record_change, stored_record
from tracetag.batches.models import Batch, BatchStatus
from tracetag.batches.service import get_batch
from tracetag.core.database import begin_write, utcnow
from tracetag.errors import Conflict, Invalid, NotFound
from tracetag.formats.digsig import TagSigner
from tracetag.formats.logentry import TagsDigest, issuance_entry
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.gs1.serials import new_serial
from tracetag.labels.exports import PrintedTag
from tracetag.producers.service import require_approved
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.signing.signer import Signer
from tracetag.tags.models import IssuanceState, Tag, TagIssuance
from tracetag.translog.service import sequence

log = logging.getLogger("tracetag.tags")

_TAGS = cast(Table, Tag.__table__)
_ISSUANCES = cast(Table, TagIssuance.__table__)
# Rows per read when streaming an issuance's tags.
CHUNK = 5_000
# Rows per write transaction. On SQLite one chunk holds the write lock for about 0.1 s on an
# empty table and about 0.3 s once it holds a million tags (random serials land all over
# the unique index); large enough that executemany stays cheap per row.
WRITE_CHUNK = 10_000
# SQLite's busy handler lets a waiting writer retry only every 100 ms, so after each commit
# the lock stays free at least this long: every waiting scan gets its turn between chunks.
SQLITE_LOCK_GAP = 0.11
# A pending run not touched for this long is a dead one (its chunks come well under a second
# apart, or 15 s apart at worst when SQLite is busy).
STALE_AFTER = timedelta(minutes=2)
Progress = Callable[[int], None]


def find_issuance(
    session: Session, *, producer_id: int, idempotency_key: str
) -> TagIssuance | None:
    """The issuance made with this key, pending or published."""
    stmt = select(TagIssuance).where(
        TagIssuance.producer_id == producer_id, TagIssuance.idempotency_key == idempotency_key
    )
    return session.scalar(stmt)


@dataclass
class _Run:
    """A pending run being written; touched_at is what the run itself last stored."""

    id: int
    producer_id: int
    batch_id: int
    gtin: str
    lot: str
    touched_at: datetime
    kid: str | None  # the key that signs the run's tags


class _Pacer:
    """Keeps SQLite's write lock free for a while after each commit of ours."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        with factory() as session:
            self.sqlite = session.get_bind().dialect.name == "sqlite"
        self._gap = SQLITE_LOCK_GAP if self.sqlite else 0.0
        self._last = -SQLITE_LOCK_GAP
        self.longest = 0.0

    def wait(self) -> None:
        delay = self._last + self._gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def committed(self, began: float) -> None:
        self._last = time.monotonic()
        self.longest = max(self.longest, self._last - began)


def issue_tags(
    factory: sessionmaker[Session],
    *,
    batch_id: int,
    producer_id: int,
    count: int,
    signed: bool,
    idempotency_key: str,
    issuer: Issuer,
    actor: Actor,
    progress: Progress | None = None,
) -> tuple[TagIssuance, bool]:
    """Create `count` tags for the batch, or return the issuance this key already made.

    Returns (issuance, created). Commits on its own, in short transactions (issue 6): call it
    with no write transaction open, or on SQLite its chunks wait for that one. Only an approved
    producer's tags are issued; the same key's issuance is returned to anyone, as it was made.
    """
    started = _start_run(
        factory,
        batch_id=batch_id,
        producer_id=producer_id,
        count=count,
        signed=signed,
        idempotency_key=idempotency_key,
        issuer=issuer,
    )
    if isinstance(started, TagIssuance):
        return started, False
    run, signer = started
    pacer = _Pacer(factory)
    began = time.monotonic()
    try:
        sign = TagSigner(signer, signer.kid).sign if signer is not None else None
        _store_tags(
            factory, run, batch_id=batch_id, count=count, sign=sign, pacer=pacer, progress=progress
        )
        issuance = _publish(factory, run, count=count, pacer=pacer, actor=actor)
    except BaseException:
        try:
            _abandon(factory, run)
        except Exception:
            log.exception("could not remove the failed issuance %d; start-up will", run.id)
        raise
    log.info(
        "issuance %d: %d tags in %.1f s, longest write transaction %.3f s",
        run.id,
        count,
        time.monotonic() - began,
        pacer.longest,
    )
    return issuance, True


def _start_run(
    factory: sessionmaker[Session],
    *,
    batch_id: int,
    producer_id: int,
    count: int,
    signed: bool,
    idempotency_key: str,
    issuer: Issuer,
) -> TagIssuance | tuple[_Run, Signer | None]:
    """The published issuance for this key, or a new pending run (a dead one is removed) with
    the signer of the key the registry names active now: it signs the whole run."""
    while True:
        with factory() as session:
            begin_write(session)
            batch = get_batch(session, producer_id=producer_id, batch_id=batch_id)
            existing = find_issuance(
                session, producer_id=producer_id, idempotency_key=idempotency_key
            )
            if existing is None:
                require_approved(session, producer_id=producer_id)
                if batch.status == BatchStatus.RECALLED:
                    raise Invalid(
                        "batch_id", "the batch is recalled; no new tags can be issued for it"
                    )
                now = utcnow()
                signer = issuer.signer(session) if signed else None
                issuance = TagIssuance(
                    producer_id=producer_id,
                    batch_id=batch_id,
                    idempotency_key=idempotency_key,
                    count=count,
                    signed=signed,
                    kid=signer.kid if signer is not None else None,
                    created_at=now,
                    state=IssuanceState.PENDING,
                    touched_at=now,
                )
                session.add(issuance)
                try:
                    session.flush()
                except IntegrityError as exc:  # the same key, issued by a concurrent request
                    raise Conflict("an issuance with this idempotency key is in progress") from exc
                run = _Run(
                    id=issuance.id,
                    producer_id=producer_id,
                    batch_id=batch_id,
                    gtin=batch.product.gtin,
                    lot=batch.lot,
                    touched_at=now,
                    kid=signer.kid if signer is not None else None,
                )
                session.commit()
                return run, signer
            if existing.state == IssuanceState.PUBLISHED:
                asked = (batch_id, count, signed)
                if (existing.batch_id, existing.count, existing.signed) != asked:
                    raise Conflict(
                        "this idempotency key was used for a different request "
                        f"(batch {existing.batch_id}, {existing.count} tags); use a new key"
                    )
                return existing
            if not _claim(session, existing.id, utcnow() - STALE_AFTER):
                raise Conflict("an issuance with this idempotency key is in progress")
            dead = existing.id
            session.commit()
        _remove_run(factory, dead)


def _still_ours(run: _Run) -> ColumnElement[bool]:
    """The run is pending and nobody else (a clean-up that found it stale) has touched it."""
    return and_(
        _ISSUANCES.c.id == run.id,
        _ISSUANCES.c.state == IssuanceState.PENDING,
        _ISSUANCES.c.touched_at == run.touched_at,
    )


def _store_tags(
    factory: sessionmaker[Session],
    run: _Run,
    *,
    batch_id: int,
    count: int,
    sign: Callable[[str, str, str], str] | None,
    pacer: _Pacer,
    progress: Progress | None,
) -> None:
    """Sign chunk after chunk and store each in a write transaction of its own."""
    gtin, lot = run.gtin, run.lot

    def make_rows(size: int) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for _ in range(size):
            serial = new_serial()
            digsig = sign(gtin, lot, serial) if sign else None
            rows.append((run.id, batch_id, gtin, serial, digsig, 0))  # in _COLUMNS order
        return rows

    def store(rows: list[tuple[object, ...]]) -> None:
        pacer.wait()
        now = utcnow()
        with factory() as session:
            begin_write(session)
            began = time.monotonic()
            connection = session.connection()
            touched = connection.execute(
                update(_ISSUANCES).where(_still_ours(run)).values(touched_at=now)
            )
            if touched.rowcount != 1:
                raise Conflict("the pending issuance was removed as stale while being written")
            if run.kid is not None:  # one read a chunk: a key revoked meanwhile stops the run
                registry.require_not_revoked(session, run.kid)
            _insert_tags(connection, rows)
            session.commit()
        pacer.committed(began)
        run.touched_at = now

    chunks = (make_rows(min(WRITE_CHUNK, count - done)) for done in range(0, count, WRITE_CHUNK))
    if pacer.sqlite:
        # One after the other: a helper thread storing while this one signs would hold
        # SQLite's write lock about twice as long, waiting for the GIL.
        for rows in chunks:
            store(rows)
            if progress is not None:
                progress(len(rows))
        return
    # PostgreSQL locks rows, not the database: this thread signs the next chunk while a
    # helper thread stores the one before, and only the helper uses the database meanwhile.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tag-insert") as writer:
        pending: Future[None] | None = None
        pending_size = 0
        for rows in chunks:
            if pending is not None:
                pending.result()
                if progress is not None:
                    progress(pending_size)
            pending, pending_size = writer.submit(store, rows), len(rows)
        if pending is not None:
            pending.result()
            if progress is not None:
                progress(pending_size)


_COLUMNS = ("issuance_id", "batch_id", "gtin", "serial", "digsig", "scan_count")
_COPY = f"COPY {_TAGS.name} ({', '.join(_COLUMNS)}) FROM STDIN"
_INSERT = insert(_TAGS)


def _insert_tags(connection: Connection, rows: list[tuple[object, ...]]) -> None:
    """Bulk-insert tag rows: COPY with psycopg, else a Core executemany."""
    if connection.dialect.driver == "psycopg":
        # COPY costs a fifth of what the multi-row INSERTs do, most of it Python time that
        # the signing thread would otherwise wait for (the GIL).
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row(row)
        return
    # the ORM's per-row bookkeeping would dominate
    connection.execute(_INSERT, [dict(zip(_COLUMNS, row, strict=True)) for row in rows])


def _publish(
    factory: sessionmaker[Session], run: _Run, *, count: int, pacer: _Pacer, actor: Actor
) -> TagIssuance:
    """Make the run's tags exist for everyone, and log it, in one short transaction."""
    # Each chunk was committed on its own: check the sum before anyone can see the run.
    with factory() as session:
        stored = session.scalar(
            select(func.count()).select_from(_TAGS).where(_TAGS.c.issuance_id == run.id)
        )
    if stored != count:
        raise RuntimeError(f"issuance {run.id} holds {stored} tags instead of {count}")
    tags_digest = _tags_digest(factory, run.id)
    pacer.wait()
    with factory() as session:
        begin_write(session)
        began = time.monotonic()
        # A recall that came while the run was written wins: a recalled batch gets no tags.
        if (
            session.scalar(select(Batch.status).where(Batch.id == run.batch_id))
            == BatchStatus.RECALLED
        ):
            raise Invalid("batch_id", "the batch was recalled while its tags were issued")
        # So does a suspension: a suspended producer's tags are not published.
        require_approved(session, producer_id=run.producer_id)
        if run.kid is not None:  # and a revocation: tags signed by a revoked key stay unseen
            registry.require_not_revoked(session, run.kid)
        published = session.execute(
            update(_ISSUANCES).where(_still_ours(run)).values(state=IssuanceState.PUBLISHED)
        )
        if cast(CursorResult[object], published).rowcount != 1:
            raise Conflict("the pending issuance was removed as stale while being written")
        issuance = session.get_one(TagIssuance, run.id)
        sequence(  # one leaf for the whole run, published with it
            session,
            issuance_entry(
                gtin=run.gtin,
                lot=run.lot,
                issuance_id=issuance.id,
                count=count,
                kid=issuance.kid,
                tags_digest=tags_digest,
            ),
        )
        record_change(
            session,
            actor=actor,
            action="tag_issuance.create",
            target_type="tag_issuance",
            target_id=issuance.id,
            producer_id=issuance.producer_id,
            at=utcnow(),
            after=stored_record(issuance),
            details={"batch_id": issuance.batch_id, "count": count, "signed": issuance.signed},
        )
        session.expunge(issuance)  # loaded, and left loaded by the commit
        session.commit()
    pacer.committed(began)
    return issuance


def _tags_digest(factory: sessionmaker[Session], issuance_id: int) -> str:
    """The run's tags as its log entry hashes them, streamed in byte order of the serials."""
    digest = TagsDigest()
    with factory() as session:
        postgresql = session.get_bind().dialect.name == "postgresql"
        # byte order, whatever the database's locale (SQLite compares bytes already)
        order = _TAGS.c.serial.collate("C") if postgresql else _TAGS.c.serial
        rows = session.execute(
            select(_TAGS.c.serial, _TAGS.c.digsig)
            .where(_TAGS.c.issuance_id == issuance_id)
            .order_by(order)
            .execution_options(yield_per=10_000)
        )
        for tag_serial, digsig in rows:
            digest.update(tag_serial, digsig)
    return digest.hexdigest()


# A claimed run: pending, with touched_at cleared by whoever is removing it. Its writer, if
# still alive, finds the run no longer its own (its touched_at is gone) and stops; created_at,
# older still, keeps it stale for any later clean-up; and a new run that SQLite gave the same
# id (rowids of deleted rows are reused) is never mistaken for it.
_CLAIMED = (_ISSUANCES.c.state == IssuanceState.PENDING, _ISSUANCES.c.touched_at.is_(None))


def _claim(session: Session, issuance_id: int, cutoff: datetime) -> bool:
    """Take over a pending run untouched since before cutoff, so its writer goes no further."""
    claimed = session.execute(
        update(_ISSUANCES)
        .where(
            _ISSUANCES.c.id == issuance_id,
            _ISSUANCES.c.state == IssuanceState.PENDING,
            func.coalesce(_ISSUANCES.c.touched_at, _ISSUANCES.c.created_at) < cutoff,
        )
        .values(touched_at=None)
    )
    return cast(CursorResult[object], claimed).rowcount == 1


def _abandon(factory: sessionmaker[Session], run: _Run) -> None:
    """Remove a run of ours that failed (or that a clean-up has claimed meanwhile)."""
    with factory() as session:
        begin_write(session)
        session.execute(update(_ISSUANCES).where(_still_ours(run)).values(touched_at=None))
        session.commit()
    _remove_run(factory, run.id)


def _remove_run(factory: sessionmaker[Session], issuance_id: int) -> None:
    """Delete a claimed run's tags chunk by chunk, then the run, in short transactions."""
    pacer = _Pacer(factory)
    this_run = _ISSUANCES.c.id == issuance_id
    chunk = (
        select(_TAGS.c.id)
        .where(_TAGS.c.issuance_id == issuance_id)
        .order_by(_TAGS.c.id)
        .limit(WRITE_CHUNK)
    )
    while True:
        pacer.wait()
        with factory() as session:
            begin_write(session)
            began = time.monotonic()
            if session.scalar(select(_ISSUANCES.c.id).where(this_run, *_CLAIMED)) is None:
                return  # removed already (by another clean-up), or not ours to remove
            removed = session.execute(delete(_TAGS).where(_TAGS.c.id.in_(chunk)))
            if cast(CursorResult[object], removed).rowcount == 0:
                # Only once no tag is left: another remover may have taken the last ones.
                no_tags = ~select(_TAGS.c.id).where(_TAGS.c.issuance_id == issuance_id).exists()
                session.execute(delete(_ISSUANCES).where(this_run, *_CLAIMED, no_tags))
            session.commit()
        pacer.committed(began)


def cleanup_incomplete_issuances(
    factory: sessionmaker[Session], *, stale_after: timedelta = STALE_AFTER
) -> int:
    """Remove pending runs untouched for stale_after (killed ones); returns how many."""
    cutoff = utcnow() - stale_after
    last_touched = func.coalesce(TagIssuance.touched_at, TagIssuance.created_at)
    with factory() as session:
        candidates = list(
            session.scalars(
                select(TagIssuance.id).where(
                    TagIssuance.state == IssuanceState.PENDING, last_touched < cutoff
                )
            )
        )
    removed = 0
    for issuance_id in candidates:
        with factory() as session:
            begin_write(session)
            claimed = _claim(session, issuance_id, cutoff)
            session.commit()
        if claimed:
            log.warning("removing issuance %d, left incomplete", issuance_id)
            _remove_run(factory, issuance_id)
            removed += 1
    return removed


def find_published(session: Session, *, issuance_id: int) -> TagIssuance | None:
    """A published issuance; a pending run exists for no one yet."""
    issuance = session.get(TagIssuance, issuance_id)
    if issuance is None or issuance.state != IssuanceState.PUBLISHED:
        return None
    return issuance


def get_issuance(session: Session, *, producer_id: int, issuance_id: int) -> TagIssuance:
    issuance = find_published(session, issuance_id=issuance_id)
    if issuance is None or issuance.producer_id != producer_id:
        raise NotFound("issuance not found")
    return issuance


def iter_tags(
    session: Session, *, issuance: TagIssuance, base_url: str, batch: Batch
) -> Iterator[PrintedTag]:
    """The issuance's tags in issue order, streamed from the database in chunks."""
    if issuance.state != IssuanceState.PUBLISHED:
        raise NotFound("issuance not found")
    stmt = (
        select(Tag.serial, Tag.digsig)
        .where(Tag.issuance_id == issuance.id)
        .order_by(Tag.id)
        .execution_options(yield_per=CHUNK)
    )
    gtin, lot = batch.product.gtin, batch.lot
    for serial, digsig in session.execute(stmt):
        yield PrintedTag(serial=serial, uri=tag_digital_link(base_url, gtin, lot, serial, digsig))


def find_tag(session: Session, *, gtin: str, serial: str) -> Tag | None:
    """A tag of a published issuance."""
    return session.scalar(
        select(Tag)
        .join(TagIssuance, Tag.issuance_id == TagIssuance.id)
        .where(Tag.gtin == gtin, Tag.serial == serial, TagIssuance.state == IssuanceState.PUBLISHED)
    )
