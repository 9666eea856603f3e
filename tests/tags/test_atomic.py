"""An issuance killed with SIGKILL publishes nothing, and clean-up removes what it left (issue 6).

The run stores its tags in chunks, each committed, in a pending issuance: the kill comes after
some chunks are stored, and none of them may be visible to a scan or a download.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.tags.conftest import run_cli, visible_tags
from tracetag.core.database import make_engine, make_session_factory
from tracetag.tags.models import IssuanceState, Tag, TagIssuance
from tracetag.tags.service import STALE_AFTER, cleanup_incomplete_issuances

pytestmark = pytest.mark.slow
COUNT = 100_000


def test_sigkill_mid_issuance_publishes_nothing_and_cleanup_removes_it(
    demo_env: dict[str, str],
) -> None:
    engine = make_engine(demo_env["TRACETAG_DATABASE_URL"])
    factory = make_session_factory(engine)
    command = [sys.executable, "-m", "tracetag.cli", "tags", "issue", "1", "--count", str(COUNT)]
    proc = subprocess.Popen(
        [*command, "--key", "kill-me"],
        env=demo_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    assert "issuing 100,000 tags" in proc.stdout.readline().decode()
    # Kill it once some chunks are committed: that is the state a crash leaves behind.
    stored_tags = select(func.count()).select_from(Tag)
    deadline = time.monotonic() + 60
    with factory() as session:
        while not session.scalar(stored_tags):
            assert time.monotonic() < deadline, "no chunk was stored within 60 s"
            session.rollback()  # a fresh snapshot for the next look
            time.sleep(0.02)
    assert proc.poll() is None, "the issuance finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    with factory() as session:
        (run,) = session.scalars(select(TagIssuance)).all()
        stored = session.scalar(stored_tags)
        assert run.state == IssuanceState.PENDING
        assert stored is not None and 0 < stored < COUNT
        assert visible_tags(session) == 0

    # The same key, at once: the run may still be alive as far as anyone can tell.
    again = run_cli(demo_env, *command[3:-1], "1000", "--key", "kill-me")
    assert again.returncode != 0
    assert "in progress" in again.stderr
    # Start-up clean-up leaves a run that moved recently; once it is stale, it goes.
    assert cleanup_incomplete_issuances(factory, stale_after=STALE_AFTER) == 0
    assert cleanup_incomplete_issuances(factory, stale_after=timedelta(0)) == 1
    with factory() as session:
        assert session.scalar(stored_tags) == 0
        assert session.scalar(select(func.count()).select_from(TagIssuance)) == 0

    again = run_cli(demo_env, *command[3:-1], "1000", "--key", "kill-me")
    assert again.returncode == 0, again.stdout + again.stderr
    with factory() as session:
        (run,) = session.scalars(select(TagIssuance)).all()
        assert (run.state, run.count, run.idempotency_key) == ("published", 1000, "kill-me")
        assert visible_tags(session) == session.scalar(stored_tags) == 1000
    engine.dispose()
