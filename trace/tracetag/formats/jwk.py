"""Ed25519 public keys as JWKs, and RFC 7638 thumbprints used as key ids."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tracetag.errors import MalformedInput

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); raises MalformedInput.

    Strict includes canonical (RFC 4648 §3.5): the unused low bits of the last character must be
    zero, so bytes have one spelling and a signature or 8030 value cannot be re-spelled and still
    verify under another record hash or cache key.
    """
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedInput("not base64url text")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(raw) != text:
        raise MalformedInput("not canonical base64url: the last character has stray bits")
    return raw


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP JWK of an Ed25519 public key (RFC 8037 §2), without kid."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) over the required members in order."""
    members = public_jwk(key)
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def jwks_document(keys: list[Ed25519PublicKey]) -> dict[str, Any]:
    """A JWKS with every public key: kid, use=sig, alg=EdDSA; never private parts."""
    out = []
    for key in keys:
        jwk: dict[str, str] = dict(public_jwk(key))
        jwk.update(kid=thumbprint(key), use="sig", alg="EdDSA")
        out.append(jwk)
    return {"keys": out}


def keys_from_jwks(document: Any) -> dict[str, Ed25519PublicKey]:
    """Read Ed25519 keys from a JWKS (any JSON value), by kid; skips other key types.

    Raises only MalformedInput: for a document that is not a JWKS, a private key, an `x` that is
    not 32 bytes of base64url, or a kid that is not the key's RFC 7638 thumbprint.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise MalformedInput("JWKS must be an object with a 'keys' list")
    found: dict[str, Ed25519PublicKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            raise MalformedInput("every JWKS entry must be an object")
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        if "d" in entry:
            raise MalformedInput("JWKS holds a private key; refusing it")
        x = entry.get("x")
        if not isinstance(x, str):
            raise MalformedInput("Ed25519 'x' must be base64url text")
        raw = b64url_decode(x)
        if len(raw) != 32:
            raise MalformedInput("Ed25519 'x' must be 32 bytes")
        key = Ed25519PublicKey.from_public_bytes(raw)
        kid = thumbprint(key)
        given = entry.get("kid", kid)
        if not isinstance(given, str):
            raise MalformedInput("a JWKS kid must be text")
        if given != kid:
            raise MalformedInput(f"kid {given[:64]!r} is not the RFC 7638 thumbprint of its key")
        found[kid] = key
    return found
