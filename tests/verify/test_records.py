"""The inspector's verifier: files, record shape and Digital Link checks, never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tracetag.errors import MalformedInput, RecordMismatch
from tracetag.formats.jwk import jwks_document, keys_from_jwks
from tracetag.formats.jws import sign_compact
from tracetag.verify.records import load_jwks_file, load_jws_file, verify_record

LINK = "https://tracetag.test/01/08935049500063/10/ST25-2611-01"
RECORD: dict[str, Any] = {
    "type": "tracetag.batch-record/1",
    "version": 1,
    "issued_at": "2026-11-01T08:00:00Z",
    "digital_link": LINK,
    "product": {"name": "Gạo ST25", "gtin": "08935049500063"},
    "batch": {"lot": "ST25-2611-01", "status": "active"},
    "producer": {"name": "HTX Mỹ Xuyên"},
}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _keys(key: Ed25519PrivateKey) -> dict:
    return keys_from_jwks(jwks_document([key.public_key()]))


def test_a_good_record_verifies_against_its_link(key: Ed25519PrivateKey) -> None:
    result = verify_record(sign_compact(RECORD, key), _keys(key), expected_link=LINK)
    assert result.record == RECORD


def test_another_lot_is_a_mismatch(key: Ed25519PrivateKey) -> None:
    with pytest.raises(RecordMismatch, match="lot ST25-2611-01"):
        verify_record(sign_compact(RECORD, key), _keys(key), expected_link=LINK + "X")


@pytest.mark.parametrize(
    "change",
    [
        {"product": None},
        {"product": {"name": "x"}},
        {"batch": []},
        {"batch": {"lot": 5, "status": "active"}},
        {"producer": "HTX"},
        {"version": "1"},
        {"version": True},
        {"issued_at": None},
    ],
)
def test_a_signed_record_of_the_wrong_shape_is_malformed(
    key: Ed25519PrivateKey, change: dict
) -> None:
    # It once passed here and crashed the CLI's report with a KeyError or TypeError.
    token = sign_compact({**RECORD, **change}, key)
    with pytest.raises(MalformedInput, match="the record's"):
        verify_record(token, _keys(key))


@pytest.mark.parametrize("link", [None, 5, ["x"]])
def test_a_digital_link_that_is_not_text_is_malformed(key: Ed25519PrivateKey, link: Any) -> None:
    token = sign_compact({**RECORD, "digital_link": link}, key)
    with pytest.raises(MalformedInput, match="digital_link"):
        verify_record(token, _keys(key), expected_link=LINK)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe{}",  # not UTF-8: found by the fuzzer, a UnicodeDecodeError
        b"[" * 100_000,  # found by the fuzzer: a RecursionError
        b'{"keys": NaN}',
        b"",
    ],
)
def test_a_jwks_file_that_is_no_json_is_malformed(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(data)
    with pytest.raises(MalformedInput, match="is not JSON"):
        load_jwks_file(path)


def test_a_good_jwks_file_loads(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_document([key.public_key()])))
    assert load_jwks_file(path).keys == _keys(key)


def test_a_jws_file_with_non_ascii_bytes_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "record.jws"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(MalformedInput, match="non-ASCII"):
        load_jws_file(path)
    path.write_bytes(b"  a.b.c\n")
    assert load_jws_file(path) == "a.b.c"
