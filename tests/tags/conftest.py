"""A fresh database with a key and the demo batch (id 1), for tests that run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.databases import backends, fresh_database
from tracetag.tags.models import IssuanceState, Tag, TagIssuance


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracetag.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(params=backends())
def demo_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with fresh_database(request.param) as url:
        environment = {
            **os.environ,
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": str(tmp_path / "keys"),
        }
        for args in (["keys", "generate"], ["demo"]):
            done = run_cli(environment, *args)
            assert done.returncode == 0, done.stderr
        yield environment


def visible_tags(session: Session) -> int:
    """Tags a scan can find: those of published issuances (what the scan lookup joins to)."""
    stmt = (
        select(func.count())
        .select_from(Tag)
        .join(TagIssuance, Tag.issuance_id == TagIssuance.id)
        .where(TagIssuance.state == IssuanceState.PUBLISHED)
    )
    return session.scalar(stmt) or 0
