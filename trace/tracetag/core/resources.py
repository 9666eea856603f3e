"""Files that ship inside the package: templates, static files and migrations."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# The repo's top-level public_pages/ and migrations/ ship as these packages (see setup.py).
PUBLIC_PAGES = "tracetag.public_pages"
MIGRATIONS = "tracetag.migrations"


def package_path(package: str) -> Path:
    """The directory of an installed package; Jinja, Starlette and Alembic need a real one."""
    root = files(package)
    if not isinstance(root, Path):  # a zipped install, which tracetag does not support
        raise RuntimeError(f"{package} is not installed as plain files ({root}); reinstall it")
    return root
