"""Fresh test databases on SQLite and, when TRACETAG_TEST_POSTGRES_URL is set, PostgreSQL."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tracetag.core.database import make_engine, make_session_factory
from tracetag.core.migrate import alembic_config

POSTGRES_ENV = "TRACETAG_TEST_POSTGRES_URL"


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


def _pg_admin_url() -> str:
    url = make_url(os.environ[POSTGRES_ENV])
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def register_keys(url: str, keys_dir: Path) -> None:
    """Register keys_dir's one key, active, as the service's start would, but without writing
    the audit log: tests count its events from an empty log. (The start's own registration is
    tested in tests/signing/test_registry.py and tests/cli/test_keys.py.)"""
    import tracetag.models  # noqa: F401  (every table known)
    from tracetag.core.database import utcnow
    from tracetag.formats.jwk import public_jwk
    from tracetag.signing.events import key_event_entry
    from tracetag.signing.keys import KeyStore
    from tracetag.signing.models import SigningKey, SigningKeyEvent

    keys = KeyStore(keys_dir, None)
    (info,) = (info for info in keys.files() if info.has_private)
    jwk = public_jwk(keys.signer(info.kid).public_key)
    now = utcnow()
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            session.add(
                SigningKey(
                    kid=info.kid,
                    public_jwk=jwk,
                    state="active",
                    created_at=now,
                    created_by="tests",
                    activated_at=now,
                    activated_by="tests",
                )
            )
            session.flush()
            for event in ("generate", "activate"):
                entry = key_event_entry(kid=info.kid, event=event, at=now, public_jwk=jwk)
                session.add(
                    SigningKeyEvent(kid=info.kid, event=event, at=now, actor="tests", entry=entry)
                )
            session.commit()
    finally:
        engine.dispose()


@contextmanager
def fresh_database(
    backend: str, *, migrate: bool = True, keys_dir: Path | None = None
) -> Iterator[str]:
    """Create an empty database, migrate it to head (registering keys_dir's keys), yield its
    URL, drop it afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tracetag-test-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'test.db'}"
            if migrate:
                command.upgrade(alembic_config(url), "head")
                if keys_dir is not None:
                    register_keys(url, keys_dir)
            yield url
        return
    admin_url = _pg_admin_url()
    name = f"tracetag_test_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            command.upgrade(alembic_config(url), "head")
            if keys_dir is not None:
                register_keys(url, keys_dir)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def engine_for(url: str):  # type: ignore[no-untyped-def]
    return make_engine(url)
