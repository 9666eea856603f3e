"""Issue unit tags: one transaction per issuance, bulk inserts, idempotent by key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracetag.batches.models import Batch
from tracetag.batches.service import Issuer
from tracetag.errors import Conflict, Invalid, NotFound
from tracetag.gs1 import tag_digital_link
from tracetag.signing.digsig import TagSigner
from tracetag.tags.models import Tag, TagIssuance
from tracetag.tags.serials import new_serial

_TAGS = cast(Table, Tag.__table__)
# Rows per INSERT round trip: large enough for executemany to be cheap, small enough for
# a progress bar to move.
CHUNK = 5_000
Progress = Callable[[int], None]


def find_issuance(
    session: Session, *, producer_id: int, idempotency_key: str
) -> TagIssuance | None:
    stmt = select(TagIssuance).where(
        TagIssuance.producer_id == producer_id, TagIssuance.idempotency_key == idempotency_key
    )
    return session.scalar(stmt)


def issue_tags(
    session: Session,
    *,
    batch: Batch,
    count: int,
    signed: bool,
    idempotency_key: str,
    issuer: Issuer,
    progress: Progress | None = None,
) -> tuple[TagIssuance, bool]:
    """Create `count` tags for the batch, or return the issuance this key already made.

    Returns (issuance, created). The caller commits once: a crash before that leaves nothing.
    """
    producer_id = batch.product.producer_id
    existing = find_issuance(session, producer_id=producer_id, idempotency_key=idempotency_key)
    if existing is not None:
        if (existing.batch_id, existing.count, existing.signed) != (batch.id, count, signed):
            raise Conflict(
                "this idempotency key was used for a different request "
                f"(batch {existing.batch_id}, {existing.count} tags); use a new key"
            )
        return existing, False
    if batch.status == "recalled":
        raise Invalid("batch_id", "the batch is recalled; no new tags can be issued for it")

    keyring = issuer.keyring
    issuance = TagIssuance(
        producer_id=producer_id,
        batch_id=batch.id,
        idempotency_key=idempotency_key,
        count=count,
        signed=signed,
        kid=keyring.signing_kid if signed else None,
    )
    session.add(issuance)
    try:
        session.flush()
    except IntegrityError as exc:  # the same key, issued by a concurrent request
        raise Conflict("an issuance with this idempotency key is in progress") from exc

    gtin, lot = batch.product.gtin, batch.lot
    sign = TagSigner(keyring.signing_key, keyring.signing_kid).sign if signed else None
    issuance_id, batch_id = issuance.id, batch.id

    def make_rows(size: int) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for _ in range(size):
            serial = new_serial()
            rows.append(
                {
                    "issuance_id": issuance_id,
                    "batch_id": batch_id,
                    "gtin": gtin,
                    "serial": serial,
                    "digsig": sign(gtin, lot, serial) if sign else None,
                    "scan_count": 0,
                }
            )
        return rows

    # Core executemany on the session's connection (the ORM's per-row bookkeeping would
    # dominate), run in a helper thread so the next chunk is signed while the database
    # stores this one. Only one thread touches the connection at any time.
    connection = session.connection()
    statement = insert(_TAGS)
    done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tag-insert") as inserter:
        pending: Future[object] | None = None
        while done < count:
            size = min(CHUNK, count - done)
            rows = make_rows(size)
            if pending is not None:
                pending.result()
            pending = inserter.submit(connection.execute, statement, rows)
            done += size
            if progress is not None:
                progress(size)
        if pending is not None:
            pending.result()
    return issuance, True


def get_issuance(session: Session, *, producer_id: int, issuance_id: int) -> TagIssuance:
    issuance = session.get(TagIssuance, issuance_id)
    if issuance is None or issuance.producer_id != producer_id:
        raise NotFound("issuance not found")
    return issuance


@dataclass(frozen=True)
class PrintedTag:
    serial: str
    uri: str


def iter_tags(
    session: Session, *, issuance: TagIssuance, base_url: str, batch: Batch
) -> Iterator[PrintedTag]:
    """The issuance's tags in issue order, streamed from the database in chunks."""
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
    return session.scalar(select(Tag).where(Tag.gtin == gtin, Tag.serial == serial))
