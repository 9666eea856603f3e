"""The folders that ship inside the package are found; an editable install finds the repo's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import REPO_ROOT
from tracetag.core.resources import MIGRATIONS, PUBLIC_PAGES, package_path
from tracetag.web.public.pages import STATIC_DIR, TEMPLATES_DIR


def test_an_editable_install_serves_the_repo_s_top_level_folders() -> None:
    # make run and make test install editable: an edited template shows without a reinstall.
    assert package_path(PUBLIC_PAGES) == REPO_ROOT / "public_pages"
    assert package_path(MIGRATIONS) == REPO_ROOT / "migrations"
    assert TEMPLATES_DIR == REPO_ROOT / "public_pages" / "templates"
    assert STATIC_DIR == REPO_ROOT / "public_pages" / "static"


def test_a_package_that_is_not_plain_files_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "tracetag_test_namespace").mkdir()  # no __init__.py: a namespace package
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError, match="tracetag_test_namespace is not installed as plain"):
        package_path("tracetag_test_namespace")
