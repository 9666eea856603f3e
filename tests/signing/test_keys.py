"""Keys on disk: 0600, encrypted with a passphrase, unsafe files refused, read once."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tracetag.errors import KeyStoreError
from tracetag.signing.keys import KeyRing, KeyStore, generate_key, list_keys


def _private(path: Path) -> Path:
    (found,) = path.glob("*.key.pem")
    return found


def test_generated_key_is_0600_and_loads(tmp_path: Path) -> None:
    kid = generate_key(tmp_path, None)
    key_file = _private(tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"ENCRYPTED" not in key_file.read_bytes()
    assert KeyStore(tmp_path, None).signer(kid).kid == kid


def test_key_created_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        KeyStore(tmp_path, None).generate()
    finally:
        os.umask(old)
    assert stat.S_IMODE(_private(tmp_path).stat().st_mode) == 0o600


def test_passphrase_encrypts_and_is_required(tmp_path: Path) -> None:
    kid = KeyStore(tmp_path, "mật khẩu dài").generate().kid
    data = _private(tmp_path).read_bytes()
    # cryptography itself refuses to read it without the passphrase: it is really encrypted
    with pytest.raises(TypeError, match="encrypted"):
        load_pem_private_key(data, password=None)
    assert KeyStore(tmp_path, "mật khẩu dài").signer(kid).kid == kid
    with pytest.raises(KeyStoreError, match="TRACETAG_KEY_PASSPHRASE"):
        KeyStore(tmp_path, None).signer(kid)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyStore(tmp_path, "sai").signer(kid)
    assert list_keys(tmp_path)[0].encrypted


def test_group_readable_key_is_refused(tmp_path: Path) -> None:
    kid = generate_key(tmp_path, None)
    _private(tmp_path).chmod(0o640)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyStore(tmp_path, None).signer(kid)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyStore(tmp_path, None).check_files()


def test_a_missing_private_file_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match=r"copy abc\.key\.pem there \(mode 0600\)"):
        KeyStore(tmp_path, None).signer("abc")


def test_a_key_is_read_once_then_kept(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, None)
    signer = keys.generate()
    _private(tmp_path).unlink()  # read already: signing goes on
    assert keys.signer(signer.kid) is signer
    assert repr(signer) == f"FileSigner(kid={signer.kid!r})"  # never the key


def test_renamed_key_file_is_refused(tmp_path: Path) -> None:
    generate_key(tmp_path, None)
    _private(tmp_path).rename(tmp_path / ("A" * 43 + ".key.pem"))
    with pytest.raises(KeyStoreError, match="does not hold the key"):
        KeyStore(tmp_path, None).signer("A" * 43)


def test_the_key_ring_finds_a_key_made_after_it_was_loaded(tmp_path: Path) -> None:
    first = generate_key(tmp_path, None)
    ring = KeyRing.load(tmp_path)
    assert set(ring) == {first}
    second = generate_key(tmp_path, None)  # as another worker would
    assert second in ring and ring[second] is not None
    assert "not-a-kid" not in ring  # a miss reloads at most once a second: no error
    with pytest.raises(KeyError):
        ring["not-a-kid"]
