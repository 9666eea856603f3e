"""The scenario site: the real server over a database with one page per verdict (site.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.public.site import Site, serve_scenarios


@pytest.fixture(scope="session")
def site(keys_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # SQLite only: these tests look at pages; every database test runs on both backends.
    with serve_scenarios(keys_dir, tmp_path_factory.mktemp("site") / "server.log") as served:
        yield served
