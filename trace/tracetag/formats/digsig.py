"""Unit-tag signatures carried in GS1 AI 8030 (DigSig), verifiable offline with the JWKS.

Signed bytes: the tag's GS1 element string in raw form, ASCII,
`"01" GTIN-14 "10" lot <GS> "21" serial` (GS = 0x1D, the FNC1 separator; it is not in the AI
character set, so the split between lot and serial is unambiguous). A JWS signing input always
starts with "eyJ", so these bytes can never be confused with a record signature.
Value: base64url( key ref (3 bytes: the first 3 bytes of the kid) ‖ Ed25519 signature (64) ):
67 bytes, exactly 90 characters, the AI's maximum (GS1 format N4+Z..90).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tracetag.errors import BadSignature, MalformedInput, UnknownKey
from tracetag.formats.jwk import b64url, b64url_decode

KEY_REF_BYTES = 3
DIGSIG_LENGTH = 90
GS = "\x1d"


def tag_message(gtin14: str, lot: str, serial: str) -> bytes:
    return f"01{gtin14}10{lot}{GS}21{serial}".encode("ascii")


def key_ref(kid: str) -> bytes:
    return b64url_decode(kid)[:KEY_REF_BYTES]


class Signs(Protocol):
    def sign(self, data: bytes) -> bytes: ...


class TagSigner:
    """Signs many tags with one key; the key ref is computed once."""

    def __init__(self, key: Ed25519PrivateKey | Signs, kid: str) -> None:
        self._sign = key.sign
        self._ref = key_ref(kid)

    def sign(self, gtin14: str, lot: str, serial: str) -> str:
        return b64url(self._ref + self._sign(tag_message(gtin14, lot, serial)))


def verify_digsig(
    value: str, keys: Mapping[str, Ed25519PublicKey], *, gtin14: str, lot: str, serial: str
) -> str:
    """Check an 8030 value for this tag; returns the kid, or raises a VerificationError."""
    if not isinstance(value, str):
        raise MalformedInput("an 8030 signature is text")
    if len(value) != DIGSIG_LENGTH:
        raise MalformedInput(f"an 8030 signature has {DIGSIG_LENGTH} characters, not {len(value)}")
    raw = b64url_decode(value)
    ref, signature = raw[:KEY_REF_BYTES], raw[KEY_REF_BYTES:]
    candidates = [kid for kid in keys if key_ref(kid) == ref]
    if not candidates:
        raise UnknownKey("the 8030 key reference matches no key in the key set")
    try:
        message = tag_message(gtin14, lot, serial)
    except UnicodeEncodeError as exc:  # a parsed link cannot get here: AI 10 and 21 are ASCII
        raise MalformedInput("the tag's GTIN, lot and serial must be ASCII") from exc
    for kid in candidates:
        try:
            keys[kid].verify(signature, message)
        except InvalidSignature:
            continue
        return kid
    raise BadSignature("the 8030 signature does not match this tag")
