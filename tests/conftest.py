"""Fixtures: every database test runs once per backend, inside a rolled-back transaction."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.databases import POSTGRES_ENV, backends, fresh_database
from tracetag.app import create_app
from tracetag.core.database import make_engine
from tracetag.identity.passwords import Passwords
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing, KeyStore, generate_key
from tracetag.signing.logkey import load_log_signer
from tracetag.signing.signer import Signer
from tracetag.translog.checkpoints import LogSigner

BASE_URL = "https://tracetag.test"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not os.environ.get(POSTGRES_ENV):
        raise pytest.UsageError(f"CI must set {POSTGRES_ENV}: database tests run on both")


@pytest.fixture(scope="session", params=backends())
def database_url(request: pytest.FixtureRequest, keys_dir: Path) -> Iterator[str]:
    with fresh_database(request.param, keys_dir=keys_dir) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    # Commits inside the app release a SAVEPOINT; the outer transaction is rolled back.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys")
    generate_key(path, None)
    return path


@pytest.fixture(scope="session")
def keys(keys_dir: Path) -> KeyStore:
    """The tests' private keys: one, registered active in every test database."""
    return KeyStore(keys_dir, None)


@pytest.fixture(scope="session")
def signer(keys: KeyStore) -> Signer:
    """The key that signs in the tests' databases."""
    (info,) = keys.files()
    return keys.signer(info.kid)


@pytest.fixture
def own_keys(tmp_path: Path, keys_dir: Path) -> KeyStore:
    """A keys directory of the test's own holding the tests' active key, for tests that make
    keys: the shared directory stays as it was."""
    own = tmp_path / "keys"
    own.mkdir()
    for path in keys_dir.glob("*.pem"):
        shutil.copy2(path, own / path.name)  # keeps 0600
    return KeyStore(own, None)


@pytest.fixture(scope="session")
def keyring(keys_dir: Path) -> KeyRing:
    return KeyRing.load(keys_dir)


@pytest.fixture(scope="session")
def log_signer(keys_dir: Path) -> LogSigner:
    return load_log_signer(keys_dir, None, origin="tracetag.test/log")


@pytest.fixture
def settings(keys_dir: Path, database_url: str) -> Settings:
    # No tag job worker: its thread would share the test's one connection (tests/tags/test_jobs
    # runs jobs itself).
    return Settings(
        database_url=database_url,
        keys_dir=keys_dir,
        public_base_url=BASE_URL,
        secret_key="test-portal-secret-not-for-production",
        job_worker=False,
    )


@pytest.fixture
def issuer(keys: KeyStore) -> Issuer:
    return Issuer(keys=keys, name="tracetag", base_url=BASE_URL)


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    # A cheap cost for speed; tests/identity/test_passwords.py checks the default one.
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def app(
    settings: Settings,
    session_factory: sessionmaker[Session],
    keys: KeyStore,
    keyring: KeyRing,
    passwords: Passwords,
    log_signer: LogSigner,
) -> FastAPI:
    return create_app(
        settings,
        session_factory=session_factory,
        keys=keys,
        keyring=keyring,
        passwords=passwords,
        log_signer=log_signer,
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as c:
        yield c


@pytest.fixture
def admin_key(session: Session) -> str:
    return factories.admin_key(session)


@pytest.fixture
def producer_auth(session: Session) -> factories.ProducerAuth:
    return factories.producer_with_key(session)


@pytest.fixture
def other_auth(session: Session) -> factories.ProducerAuth:
    return factories.producer_with_key(session)
