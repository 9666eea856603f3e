"""Witness cosignatures of checkpoints: c2sp.org/tlog-cosignature, the Ed25519 cosignature/v1.

A witness signs `cosignature/v1\\ntime <T>\\n` followed by the checkpoint's note text, and its
note signature is T as 8 big-endian bytes, then the 64-byte Ed25519 signature. Its key ID and vkey
carry type byte 0x04, so a witness key never passes for a log's 0x01 key (signed-note
§Signature types). T is at most 2^63 - 1 (tlog-cosignature §Format): a larger one does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tracetag.errors import MalformedInput, RecordMismatch, TooFewCosignatures, UnknownKey
from tracetag.formats.checkpoint import Checkpoint, parse_checkpoint
from tracetag.formats.note import (
    ALG_ED25519,
    Signature,
    Verifier,
    format_verifier_key,
    key_hash,
    open_note,
    signature_line,
    split_verifier_key,
    std_b64_decode,
    valid_name,
)

ALG_COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE_SIZE = 8 + 64


def _check_timestamp(timestamp: int) -> None:
    if not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedInput("a cosignature's timestamp is a number from 0 to 2^63 - 1")


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs (tlog-cosignature §Ed25519 signed message)."""
    _check_timestamp(timestamp)
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    """A note verifier of key type 0x04: checks cosignature/v1 signatures by one witness."""

    name: str
    key_hash: int
    public_key: Ed25519PublicKey

    def verify(self, message: bytes, signature: bytes) -> bool:
        # Like Go's transparency-dev/formats: a text of fewer than three lines is no checkpoint.
        if len(signature) != _SIGNATURE_SIZE or message.count(b"\n") < 2:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        signed = b"cosignature/v1\ntime %d\n" % timestamp + message
        try:
            self.public_key.verify(signature[8:], signed)
        except InvalidSignature:
            return False
        return True


def cosignature_verifier(name: str, public_key: Ed25519PublicKey) -> CosignatureVerifier:
    if not valid_name(name):
        raise MalformedInput(f"{name[:64]!r} is not a key name")
    kh = key_hash(name, bytes([ALG_COSIGNATURE_V1]) + public_key.public_bytes_raw())
    return CosignatureVerifier(name, kh, public_key)


def cosignature_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """A witness's vkey: `<name>+<hex key ID>+<base64(0x04 || public key)>`."""
    return format_verifier_key(name, bytes([ALG_COSIGNATURE_V1]) + public_key.public_bytes_raw())


def parse_cosignature_verifier_key(vkey: str) -> CosignatureVerifier:
    """A witness's verifier from its type 0x04 vkey; other types are refused (MalformedInput)."""
    name, kh, key = split_verifier_key(vkey)
    if key[0] != ALG_COSIGNATURE_V1:
        raise MalformedInput(f"key type 0x{key[0]:02x} is not a cosignature/v1 key (0x04)")
    if len(key) != 33:
        raise MalformedInput(f"an Ed25519 verifier key holds 32 bytes, not {len(key) - 1}")
    return CosignatureVerifier(name, kh, Ed25519PublicKey.from_public_bytes(key[1:]))


def cosignature_key_from_note_key(vkey: str) -> str:
    """The type 0x04 vkey of a witness that published its key as an Ed25519 (0x01) vkey.

    Go's transparency-dev/formats accepts such keys for cosignatures (VKeyToCosignatureV1);
    converting once, where a witness is configured, keeps the verifiers to one key type each.
    """
    name, _, key = split_verifier_key(vkey)
    if key[0] != ALG_ED25519 or len(key) != 33:
        raise MalformedInput("not an Ed25519 (type 0x01) verifier key")
    return format_verifier_key(name, bytes([ALG_COSIGNATURE_V1]) + key[1:])


@dataclass(frozen=True)
class Cosigner:
    """A witness's signing side: its name and Ed25519 key."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise MalformedInput(f"{self.name[:64]!r} is not a key name")
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise MalformedInput("a cosigner's key is an Ed25519 private key")

    def verifier(self) -> CosignatureVerifier:
        return cosignature_verifier(self.name, self.private_key.public_key())

    def verifier_key(self) -> str:
        return cosignature_verifier_key(self.name, self.private_key.public_key())


def cosign(checkpoint_text: str, cosigner: Cosigner, timestamp: int) -> str:
    """The witness's signature line, newline included, to append to the checkpoint's note."""
    parse_checkpoint(checkpoint_text)  # a witness vouches for checkpoints, nothing else
    signed = cosigner.private_key.sign(cosigned_message(checkpoint_text, timestamp))
    verifier = cosigner.verifier()
    return signature_line(verifier.name, verifier.key_hash, timestamp.to_bytes(8, "big") + signed)


def cosignature_timestamp(signature: Signature) -> int:
    """The time (POSIX seconds) in a cosignature; only open_note's verified ones mean anything."""
    raw = std_b64_decode(signature.base64)
    if len(raw) != 4 + _SIGNATURE_SIZE:
        raise MalformedInput("not an Ed25519 cosignature/v1: it is not 76 bytes")
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp > MAX_TIMESTAMP:
        raise MalformedInput("a cosignature's timestamp is at most 2^63 - 1")
    return timestamp


def verify_cosignature(checkpoint_text: str, line: str, verifier: CosignatureVerifier) -> int:
    """Check one witness's signature line (as cosign returns it) on a checkpoint; its time.

    Raises MalformedInput, UnknownKey when the line is another key's, or BadSignature.
    """
    parse_checkpoint(checkpoint_text)
    if not isinstance(line, str) or not line.endswith("\n") or line.count("\n") != 1:
        raise MalformedInput("a cosignature is one signature line ending in a newline")
    try:
        opened = open_note(f"{checkpoint_text}\n{line}".encode(), [verifier])
    except UnknownKey as exc:
        raise UnknownKey(
            f"the cosignature is not by {verifier.name}+{verifier.key_hash:08x}"
        ) from exc
    return cosignature_timestamp(opened.signatures[0])


@dataclass(frozen=True)
class Cosigned:
    """A witness that cosigned, and when it says it did."""

    name: str
    key_hash: int
    timestamp: int


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint its log signed, and the witnesses that vouch for it."""

    checkpoint: Checkpoint
    cosignatures: tuple[Cosigned, ...]


def require_cosignatures(
    note: bytes,
    log: Verifier,
    witnesses: Sequence[CosignatureVerifier],
    k: int,
    *,
    origin: str,
) -> WitnessedCheckpoint:
    """Open a checkpoint the log signed for `origin` and at least k of `witnesses` cosigned.

    The witnesses that cosigned come back in the order given, each once, with their timestamps.
    Raises what open_note raises, UnknownKey when the log did not sign, MalformedInput when the
    text is no checkpoint, RecordMismatch when it is another origin's, TooFewCosignatures below k.
    """
    if not 0 <= k <= len(witnesses):
        raise ValueError(f"k = {k} of {len(witnesses)} witnesses")
    opened = open_note(note, [log, *witnesses])
    by_key = {(s.name, s.key_hash): s for s in opened.signatures}
    if (log.name, log.key_hash) not in by_key:
        raise UnknownKey(f"the log's key {log.name}+{log.key_hash:08x} did not sign the checkpoint")
    checkpoint = parse_checkpoint(opened.text)
    if checkpoint.origin != origin:
        raise RecordMismatch(f"the checkpoint is of {checkpoint.origin[:64]!r}, not {origin!r}")
    cosigned = tuple(
        Cosigned(w.name, w.key_hash, cosignature_timestamp(by_key[(w.name, w.key_hash)]))
        for w in witnesses
        if (w.name, w.key_hash) in by_key
    )
    if len(cosigned) < k:
        raise TooFewCosignatures(f"{len(cosigned)} of the {k} witness cosignatures required")
    return WitnessedCheckpoint(checkpoint, cosigned)


def witness_verifier(vkey: str) -> CosignatureVerifier:
    """A witness's key from its vkey: cosignature/v1 (0x04), or Ed25519 (0x01) converted."""
    vkey = vkey.strip()
    _name, _kh, key = split_verifier_key(vkey)
    if key[0] != ALG_COSIGNATURE_V1:
        vkey = cosignature_key_from_note_key(vkey)
    return parse_cosignature_verifier_key(vkey)
