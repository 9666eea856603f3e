"""Scans go on while a 1,000,000-tag issuance is written: none waits more than 2 s (issue 6).

On SQLite the issuance and every scan take turns at the one write lock; on PostgreSQL they lock
different rows. The run is unsigned on purpose: with no signing between chunks, the lock is free
only for the pause the issuance leaves after each chunk, the hardest case for the scans (and
the run takes half as long).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from tests.tags.conftest import run_cli, visible_tags
from tracetag.core.database import begin_write, make_engine, make_session_factory, utcnow
from tracetag.scans.models import Scan
from tracetag.tags.models import IssuanceState, Tag, TagIssuance

pytestmark = pytest.mark.slow
COUNT = 1_000_000
MAX_WAIT = 2.0
MIN_SCANS = 200
DEADLINE = 300
PAUSE = 0.02  # between scans: a steady stream, not a busy loop that starves the issuance


def test_scans_wait_at_most_2_s_during_a_million_tag_issuance(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    done = run_cli(demo_env, "tags", "issue", "1", "--count", "20", "--key", "on-shelves")
    assert done.returncode == 0, done.stderr
    engine = make_engine(demo_env["TRACETAG_DATABASE_URL"])
    factory = make_session_factory(engine)
    with factory() as session:
        shelf = session.execute(select(Tag.gtin, Tag.serial)).all()
    assert len(shelf) == 20

    log = tmp_path / "issue.log"
    issue = ["tags", "issue", "1", "--count", str(COUNT), "--unsigned", "--key", "a-million"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracetag.cli", *issue],
            env=demo_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        waits: list[float] = []
        started: list[datetime] = []
        deadline = time.monotonic() + DEADLINE
        try:
            # What the scan writer does for one scan, in one write transaction of its own.
            for gtin, serial in itertools.cycle(shelf):
                if proc.poll() is not None:
                    break
                assert time.monotonic() < deadline, f"the issuance took over {DEADLINE} s"
                started.append(utcnow())
                start = time.monotonic()
                with factory() as session:
                    begin_write(session)
                    conn = session.connection()
                    tag_id = conn.execute(
                        select(Tag.id)
                        .join(TagIssuance, Tag.issuance_id == TagIssuance.id)
                        .where(
                            Tag.gtin == gtin,
                            Tag.serial == serial,
                            TagIssuance.state == IssuanceState.PUBLISHED,
                        )
                    ).scalar_one()
                    now = utcnow()
                    conn.execute(
                        insert(Scan).values(
                            tag_id=tag_id,
                            scanned_at=now,
                            client_hash="0" * 32,
                            network_hash="0" * 32,
                            ua_family="test",
                        )
                    )
                    conn.execute(
                        update(Tag)
                        .where(Tag.id == tag_id)
                        .values(scan_count=Tag.scan_count + 1, last_scanned_at=now)
                    )
                    session.commit()
                waits.append(time.monotonic() - start)
                time.sleep(PAUSE)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()

    assert max(waits) <= MAX_WAIT, f"a scan waited {max(waits):.2f} s"
    with factory() as session:
        run = session.scalars(
            select(TagIssuance).where(TagIssuance.idempotency_key == "a-million")
        ).one()
        assert (run.state, run.count) == (IssuanceState.PUBLISHED, COUNT)
        # from the run's first row to its last chunk: the scans that had to take turns with it
        assert run.touched_at is not None
        during = sum(run.created_at <= t <= run.touched_at for t in started)
        assert during >= MIN_SCANS, f"only {during} scans while the tags were written"
        stored = session.scalar(
            select(func.count()).select_from(Tag).where(Tag.issuance_id == run.id)
        )
        assert stored == COUNT
        assert visible_tags(session) == COUNT + 20
        # every scan was stored: no write was lost while the two took turns
        assert session.scalar(select(func.sum(Tag.scan_count))) == len(waits)
    engine.dispose()
    print(f"{during} scans during the run, longest wait {max(waits):.3f} s")
