"""The scan-fingerprint salt: its own 0600 secret, kept across rotations; on upgrade the salt
the fingerprints were made with, derived from the key that signed."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tracetag.app import create_app
from tracetag.errors import KeyStoreError
from tracetag.identity.passwords import Passwords
from tracetag.scans.models import Scan
from tracetag.scans.salt import scan_salt
from tracetag.settings import Settings
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import SALT_FILE, KeyStore
from tracetag.signing.signer import Signer


def _never() -> bytes:
    raise AssertionError("the legacy salt was asked for")


def _old_derivation(keys_dir: Path, kid: str) -> bytes:
    """How the salt was derived before it had a file, written out again here."""
    key = load_pem_private_key((keys_dir / f"{kid}.key.pem").read_bytes(), password=None)
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return hashlib.sha256(b"tracetag scan fingerprint salt\0" + raw).digest()


def _scanned(session: Session, session_factory: sessionmaker[Session], keys: KeyStore) -> None:
    issuer = Issuer(keys=keys, name="tracetag", base_url=BASE_URL)
    batch = factories.make_batch(
        session, issuer, factories.make_product(session, factories.make_producer(session))
    )
    session.commit()
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    session.execute(
        insert(Scan).values(
            tag_id=tag.id,
            network_hash="n",
            client_hash="c",
            scanned_at=datetime(2026, 11, 1, tzinfo=UTC),
            ua_family="other",
        )
    )
    session.commit()


def test_a_new_service_gets_a_random_salt_kept_0600(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "keys" / SALT_FILE
    salt = scan_salt(session_factory, configured=None, path=path, legacy=_never)
    assert len(salt) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert scan_salt(session_factory, configured=None, path=path, legacy=_never) == salt
    assert list(path.parent.iterdir()) == [path]  # no partial file left behind


def test_the_setting_overrides_the_file_and_writes_none(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / SALT_FILE
    configured = scan_salt(session_factory, configured="muối", path=path, legacy=_never)
    assert configured == "muối".encode()
    assert not path.exists()


def test_a_salt_others_can_read_is_refused(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / SALT_FILE
    scan_salt(session_factory, configured=None, path=path, legacy=_never)
    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        scan_salt(session_factory, configured=None, path=path, legacy=_never)


def _app_salt(
    settings: Settings, factory: sessionmaker[Session], keys: KeyStore, passwords: Passwords
) -> bytes:
    app = create_app(
        settings.model_copy(update={"keys_dir": keys.keys_dir}),
        session_factory=factory,
        keys=keys,
        passwords=passwords,
    )
    salt: bytes = app.state.scan_salt
    return salt


def test_on_upgrade_the_salt_is_the_old_one_and_survives_rotations(
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
    own_keys: KeyStore,
    signer: Signer,
    passwords: Passwords,
) -> None:
    _scanned(session, session_factory, own_keys)  # fingerprints were stored with the old salt
    first = _app_salt(settings, session_factory, own_keys, passwords)
    assert first == _old_derivation(own_keys.keys_dir, signer.kid)
    registry.rotate(session, own_keys, actor=factories.ACTOR)
    session.commit()
    assert _app_salt(settings, session_factory, own_keys, passwords) == first
    salt_file = own_keys.keys_dir / SALT_FILE
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600


def test_without_stored_scans_the_salt_owes_nothing_to_the_key(
    settings: Settings,
    session_factory: sessionmaker[Session],
    own_keys: KeyStore,
    signer: Signer,
    passwords: Passwords,
) -> None:
    salt = _app_salt(settings, session_factory, own_keys, passwords)
    assert salt != _old_derivation(own_keys.keys_dir, signer.kid)
    assert len(salt) == 32


def test_the_salt_is_never_logged(
    settings: Settings,
    session_factory: sessionmaker[Session],
    own_keys: KeyStore,
    passwords: Passwords,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    salt = _app_salt(settings, session_factory, own_keys, passwords)
    assert salt.hex() not in caplog.text and repr(salt) not in caplog.text
