"""Keys on disk: 0600, encrypted with a passphrase, unsafe files refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tracetag.errors import KeyStoreError
from tracetag.signing.keys import KeyRing, generate_key, list_keys


def _private(path: Path) -> Path:
    (found,) = path.glob("*.key.pem")
    return found


def test_generated_key_is_0600_and_loads(tmp_path: Path) -> None:
    kid = generate_key(tmp_path, None)
    key_file = _private(tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"ENCRYPTED" not in key_file.read_bytes()
    assert KeyRing.load(tmp_path, None).signing_kid == kid


def test_key_created_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        generate_key(tmp_path, None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(_private(tmp_path).stat().st_mode) == 0o600


def test_passphrase_encrypts_and_is_required(tmp_path: Path) -> None:
    kid = generate_key(tmp_path, "mật khẩu dài")
    data = _private(tmp_path).read_bytes()
    # cryptography itself refuses to read it without the passphrase: it is really encrypted
    with pytest.raises(TypeError, match="encrypted"):
        load_pem_private_key(data, password=None)
    assert KeyRing.load(tmp_path, "mật khẩu dài").signing_kid == kid
    with pytest.raises(KeyStoreError, match="TRACETAG_KEY_PASSPHRASE"):
        KeyRing.load(tmp_path, None)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyRing.load(tmp_path, "sai")
    assert list_keys(tmp_path)[0].encrypted


def test_group_readable_key_is_refused(tmp_path: Path) -> None:
    generate_key(tmp_path, None)
    key_file = _private(tmp_path)
    key_file.chmod(0o640)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyRing.load(tmp_path, None)


def test_no_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="tracetag keys generate"):
        KeyRing.load(tmp_path, None)


def test_newest_key_signs_and_old_public_keys_stay(tmp_path: Path) -> None:
    first = generate_key(tmp_path, None)
    second = generate_key(tmp_path, None)
    os.utime(_key(tmp_path, first), (1, 1))  # make the order certain
    ring = KeyRing.load(tmp_path, None)
    assert ring.signing_kid == second
    assert set(ring.public) == {first, second}
    assert KeyRing.load(tmp_path, None, kid=first).signing_kid == first


def test_renamed_key_file_is_refused(tmp_path: Path) -> None:
    generate_key(tmp_path, None)
    key_file = _private(tmp_path)
    key_file.rename(tmp_path / ("A" * 43 + ".key.pem"))
    with pytest.raises(KeyStoreError, match="does not hold the key"):
        KeyRing.load(tmp_path, None)


def _key(path: Path, kid: str) -> Path:
    return path / f"{kid}.key.pem"
