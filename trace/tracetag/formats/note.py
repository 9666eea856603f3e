"""Signed notes: c2sp.org/signed-note@v1.0.0, the format of Go's golang.org/x/mod/sumdb/note.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
`— <key name> <base64(4-byte key ID || signature)>`. Opening follows Go's note.Open: a signature
by an unknown key is kept aside as unverified, a signature by a known key must verify or the whole
note is refused (BadSignature), and a note that no known key signed is refused (UnknownKey), which
is not MalformedInput. Two choices are stricter than Go, both within the spec: base64 must be
canonical (RFC 4648 §3.5), so a signature line has one spelling, as in jwk.b64url_decode; and
every signature by a known key is checked, a repeated one too ("If the key name and ID match a
known key, verifiers MUST verify the signature"), where Go skips a known key's second line.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tracetag.errors import AmbiguousKey, BadSignature, MalformedInput, UnknownKey

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100  # Go's note.Open refuses the 101st line; the spec asks for at least 16
SIGNATURE_PREFIX = "\u2014 "  # em dash, space

_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HEX8 = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f]")
# Go's unicode.IsSpace: Unicode's White_Space property.
_SPACES = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)


class Verifier(Protocol):
    """Checks signatures by one key: the key's name and ID say which signature lines are its."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class Signer(Protocol):
    """Signs note texts with one key."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> int: ...

    def sign(self, message: bytes) -> bytes: ...


def std_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def std_b64_decode(text: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), canonical only; raises MalformedInput."""
    if not isinstance(text, str) or not _B64.fullmatch(text):
        raise MalformedInput("not standard base64")
    raw = base64.b64decode(text)
    if std_b64(raw) != text:
        raise MalformedInput("not canonical base64: the last character has stray bits")
    return raw


def valid_name(name: str) -> bool:
    """A key name (signed-note §Format): non-empty UTF-8 without Unicode spaces or plus.

    Control characters are refused too: a note cannot carry them, so such a key could sign nothing.
    """
    if not isinstance(name, str) or not name or "+" in name:
        return False
    if any(c in _SPACES or c < " " for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def key_hash(name: str, key: bytes) -> int:
    """The key ID (signed-note §Signatures): SHA-256(name || 0x0A || type || public key)[:4]."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()[:4], "big")


@dataclass(frozen=True)
class Ed25519Verifier:
    """A verifier of key type 0x01: Ed25519 (RFC 8032) over the note text."""

    name: str
    key_hash: int
    public_key: Ed25519PublicKey

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Ed25519Signer:
    name: str
    key_hash: int
    private_key: Ed25519PrivateKey = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.key_hash, self.private_key.public_key())


def format_verifier_key(name: str, key: bytes) -> str:
    """A vkey `<name>+<hex key ID>+<base64(type || public key)>` (signed-note §Verifier keys)."""
    if not valid_name(name):
        raise MalformedInput(f"{name[:64]!r} is not a key name")
    return f"{name}+{key_hash(name, key):08x}+{std_b64(key)}"


def ed25519_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    return format_verifier_key(name, bytes([ALG_ED25519]) + public_key.public_bytes_raw())


def split_verifier_key(vkey: str) -> tuple[str, int, bytes]:
    """The name, key ID and key (type byte || public key) of any vkey, its key ID checked."""
    if not isinstance(vkey, str):
        raise MalformedInput("a verifier key is text")
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise MalformedInput("a verifier key is <name>+<hex key ID>+<base64 key>")
    name, hex8, b64 = parts
    if not valid_name(name):
        raise MalformedInput(f"{name[:64]!r} is not a key name")
    if not _HEX8.fullmatch(hex8):
        raise MalformedInput("a key ID is eight lowercase hex digits")
    key = std_b64_decode(b64)
    if not key:
        raise MalformedInput("the verifier key is empty")
    if int(hex8, 16) != key_hash(name, key):
        raise MalformedInput(f"key ID {hex8} is not the hash of the name and key")
    return name, int(hex8, 16), key


def _ed25519_material(key: bytes, what: str) -> bytes:
    if key[0] != ALG_ED25519:
        raise MalformedInput(f"unknown key type 0x{key[0]:02x} in the {what}")
    if len(key) != 33:
        raise MalformedInput(f"an Ed25519 {what} holds 32 bytes, not {len(key) - 1}")
    return key[1:]


def parse_verifier_key(vkey: str) -> Ed25519Verifier:
    """An Ed25519 verifier from its vkey; other key types are refused (MalformedInput)."""
    name, kh, key = split_verifier_key(vkey)
    public = Ed25519PublicKey.from_public_bytes(_ed25519_material(key, "verifier key"))
    return Ed25519Verifier(name, kh, public)


def parse_signer_key(skey: str) -> Ed25519Signer:
    """A signer from `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>`."""
    if not isinstance(skey, str):
        raise MalformedInput("a signer key is text")
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise MalformedInput("a signer key is PRIVATE+KEY+<name>+<hex key ID>+<base64 key>")
    _, _, name, hex8, b64 = parts
    if not valid_name(name):
        raise MalformedInput(f"{name[:64]!r} is not a key name")
    if not _HEX8.fullmatch(hex8):
        raise MalformedInput("a key ID is eight lowercase hex digits")
    key = std_b64_decode(b64)
    if not key:
        raise MalformedInput("the signer key is empty")
    private = Ed25519PrivateKey.from_private_bytes(_ed25519_material(key, "signer key"))
    kh = key_hash(name, bytes([ALG_ED25519]) + private.public_key().public_bytes_raw())
    if int(hex8, 16) != kh:  # the ID hashes the public key, which only the seed gives
        raise MalformedInput(f"key ID {hex8} is not the hash of the name and key")
    return Ed25519Signer(name, kh, private)


def generate_signer_key(name: str) -> str:
    """A new Ed25519 signer key; keep it secret, and give out verifier_key_of(it)."""
    if not valid_name(name):
        raise MalformedInput(f"{name[:64]!r} is not a key name")
    private = Ed25519PrivateKey.generate()
    kh = key_hash(name, bytes([ALG_ED25519]) + private.public_key().public_bytes_raw())
    return (
        f"PRIVATE+KEY+{name}+{kh:08x}+{std_b64(bytes([ALG_ED25519]) + private.private_bytes_raw())}"
    )


def verifier_key_of(skey: str) -> str:
    """The vkey that checks what a signer key signs."""
    signer = parse_signer_key(skey)
    return ed25519_verifier_key(signer.name, signer.private_key.public_key())


@dataclass(frozen=True)
class Signature:
    """One signature line of a note: key name, key ID, and the base64 as written."""

    name: str
    key_hash: int
    base64: str


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures that verified, those by keys not given."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def signature_line(name: str, key_id: int, signature: bytes) -> str:
    """`— <name> <base64(key ID || signature)>` and its newline."""
    if not valid_name(name):
        raise MalformedInput(f"{name[:64]!r} is not a key name")
    if not 0 <= key_id < 1 << 32:
        raise MalformedInput("a key ID is a 32-bit number")
    return f"{SIGNATURE_PREFIX}{name} {std_b64(key_id.to_bytes(4, 'big') + signature)}\n"


def _note_text(text: str) -> bytes:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedInput("a note's text ends with a newline")
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedInput("a note's text is not UTF-8") from exc
    if _CONTROL.search(body):
        raise MalformedInput("a note's text holds a control character other than newline")
    return body


def sign_note(text: str, signers: Sequence[Signer]) -> bytes:
    """The signed note: text, a blank line, then one signature line per signer, in order."""
    body = _note_text(text)
    if not signers:
        raise MalformedInput("a signed note has at least one signature")
    if len(signers) > MAX_SIGNATURES:
        raise MalformedInput(f"a note carries at most {MAX_SIGNATURES} signatures")
    lines = [signature_line(s.name, s.key_hash, s.sign(body)) for s in signers]
    return body + b"\n" + "".join(lines).encode("utf-8")


def _malformed(why: str) -> MalformedInput:
    return MalformedInput(f"malformed note: {why}")


def open_note(data: bytes, verifiers: Iterable[Verifier]) -> Note:
    """Check a signed note against known keys, in the manner of Go's note.Open.

    Raises MalformedInput for bad syntax or more than MAX_SIGNATURES lines, AmbiguousKey when two
    verifiers share the name and key ID of a signature, BadSignature when a known key's signature
    fails, and UnknownKey when no known key signed.
    """
    if not isinstance(data, bytes):
        raise _malformed("a signed note is bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed("not UTF-8") from exc
    if _CONTROL.search(data):
        raise _malformed("a control character other than newline")
    split = data.rfind(b"\n\n")
    if split < 0:
        raise _malformed("no blank line before the signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block or not block.endswith(b"\n"):
        raise _malformed("the signatures are not newline-terminated lines")

    known: dict[tuple[str, int], list[Verifier]] = {}
    for verifier in verifiers:
        known.setdefault((verifier.name, verifier.key_hash), []).append(verifier)
    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    seen_unverified: set[str] = set()
    for count, raw in enumerate(block[:-1].split(b"\n"), start=1):
        line = raw.decode("utf-8")
        if not line.startswith(SIGNATURE_PREFIX):
            raise _malformed("a signature line starts with an em dash and a space")
        name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            sig = std_b64_decode(b64)
        except MalformedInput as exc:
            raise _malformed("a signature is not base64") from exc
        if not valid_name(name) or len(sig) < 5:
            raise _malformed("a signature line needs a key name, a key ID and a signature")
        if count > MAX_SIGNATURES:
            raise _malformed(f"more than {MAX_SIGNATURES} signatures")
        kh = int.from_bytes(sig[:4], "big")
        signature = Signature(name, kh, b64)
        candidates = known.get((name, kh))
        if candidates is None:
            if line not in seen_unverified:
                seen_unverified.add(line)
                unverified.append(signature)
            continue
        if len(candidates) > 1:
            raise AmbiguousKey(f"ambiguous key {name}+{kh:08x}")
        if not candidates[0].verify(text, sig[4:]):
            raise BadSignature(f"invalid signature for key {name}+{kh:08x}")
        if (name, kh) not in seen:
            seen.add((name, kh))
            verified.append(signature)
    if not verified:
        raise UnknownKey("note has no verifiable signatures")
    return Note(text.decode("utf-8"), tuple(verified), tuple(unverified))
