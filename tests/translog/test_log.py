"""The log's storage: sequencing with what it logs, batched integration, proofs, append-only."""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import make_batch, make_producer, make_product, make_tags
from tracetag.app import create_app
from tracetag.batches.models import SignedRecord
from tracetag.errors import Conflict
from tracetag.formats import merkle, tiles
from tracetag.formats.logentry import (
    ISSUANCE,
    RECORD,
    LogEntry,
    parse_entry,
    record_entry,
    tags_sha256,
)
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing, KeyStore
from tracetag.translog import checkpoints, service
from tracetag.translog.checkpoints import LogSigner, integrate_and_publish
from tracetag.translog.models import LogCheckpoint, LogEntryRow, LogTile


def _entries(session: Session) -> list[LogEntryRow]:
    return list(session.scalars(select(LogEntryRow).order_by(LogEntryRow.seq)))


def _count_tile_reads(session: Session) -> Callable[[], int]:
    """How many statements read log_tiles from now on."""
    reads = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM log_tiles" in statement:
            reads.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", seen)

    def count() -> int:
        event.remove(session.get_bind(), "before_cursor_execute", seen)
        return len(reads)

    return count


def _leaf_hashes(session: Session) -> list[bytes]:
    rows = session.scalars(
        select(LogEntryRow.leaf_hash)
        .where(LogEntryRow.position.is_not(None))
        .order_by(LogEntryRow.position)
    )
    return list(rows)


def test_a_signed_version_and_a_run_of_tags_are_sequenced_with_them(
    session_factory: sessionmaker[Session], issuer: Issuer
) -> None:
    with session_factory() as session:
        batch = make_batch(session, issuer, make_product(session, make_producer(session)))
        session.commit()
    _issuance, tags = make_tags(session_factory, issuer, batch, 5)
    with session_factory() as session:
        rows = _entries(session)
        stmt = select(SignedRecord).where(SignedRecord.batch_id == batch.id)
        record = session.scalars(stmt).one()
    assert [row.kind for row in rows[-2:]] == [RECORD, ISSUANCE]
    logged_record, logged_run = rows[-2:]
    assert logged_record.entry == record_entry(record.jws).data
    assert logged_record.leaf_hash == merkle.leaf_hash(logged_record.entry)
    assert logged_record.version == 1 and logged_record.position is None
    run = parse_entry(logged_run.entry)
    assert run["count"] == 5
    assert run["tags_sha256"] == tags_sha256((t.serial, t.digsig) for t in tags)


def test_integration_gives_positions_in_order_and_a_checkpoint(
    session_factory: sessionmaker[Session], log_signer: LogSigner
) -> None:
    with session_factory() as session:
        for i in range(600):
            service.sequence(session, LogEntry(ISSUANCE, f"s{i}", None, b'{"n":%d}' % i))
        session.commit()
    # Small batches, so integration crosses tile boundaries between transactions.
    assert integrate_and_publish(session_factory, log_signer, limit=97) >= 600
    with session_factory() as session:
        state = service.log_state(session)
        leaves = _leaf_hashes(session)
        assert len(leaves) == state.size >= 600
        assert state.root == merkle.tree_root(leaves)
        latest = checkpoints.latest(session)
        assert latest is not None and latest.size == state.size and latest.root == state.root
        for index in (0, 255, 256, 599, state.size - 1):
            proof = service.inclusion_proof(session, index=index, tree_size=state.size)
            merkle.verify_inclusion(
                index=index, tree_size=state.size, leaf=leaves[index], proof=proof, root=state.root
            )
        sizes = list(session.scalars(select(LogCheckpoint.size).order_by(LogCheckpoint.size)))
        assert len(sizes) >= 7  # one per transaction of 97
        # A batch page's three proofs (in the latest tree, in the first to cover the leaf, and
        # the consistency between them) are the ones computed one by one, from one read.
        for index, first in ((0, sizes[0]), (255, sizes[2]), (256, sizes[2]), (299, sizes[3])):
            reads = _count_tile_reads(session)
            got = service.record_proofs(session, index=index, first=first, latest=state.size)
            assert reads() == 1
            assert got == (
                service.inclusion_proof(session, index=index, tree_size=state.size),
                service.inclusion_proof(session, index=index, tree_size=first),
                service.consistency_proof(session, first=first, second=state.size),
            )
        last = state.size - 1
        same = service.record_proofs(session, index=last, first=state.size, latest=state.size)
        assert same[2] == [] and same[0] == same[1]
        for old in sizes[1:-1]:
            proof = service.consistency_proof(session, first=old, second=state.size)
            merkle.verify_consistency(
                old_size=old,
                new_size=state.size,
                proof=proof,
                old_root=merkle.tree_root(leaves[:old]),
                new_root=state.root,
            )


def test_nothing_waiting_takes_no_write_and_signs_nothing_new(
    session_factory: sessionmaker[Session], log_signer: LogSigner
) -> None:
    integrate_and_publish(session_factory, log_signer)
    with session_factory() as session:
        before = session.scalar(select(LogCheckpoint.size).order_by(LogCheckpoint.size.desc()))
        count = len(list(session.scalars(select(LogCheckpoint.size))))
    assert integrate_and_publish(session_factory, log_signer) == 0
    with session_factory() as session:
        assert len(list(session.scalars(select(LogCheckpoint.size)))) == count
        assert checkpoints.latest(session).size == before  # type: ignore[union-attr]


def test_the_log_refuses_rewrites(
    session_factory: sessionmaker[Session], log_signer: LogSigner
) -> None:
    with session_factory() as s:
        service.sequence(s, LogEntry(ISSUANCE, "x", None, b'{"n":1}'))
        s.commit()
    integrate_and_publish(session_factory, log_signer)
    attempts = [
        delete(LogEntryRow),
        update(LogEntryRow).values(entry=b"{}"),
        update(LogCheckpoint).values(note="forged"),
        delete(LogCheckpoint),
        update(LogTile).values(hashes=b"\0" * 32, width=1),
    ]
    for statement in attempts:
        with session_factory() as s, pytest.raises(DBAPIError, match="append-only"):
            s.execute(statement)


def test_tiles_and_entries_served_as_tlog_tiles(
    session_factory: sessionmaker[Session], log_signer: LogSigner, client: TestClient
) -> None:
    with session_factory() as session:
        for i in range(300):
            service.sequence(session, LogEntry(ISSUANCE, f"t{i}", None, b'{"t":%d}' % i))
        session.commit()
    integrate_and_publish(session_factory, log_signer)
    with session_factory() as session:
        size = service.log_state(session).size
        leaves = _leaf_hashes(session)
        entries = list(
            session.scalars(
                select(LogEntryRow.entry)
                .where(LogEntryRow.position.is_not(None))
                .order_by(LogEntryRow.position)
            )
        )
    checkpoint = client.get("/checkpoint")
    assert checkpoint.status_code == 200
    lines = checkpoint.text.split("\n")
    assert lines[1] == str(size)
    assert base64.b64decode(lines[2]) == merkle.tree_root(leaves)
    full = client.get("/tile/0/000")
    assert full.status_code == 200 and full.headers["cache-control"].endswith("immutable")
    assert full.content == b"".join(leaves[:256])
    width = size % 256
    if width:
        last = tiles.TileId(0, size // 256, width)
        partial = client.get("/" + last.path())
        assert partial.content == b"".join(leaves[size - width :])
    bundle = client.get("/tile/entries/000")
    assert tiles.decode_entry_bundle(bundle.content) == entries[:256]
    assert client.get(f"/tile/0/{(size // 256) + 1:03d}").status_code == 404
    assert client.get("/tile/0/x00/1").status_code == 404
    proof = client.get(
        "/log/proof/inclusion", params={"leaf_hash": leaves[3].hex(), "tree_size": size}
    ).json()
    merkle.verify_inclusion(
        index=proof["leaf_index"],
        tree_size=size,
        leaf=leaves[3],
        proof=[base64.b64decode(h) for h in proof["hashes"]],
        root=merkle.tree_root(leaves),
    )
    assert proof["leaf_index"] == 3
    consistency = client.get("/log/proof/consistency", params={"first": 10, "second": size})
    merkle.verify_consistency(
        old_size=10,
        new_size=size,
        proof=[base64.b64decode(h) for h in consistency.json()["hashes"]],
        old_root=merkle.tree_root(leaves[:10]),
        new_root=merkle.tree_root(leaves),
    )
    assert client.get("/log/proof/consistency", params={"first": 0}).status_code == 400
    bad = client.get("/log/proof/inclusion", params={"leaf_hash": "zz"})
    assert bad.status_code == 422


def test_workers_starting_together_make_one_log_key(tmp_path: Path) -> None:
    from tracetag.signing.logkey import load_log_signer

    with ThreadPoolExecutor(8) as pool:
        signers = list(
            pool.map(lambda _: load_log_signer(tmp_path, None, origin="t.test/log"), range(8))
        )
    assert len({signer.vkey for signer in signers}) == 1
    assert len(list((tmp_path / "log").glob("*.key.pem"))) == 1


def test_a_service_refuses_to_start_as_another_log(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    settings: Settings,
    keys: KeyStore,
    keyring: KeyRing,
) -> None:
    integrate_and_publish(session_factory, log_signer)  # the log's origin is fixed now
    other = LogSigner("moved.example/log", log_signer.key)
    with pytest.raises(Conflict, match=r"set TRACETAG_LOG_ORIGIN=tracetag\.test/log"):
        create_app(
            settings, session_factory=session_factory, keys=keys, keyring=keyring, log_signer=other
        )
