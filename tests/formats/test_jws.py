"""Our JWS against an independent JOSE library (joserfc), and tamper twins of a good token."""

from __future__ import annotations

import base64
import json

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from joserfc import jws as jose_jws
from joserfc.jwk import KeySet, OKPKey
from sqlalchemy.orm import Session

from tests import factories
from tracetag.errors import BadSignature, MalformedInput, UnknownKey
from tracetag.formats.jwk import b64url, b64url_decode, jwks_document, keys_from_jwks, thumbprint
from tracetag.formats.jws import sign_compact, verify_compact
from tracetag.signing.issuer import Issuer

PAYLOAD = {"b": "Gạo ST25", "a": [1, 2.5, None], "price_vnd": 125000}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _keys(key: Ed25519PrivateKey) -> dict:
    return keys_from_jwks(jwks_document([key.public_key()]))


# The issue fixes alg "EdDSA" (RFC 8037); RFC 9864 prefers "Ed25519" and joserfc warns about it.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
def test_joserfc_verifies_a_batch_record_against_the_served_jwks(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    producer = factories.make_producer(session)
    batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
    session.commit()
    page = client.get(
        f"/01/{batch.product.gtin}/10/{batch.lot}", headers={"Accept": "application/json"}
    ).json()
    jwks = client.get("/.well-known/jwks.json").json()
    key_set = KeySet.import_key_set(jwks)
    result = jose_jws.deserialize_compact(page["jws"], key_set, algorithms=["EdDSA", "Ed25519"])
    assert result.protected["kid"] == issuer.last_kid
    assert json.loads(result.payload)["batch"]["lot"] == batch.lot
    # the payload bytes are the RFC 8785 form of themselves
    assert rfc8785.dumps(json.loads(result.payload)) == result.payload


def test_jwks_has_no_private_parts_and_kid_is_rfc7638(client: TestClient, keyring) -> None:  # type: ignore[no-untyped-def]
    jwks = client.get("/.well-known/jwks.json").json()
    (entry,) = jwks["keys"]
    # the public members, and the registry's status and dates (signing/registry.py)
    assert set(entry) == {"kty", "crv", "x", "kid", "use", "alg", "status", "created_at"} | {
        "valid_from"
    }
    assert entry["status"] == "active"
    assert entry["kty"] == "OKP" and entry["crv"] == "Ed25519"
    assert OKPKey.import_key(entry).thumbprint() == entry["kid"]


def test_thumbprint_matches_rfc8037_appendix_a3() -> None:
    # RFC 8037 A.3: the thumbprint of the A.2 public key.
    x = b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    assert thumbprint(Ed25519PublicKey.from_public_bytes(x)) == (
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    )


def test_sign_matches_rfc8037_a4_signature_for_its_input() -> None:
    # RFC 8037 A.4: Ed25519 is deterministic, so the same key and input give the same signature.
    d = b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    key = Ed25519PrivateKey.from_private_bytes(d)
    signing_input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    assert b64url(key.sign(signing_input)) == (
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )


def test_roundtrip(key: Ed25519PrivateKey) -> None:
    token = sign_compact(PAYLOAD, key)
    verified = verify_compact(token, _keys(key))
    assert verified.payload == PAYLOAD
    assert verified.payload_bytes == rfc8785.dumps(PAYLOAD)


def test_flipping_one_payload_byte_is_bad_signature(key: Ed25519PrivateKey) -> None:
    head, payload, sig = sign_compact(PAYLOAD, key).split(".")
    raw = bytearray(b64url_decode(payload))
    raw[raw.index(b"125000"[0])] ^= 0x01  # 125000 -> 025000
    tampered = f"{head}.{b64url(bytes(raw))}.{sig}"
    with pytest.raises(BadSignature, match="does not match the signed data"):
        verify_compact(tampered, _keys(key))


def test_flipping_one_signature_byte_is_bad_signature(key: Ed25519PrivateKey) -> None:
    head, payload, sig = sign_compact(PAYLOAD, key).split(".")
    raw = bytearray(b64url_decode(sig))
    raw[0] ^= 0x80
    with pytest.raises(BadSignature):
        verify_compact(f"{head}.{payload}.{b64url(bytes(raw))}", _keys(key))


def test_unknown_kid(key: Ed25519PrivateKey) -> None:
    token = sign_compact(PAYLOAD, key)
    other = _keys(Ed25519PrivateKey.generate())
    with pytest.raises(UnknownKey, match="not in the key set"):
        verify_compact(token, other)


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!!.e30.AA", "e30.e30.", "bm90IGpzb24.e30.AAAA"],
)
def test_malformed_tokens(token: str, key: Ed25519PrivateKey) -> None:
    with pytest.raises(MalformedInput):
        verify_compact(token, _keys(key))


def test_alg_none_is_refused(key: Ed25519PrivateKey) -> None:
    head = b64url(json.dumps({"alg": "none", "kid": thumbprint(key.public_key())}).encode())
    token = f"{head}.{b64url(b'{}')}.AAAA"
    with pytest.raises(MalformedInput, match="unsupported alg"):
        verify_compact(token, _keys(key))


def test_jwks_with_private_key_is_refused(key: Ed25519PrivateKey) -> None:
    doc = jwks_document([key.public_key()])
    doc["keys"][0]["d"] = "AAAA"
    with pytest.raises(MalformedInput, match="private"):
        keys_from_jwks(doc)


def test_jwks_with_wrong_kid_is_refused(key: Ed25519PrivateKey) -> None:
    doc = jwks_document([key.public_key()])
    doc["keys"][0]["kid"] = "someone-else"
    with pytest.raises(MalformedInput, match="thumbprint"):
        keys_from_jwks(doc)


# Issue 6 and the fuzz tests in tests/fuzz: each input below once crashed or wrongly verified.


def _signed(header: dict, payload: bytes, key: Ed25519PrivateKey) -> str:
    """A token really signed by key over this header and payload, however odd they are."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(payload)
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


@pytest.mark.parametrize("crit", [5, None, [{}], [[]], "b64", [], [1]])
def test_crit_that_is_not_a_list_of_names_is_malformed(
    key: Ed25519PrivateKey, crit: object
) -> None:
    header = {"alg": "EdDSA", "kid": thumbprint(key.public_key()), "crit": crit}
    with pytest.raises(MalformedInput, match="crit must be a non-empty list"):
        verify_compact(_signed(header, b"{}", key), _keys(key))


def test_crit_naming_an_extension_is_refused(key: Ed25519PrivateKey) -> None:
    header = {"alg": "EdDSA", "kid": thumbprint(key.public_key()), "crit": ["exp"], "exp": 1}
    with pytest.raises(MalformedInput, match="critical header parameters"):
        verify_compact(_signed(header, b"{}", key), _keys(key))


def test_header_nested_past_the_recursion_limit_is_malformed(key: Ed25519PrivateKey) -> None:
    token = f"{b64url(b'[' * 1000)}.e30.AAAA"  # found by the fuzzer: a RecursionError
    with pytest.raises(MalformedInput, match="header is not JSON"):
        verify_compact(token, _keys(key))


def test_signed_payload_nested_past_the_recursion_limit_is_malformed(
    key: Ed25519PrivateKey,
) -> None:
    header = {"alg": "EdDSA", "kid": thumbprint(key.public_key())}
    with pytest.raises(MalformedInput, match="payload is not JSON"):
        verify_compact(_signed(header, b"[" * 1000, key), _keys(key))


@pytest.mark.parametrize("payload", [b"NaN", b'{"price": -Infinity}', b"\xff", b'"\xed\xa0\x80"'])
def test_signed_payload_that_is_not_strict_json_is_malformed(
    key: Ed25519PrivateKey, payload: bytes
) -> None:
    header = {"alg": "EdDSA", "kid": thumbprint(key.public_key())}
    with pytest.raises(MalformedInput, match="payload is not JSON"):
        verify_compact(_signed(header, payload, key), _keys(key))


def test_a_signature_spelled_with_stray_bits_does_not_verify(key: Ed25519PrivateKey) -> None:
    # Found by the fuzzer: 64 bytes take 86 characters, whose last 4 bits are unused, so the last
    # character had 16 spellings that all verified, each with its own record hash.
    token = sign_compact(PAYLOAD, key)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    assert b64url_decode(token.split(".")[2]) == base64.urlsafe_b64decode(
        respelled.split(".")[2] + "=="
    )
    with pytest.raises(MalformedInput, match="canonical"):
        verify_compact(respelled, _keys(key))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": [[[]]]}, "unsupported alg a JSON array"),
        ({"alg": "x" * 10_000}, "unsupported alg 'xxxx"),
        ({"alg": "EdDSA", "kid": 5}, "no kid"),
        ({"alg": "EdDSA", "kid": {"a": 1}}, "no kid"),
    ],
)
def test_header_members_of_odd_types_are_malformed(
    key: Ed25519PrivateKey, header: dict, message: str
) -> None:
    with pytest.raises(MalformedInput, match=message) as caught:
        verify_compact(_signed(header, b"{}", key), _keys(key))
    assert len(str(caught.value)) < 120


def test_unknown_kid_is_shown_escaped(key: Ed25519PrivateKey) -> None:
    header = {"alg": "EdDSA", "kid": "\ud800\x1b[2J"}
    with pytest.raises(UnknownKey) as caught:
        verify_compact(_signed(header, b"{}", key), _keys(key))
    assert str(caught.value).isprintable()


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("x", 5),
        ("x", None),
        ("x", ["11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"]),
        ("kid", 5),
        ("kid", []),
        ("kid", None),
        ("kid", json.loads("[" * 900 + "]" * 900)),
    ],
)
def test_jwks_members_of_odd_types_are_malformed(
    key: Ed25519PrivateKey, member: str, value: object
) -> None:
    doc = jwks_document([key.public_key()])
    doc["keys"][0][member] = value
    with pytest.raises(MalformedInput):
        keys_from_jwks(doc)


@pytest.mark.parametrize("document", [None, [], 5, "keys", {"keys": 5}, {"keys": [5]}])
def test_jwks_that_is_no_jwks_is_malformed(document: object) -> None:
    with pytest.raises(MalformedInput):
        keys_from_jwks(document)


def test_jwks_x_that_is_a_number_is_no_key(key: Ed25519PrivateKey) -> None:
    # Its 43 digits read as base64url make 32 bytes: it was accepted as a key.
    doc = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": int("1" * 43)}]}
    with pytest.raises(MalformedInput, match="'x' must be base64url text"):
        keys_from_jwks(doc)
