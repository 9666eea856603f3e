"""Many appenders, one tree; a crash mid-append loses nothing a checkpoint covers (issue 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from tests.databases import backends, fresh_database
from tracetag.core.database import begin_write, make_engine, make_session_factory, utcnow
from tracetag.formats import merkle
from tracetag.formats.logentry import ISSUANCE, LogEntry
from tracetag.translog import checkpoints, service
from tracetag.translog.checkpoints import LogSigner, integrate_and_publish
from tracetag.translog.models import LogCheckpoint, LogEntryRow

APPENDERS = 16
EACH = 25


@pytest.fixture(params=backends())
def factory(request: pytest.FixtureRequest) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A committed database of its own: the appenders are separate connections."""
    with fresh_database(request.param) as url:
        engine = make_engine(url, pool_size=APPENDERS + 2) if "postgresql" in url else None
        engine = engine or make_engine(url)
        try:
            yield url, make_session_factory(engine)
        finally:
            engine.dispose()


def _check_tree(factory: sessionmaker[Session]) -> tuple[int, list[bytes]]:
    """The stored tree is one tree: positions 0..size-1, its root, every checkpoint a prefix."""
    with factory() as session:
        state = service.log_state(session)
        leaves = list(
            session.scalars(
                select(LogEntryRow.leaf_hash)
                .where(LogEntryRow.position.is_not(None))
                .order_by(LogEntryRow.position)
            )
        )
        positions = session.scalar(
            select(func.max(LogEntryRow.position) - func.min(LogEntryRow.position) + 1)
        )
        assert len(leaves) == state.size
        assert state.size == 0 or positions == state.size
        assert state.root == merkle.tree_root(leaves)
        assert service.consistency_proof(session, first=state.size, second=state.size) == []
        published = list(session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)))
        for checkpoint in published[-3:]:  # the newest few: each is the root of a prefix
            assert checkpoint.size <= state.size
            assert checkpoint.root == merkle.tree_root(leaves[: checkpoint.size])
    return state.size, leaves


def test_sixteen_appenders_build_one_consistent_tree(
    factory: tuple[str, sessionmaker[Session]], log_signer: LogSigner
) -> None:
    _url, sessions = factory
    errors: list[BaseException] = []
    start = threading.Barrier(APPENDERS)

    def append(worker: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                with sessions() as session:
                    begin_write(session)
                    data = b'{"w":%d,"i":%d}' % (worker, i)
                    service.sequence(session, LogEntry(ISSUANCE, f"w{worker}", None, data))
                    session.commit()
                integrate_and_publish(sessions, log_signer, limit=7)
        except BaseException as exc:  # reported below, with the worker's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(APPENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    integrate_and_publish(sessions, log_signer)
    size, leaves = _check_tree(sessions)
    assert size == APPENDERS * EACH
    assert len(set(leaves)) == size  # each entry once
    with sessions() as session:
        sizes = list(session.scalars(select(LogCheckpoint.size).order_by(LogCheckpoint.size)))
        for old in sizes:
            if 0 < old < size:
                merkle.verify_consistency(
                    old_size=old,
                    new_size=size,
                    proof=service.consistency_proof(session, first=old, second=size),
                    old_root=merkle.tree_root(leaves[:old]),
                    new_root=merkle.tree_root(leaves),
                )


CHILD = """
import sys
from tracetag.core.database import make_engine, make_session_factory
from tracetag.signing.logkey import load_log_signer
from tracetag.translog.checkpoints import integrate_and_publish
from pathlib import Path
signer = load_log_signer(Path(sys.argv[2]), None, origin="tracetag.test/log")
integrate_and_publish(make_session_factory(make_engine(sys.argv[1])), signer, limit=4000)
"""


@pytest.mark.slow
def test_a_crash_mid_append_loses_nothing_a_checkpoint_covers(
    factory: tuple[str, sessionmaker[Session]], log_signer: LogSigner, keys_dir: Path
) -> None:
    url, sessions = factory
    total = 120_000
    with sessions() as session:
        now = utcnow()
        rows = []
        for i in range(total):
            entry = LogEntry(ISSUANCE, None, None, b'{"c":%d}' % i)
            rows.append(
                {
                    "kind": entry.kind,
                    "subject": None,
                    "version": None,
                    "entry": entry.data,
                    "leaf_hash": entry.leaf_hash,
                    "created_at": now,
                }
            )
        session.execute(insert(LogEntryRow), rows)
        session.commit()
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(keys_dir)], env={**os.environ})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with sessions() as session:
                if service.log_state(session).size >= 8000:
                    break
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    size_at_crash, _ = _check_tree(sessions)
    assert 8000 <= size_at_crash < total  # it was cut off midway
    with sessions() as session:
        covered = checkpoints.latest(session)
        assert covered is not None and covered.size <= size_at_crash
    integrate_and_publish(sessions, log_signer)  # after restart, the rest is logged
    size, leaves = _check_tree(sessions)
    assert size == total
    with sessions() as session:
        merkle.verify_consistency(
            old_size=covered.size,
            new_size=size,
            proof=service.consistency_proof(session, first=covered.size, second=size),
            old_root=covered.root,
            new_root=merkle.tree_root(leaves),
        )
