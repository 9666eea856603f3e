"""An issuance killed with SIGKILL leaves all of its tags or none, never part of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.databases import backends, fresh_database
from tracetag.db import make_engine, make_session_factory
from tracetag.tags.models import Tag, TagIssuance

pytestmark = pytest.mark.slow
COUNT = 100_000


@pytest.fixture(params=backends())
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with fresh_database(request.param) as url:
        environment = {
            **os.environ,
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": str(tmp_path / "keys"),
        }
        for args in (["keys", "generate"], ["demo"]):
            done = subprocess.run(
                [sys.executable, "-m", "tracetag.cli", *args],
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
        yield environment


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        tags = session.scalar(select(func.count()).select_from(Tag)) or 0
        issuances = session.scalar(select(func.count()).select_from(TagIssuance)) or 0
    engine.dispose()
    return tags, issuances


def test_sigkill_mid_issuance_leaves_nothing_half_written(env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "tracetag.cli", "tags", "issue", "1", "--count", str(COUNT)]
    proc = subprocess.Popen(
        [*command, "--key", "kill-me"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    started = proc.stdout.readline().decode()
    assert "issuing 100,000 tags" in started
    time.sleep(1.5)  # well inside the run: signing and inserting 100,000 tags takes longer
    assert proc.poll() is None, "the issuance finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    tags, issuances = _counts(env["TRACETAG_DATABASE_URL"])
    assert (tags, issuances) in ((0, 0), (COUNT, 1))
    # the database is usable afterwards, and the same key can be used again
    again = subprocess.run(
        [*command[:-1], "1000", "--key", "kill-me"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert _counts(env["TRACETAG_DATABASE_URL"]) == (1000, 1)
