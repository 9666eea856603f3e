"""GS1 AI 8030 tag signatures: what verifies, and what every malformed value raises."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tracetag.errors import BadSignature, MalformedInput, UnknownKey
from tracetag.formats.digsig import DIGSIG_LENGTH, TagSigner, verify_digsig
from tracetag.formats.jwk import jwks_document, keys_from_jwks, thumbprint

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TAG = {"gtin14": "08935049500063", "lot": "ST25-2611-01", "serial": "7KQ2M9XA4BC3D"}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def value(key: Ed25519PrivateKey) -> str:
    return TagSigner(key, thumbprint(key.public_key())).sign(**TAG)


def _keys(key: Ed25519PrivateKey) -> dict:
    return keys_from_jwks(jwks_document([key.public_key()]))


def test_a_signed_tag_verifies_and_names_its_key(key: Ed25519PrivateKey, value: str) -> None:
    assert len(value) == DIGSIG_LENGTH
    assert verify_digsig(value, _keys(key), **TAG) == thumbprint(key.public_key())


def test_another_serial_is_bad_signature(key: Ed25519PrivateKey, value: str) -> None:
    with pytest.raises(BadSignature):
        verify_digsig(value, _keys(key), **{**TAG, "serial": "7KQ2M9XA4BC3E"})


def test_another_key_is_unknown(value: str) -> None:
    with pytest.raises(UnknownKey):
        verify_digsig(value, _keys(Ed25519PrivateKey.generate()), **TAG)


def test_a_value_spelled_with_stray_bits_does_not_verify(
    key: Ed25519PrivateKey, value: str
) -> None:
    # Found by the fuzzer: 67 bytes take 90 characters, whose last 4 bits are unused, so 16
    # spellings of one signature all verified (and the page caches valid results by spelling).
    respelled = value[:-1] + ALPHABET[ALPHABET.index(value[-1]) ^ 1]
    with pytest.raises(MalformedInput, match="canonical"):
        verify_digsig(respelled, _keys(key), **TAG)


@pytest.mark.parametrize("bad", ["", "A" * 89, "A" * 91, "=" * 90, "é" * 90, "+" * 90])
def test_malformed_values(key: Ed25519PrivateKey, bad: str) -> None:
    with pytest.raises(MalformedInput):
        verify_digsig(bad, _keys(key), **TAG)


@pytest.mark.parametrize("field", ["gtin14", "lot", "serial"])
def test_non_ascii_tag_fields_are_malformed(key: Ed25519PrivateKey, value: str, field: str) -> None:
    # Found by the fuzzer: tag_message's ASCII encoding raised UnicodeEncodeError.
    with pytest.raises(MalformedInput, match="ASCII"):
        verify_digsig(value, _keys(key), **{**TAG, field: "Lô"})
