"""Ed25519 public keys as JWKs, and RFC 7638 thumbprints used as key ids."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tracetag.errors import MalformedInput


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); raises MalformedInput."""
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise MalformedInput("not base64url text")
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    if any(ch not in allowed for ch in text) or len(text) % 4 == 1:
        raise MalformedInput("not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
    """Read Ed25519 keys from a JWKS, by kid; ignores other key types, rejects junk."""
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
        raw = b64url_decode(str(entry.get("x", "")))
        if len(raw) != 32:
            raise MalformedInput("Ed25519 'x' must be 32 bytes")
        key = Ed25519PublicKey.from_public_bytes(raw)
        kid = entry.get("kid") or thumbprint(key)
        if kid != thumbprint(key):
            raise MalformedInput(f"kid {kid!r} is not the RFC 7638 thumbprint of its key")
        found[str(kid)] = key
    return found
