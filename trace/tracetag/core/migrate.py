"""Alembic, configured in code: the migrations ship inside the package, no alembic.ini is read."""

from __future__ import annotations

from alembic.config import Config

from tracetag.core.resources import MIGRATIONS, package_path


def alembic_config(database_url: str) -> Config:
    """A Config for the packaged migrations and database_url; alembic.ini is for the repo only."""
    config = Config()
    config.set_main_option("script_location", str(package_path(MIGRATIONS)))
    config.set_main_option("path_separator", "os")
    # ConfigParser reads % as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config
