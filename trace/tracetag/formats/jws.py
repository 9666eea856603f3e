"""Compact JWS (RFC 7515) with EdDSA/Ed25519 (RFC 8037) over RFC 8785 canonical JSON.

Sign once, store the exact compact string, and verify that string: the payload bytes inside it
are the record; nothing is re-serialized to verify.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tracetag.errors import BadSignature, MalformedInput, UnknownKey
from tracetag.formats.jcs import canonical_json
from tracetag.formats.jwk import b64url, b64url_decode, thumbprint

RECORD_TYP = "tracetag-record+jws"


class KeySigner(Protocol):
    """What signs, when it is not a key in memory: signing/signer.py's Signer."""

    @property
    def kid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON (RFC 8259 §6)")


def load_json(data: bytes | str, what: str) -> Any:
    """Parse UTF-8 JSON of any depth or size; anything else is MalformedInput naming `what`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedInput(f"{what} is not JSON") from exc


def shown(value: object) -> str:
    """An untrusted JSON value in an error message: short, escaped, never a recursive repr."""
    if isinstance(value, str):
        return repr(value[:64])
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    return "a JSON number"


def sign_compact(payload: Any, key: Ed25519PrivateKey | KeySigner, typ: str = RECORD_TYP) -> str:
    """Sign a JSON value: protected header and payload are both JCS, then base64url."""
    kid = thumbprint(key.public_key()) if isinstance(key, Ed25519PrivateKey) else key.kid
    header = {"alg": "EdDSA", "kid": kid, "typ": typ}
    signing_input = b64url(canonical_json(header)) + "." + b64url(canonical_json(payload))
    signature = key.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url(signature)


@dataclass(frozen=True)
class VerifiedJWS:
    header: dict[str, Any]
    payload_bytes: bytes
    payload: Any
    kid: str


def parse_compact(token: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """Split and decode a compact JWS; returns (header, payload bytes, signing input, sig)."""
    if not isinstance(token, str):
        raise MalformedInput("a compact JWS is text")
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise MalformedInput("a compact JWS has three non-empty base64url parts")
    header = load_json(b64url_decode(parts[0]), "the JWS header")
    if not isinstance(header, dict):
        raise MalformedInput("the JWS header is not a JSON object")
    payload = b64url_decode(parts[1])
    signature = b64url_decode(parts[2])
    return header, payload, (parts[0] + "." + parts[1]).encode("ascii"), signature


def verify_compact(token: str, keys: Mapping[str, Ed25519PublicKey]) -> VerifiedJWS:
    """Verify a compact JWS against keys by kid; raises only VerificationError subclasses."""
    header, payload_bytes, signing_input, signature = parse_compact(token)
    alg = header.get("alg")
    if alg != "EdDSA":
        raise MalformedInput(f"unsupported alg {shown(alg)}; expected 'EdDSA'")
    # RFC 7515 §4.1.11: we understand no extension, so any crit refuses the JWS; an empty or
    # non-list crit is malformed on its own. Issue 6: `crit: 5` was a TypeError.
    if "crit" in header:
        crit = header["crit"]
        if isinstance(crit, list) and crit and all(isinstance(name, str) for name in crit):
            raise MalformedInput(
                "the JWS has critical header parameters this verifier does not know"
            )
        raise MalformedInput("the JWS crit must be a non-empty list of header names")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedInput("the JWS header has no kid")
    key = keys.get(kid)
    if key is None:
        raise UnknownKey(f"key id {shown(kid)} is not in the key set")
    if len(signature) != 64:
        raise BadSignature("an Ed25519 signature is 64 bytes")
    try:
        key.verify(signature, signing_input)
    except InvalidSignature as exc:
        raise BadSignature("the signature does not match the signed data") from exc
    payload = load_json(payload_bytes, "the signed payload")
    return VerifiedJWS(header=header, payload_bytes=payload_bytes, payload=payload, kid=kid)
