"""Witness cosignatures (c2sp.org/tlog-cosignature, cosignature/v1) against sigsum-go's
cosignature byte for byte, the spec's example, transparency-dev/formats' keys and timestamps;
and the k-of-n witness check with its tamper twins."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tracetag.errors import (
    AmbiguousKey,
    BadSignature,
    MalformedInput,
    RecordMismatch,
    TooFewCosignatures,
    UnknownKey,
    VerificationError,
)
from tracetag.formats.checkpoint import Checkpoint, format_checkpoint
from tracetag.formats.cosignature import (
    MAX_TIMESTAMP,
    Cosigned,
    Cosigner,
    cosign,
    cosignature_key_from_note_key,
    cosignature_timestamp,
    cosignature_verifier,
    cosignature_verifier_key,
    cosigned_message,
    parse_cosignature_verifier_key,
    require_cosignatures,
    verify_cosignature,
)
from tracetag.formats.note import (
    Signature,
    generate_signer_key,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    signature_line,
    verifier_key_of,
)

VECTORS = Path(__file__).parent / "vectors"


def _load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / path).read_text(encoding="utf-8"))
    return data


C2SP = _load("c2sp/c2sp.json")  # CC BY 4.0; c2sp/SOURCE.md
FORMATS = _load("transparency-dev-formats/formats.json")  # Apache 2.0
SIGSUM = _load("sigsum-go/sigsum-go.json")  # BSD 2-Clause

SIGSUM_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SIGSUM["seed_hex"]))
VECTOR = SIGSUM["cosignature"]
WITNESS = Cosigner(VECTOR["witness_name"], SIGSUM_KEY)


def _flip(data: bytes, index: int, mask: int = 1) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


# sigsum-go: a cosignature byte for byte, and the lines that must not pass for it.


def test_sigsum_cosignature_byte_for_byte() -> None:
    line = cosign(VECTOR["checkpoint_text"], WITNESS, VECTOR["timestamp"])
    assert line == VECTOR["line"]
    assert verify_cosignature(VECTOR["checkpoint_text"], line, WITNESS.verifier()) == 1234


@pytest.mark.parametrize("case", VECTOR["other_lines"], ids=lambda c: c["why"].replace(" ", "-"))
def test_sigsum_other_lines(case: dict[str, str]) -> None:
    error = {"UnknownKey": UnknownKey, "BadSignature": BadSignature}[case["error"]]
    with pytest.raises(error):
        verify_cosignature(VECTOR["checkpoint_text"], case["line"], WITNESS.verifier())


def test_sigsum_twin_timestamp_plus_one() -> None:
    raw = base64.b64decode(VECTOR["line"].split(" ")[2])
    later = raw[:4] + (1235).to_bytes(8, "big") + raw[12:]
    line = signature_line(WITNESS.name, WITNESS.verifier().key_hash, later[4:])
    exactly = r"^invalid signature for key example\.org/witness\+cacf2e50$"
    with pytest.raises(BadSignature, match=exactly):
        verify_cosignature(VECTOR["checkpoint_text"], line, WITNESS.verifier())


def test_cosigned_messages_byte_for_byte() -> None:
    data = SIGSUM["cosigned_data"]
    assert cosigned_message(data["checkpoint_text"], data["timestamp"]) == data["message"].encode()
    spec = C2SP["cosignature"]  # tlog-cosignature §Ed25519 signed message
    cp = C2SP["checkpoint"]["text"]
    assert cosigned_message(cp, spec["timestamp"]) == spec["signed_message"].encode()


def test_sigsum_witness_vkey() -> None:
    vector = SIGSUM["witness_vkey"]
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(vector["public_key_hex"]))
    assert cosignature_verifier_key(vector["name"], public) == vector["vkey"]
    verifier = parse_cosignature_verifier_key(vector["vkey"])
    assert (verifier.name, verifier.key_hash) == ("example.org/key", 0x57BFE580)
    with pytest.raises(MalformedInput, match="not the hash"):
        parse_cosignature_verifier_key(vector["wrong_key_id"])


# The spec's example and transparency-dev/formats


def test_c2sp_example_cosignature_timestamp() -> None:
    """The witness line's timestamp is the `time` line of the spec's signed message example."""
    note = C2SP["cosignature"]["note"].encode()
    with pytest.raises(UnknownKey):  # neither key is published
        open_note(note, [])
    name, b64 = note.decode().splitlines()[-1].removeprefix("— ").split(" ")
    assert name == C2SP["cosignature"]["witness_name"]
    signature = Signature(name, int.from_bytes(base64.b64decode(b64)[:4], "big"), b64)
    assert cosignature_timestamp(signature) == C2SP["cosignature"]["timestamp"] == 1679315147
    assert f"time {cosignature_timestamp(signature)}\n" in C2SP["cosignature"]["signed_message"]


def test_transparency_dev_native_cosignature_vkey() -> None:
    vkey = FORMATS["cosignature_vkeys"]["native"]["vkey"]
    verifier = parse_cosignature_verifier_key(vkey)
    assert (verifier.name, verifier.key_hash) == ("remora.n621.de", 0xDA77ADE7)
    assert cosignature_verifier_key(verifier.name, verifier.public_key) == vkey


def test_transparency_dev_ed25519_vkey_converted() -> None:
    """Go accepts an 0x01 vkey for cosignatures and hashes it as 0x04; we convert it once."""
    vkey = FORMATS["cosignature_vkeys"]["note_key_converted"]["vkey"]
    with pytest.raises(MalformedInput, match="not a cosignature/v1 key"):
        parse_cosignature_verifier_key(vkey)
    converted = cosignature_key_from_note_key(vkey)
    assert converted == "TEST+fdd2dbc7+BAcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    assert parse_cosignature_verifier_key(converted).public_key.public_bytes_raw() == (
        parse_verifier_key(vkey).public_key.public_bytes_raw()
    )
    with pytest.raises(MalformedInput, match="type 0x01"):
        cosignature_key_from_note_key(converted)


@pytest.mark.parametrize("vkey", FORMATS["cosignature_vkeys"]["refused"])
def test_transparency_dev_refused_vkeys(vkey: str) -> None:
    with pytest.raises(MalformedInput):
        parse_cosignature_verifier_key(vkey)


def test_transparency_dev_timestamps() -> None:
    cases = FORMATS["cosignature_timestamps"]
    works = cases["works"]
    assert cosignature_timestamp(Signature("w", 0, works["base64"])) == works["timestamp"]
    with pytest.raises(MalformedInput, match="not 76 bytes"):  # a plain Ed25519 signature
        cosignature_timestamp(Signature("w", 0, cases["wrong_type"]["base64"]))
    with pytest.raises(MalformedInput, match="base64"):
        cosignature_timestamp(Signature("w", 0, cases["gibberish"]["base64"]))


def test_a_logs_ed25519_vkey_cannot_open_a_cosignature() -> None:
    """transparency-dev/formats TestVKeyToCosignatureV1: the key IDs differ by type byte."""
    skey = generate_signer_key("TestKey")
    signer = parse_signer_key(skey)
    cosigner = Cosigner("TestKey", signer.private_key)
    line = cosign(VECTOR["checkpoint_text"], cosigner, 7)
    note = (VECTOR["checkpoint_text"] + "\n" + line).encode()
    with pytest.raises(UnknownKey):
        open_note(note, [signer.verifier()])
    converted = parse_cosignature_verifier_key(cosignature_key_from_note_key(verifier_key_of(skey)))
    assert open_note(note, [converted]).signatures[0].name == "TestKey"


# What a cosignature covers, and what it refuses


def test_the_cosignature_covers_extension_lines() -> None:
    text = format_checkpoint(Checkpoint("log", 3, bytes(32), ("Extendo",)))
    line = cosign(text, WITNESS, 5)
    assert verify_cosignature(text, line, WITNESS.verifier()) == 5
    with pytest.raises(BadSignature):
        verify_cosignature(text.replace("Extendo", "Extende"), line, WITNESS.verifier())


def test_only_checkpoints_are_cosigned() -> None:
    with pytest.raises(MalformedInput, match="root hash"):
        cosign("Note\n\n", WITNESS, 1)  # transparency-dev/formats cosigns this; a witness won't


@pytest.mark.parametrize("timestamp", [-1, MAX_TIMESTAMP + 1])
def test_timestamps_out_of_range(timestamp: int) -> None:
    with pytest.raises(MalformedInput, match="2\\^63 - 1"):
        cosign(VECTOR["checkpoint_text"], WITNESS, timestamp)


def test_a_signed_timestamp_above_2_63_does_not_verify() -> None:
    text = VECTOR["checkpoint_text"]
    big = MAX_TIMESTAMP + 1
    signed = SIGSUM_KEY.sign(f"cosignature/v1\ntime {big}\n{text}".encode())
    line = signature_line(
        WITNESS.name, WITNESS.verifier().key_hash, big.to_bytes(8, "big") + signed
    )
    with pytest.raises(BadSignature):
        verify_cosignature(text, line, WITNESS.verifier())
    assert cosign(text, WITNESS, MAX_TIMESTAMP)  # the largest one allowed


def test_the_verifier_wants_a_checkpoint_shaped_text() -> None:
    """As transparency-dev/formats: fewer than three lines cannot be a cosigned checkpoint."""
    verifier = WITNESS.verifier()
    for text, verifies in [(b"a\nb\nc\n", True), (b"a\nb\n", True), (b"a b c\n", False)]:
        signed = SIGSUM_KEY.sign(b"cosignature/v1\ntime 3\n" + text)
        assert verifier.verify(text, (3).to_bytes(8, "big") + signed) is verifies
    assert not verifier.verify(b"a\nb\nc\n", (3).to_bytes(8, "big") + bytes(63))


def test_an_ml_dsa_cosignature_is_not_read_as_ed25519() -> None:
    """Go reads the time of any signature of 76 bytes or more; ML-DSA-44 ones are not ours."""
    mldsa = base64.b64encode(bytes(4 + 8 + 2420)).decode()
    with pytest.raises(MalformedInput, match="not 76 bytes"):
        cosignature_timestamp(Signature("w", 0, mldsa))


def test_one_line_exactly() -> None:
    text, line = VECTOR["checkpoint_text"], VECTOR["line"]
    for bad in [line.rstrip("\n"), line + line]:
        with pytest.raises(MalformedInput, match="one signature line"):
            verify_cosignature(text, bad, WITNESS.verifier())


def test_every_flipped_byte_of_the_line_is_refused() -> None:
    text, line = VECTOR["checkpoint_text"], VECTOR["line"].encode()
    for index in range(len(line) - 1):
        try:
            flipped = _flip(line, index).decode()
        except UnicodeDecodeError:
            continue  # a broken em dash is not text; open_note's own tests cover bytes
        with pytest.raises(VerificationError):
            verify_cosignature(text, flipped, WITNESS.verifier())


def test_cosigner() -> None:
    assert WITNESS.verifier_key() == cosignature_verifier_key(WITNESS.name, SIGSUM_KEY.public_key())
    assert WITNESS.verifier() == cosignature_verifier(WITNESS.name, SIGSUM_KEY.public_key())
    assert "private_key" not in repr(WITNESS)
    with pytest.raises(MalformedInput, match="not a key name"):
        Cosigner("a b", SIGSUM_KEY)


# k of n witnesses

ORIGIN = "tracetag.example/log"
TEXT = format_checkpoint(Checkpoint(ORIGIN, 42, bytes(range(32))))
LOG = parse_signer_key(generate_signer_key(ORIGIN))
W = [Cosigner(f"witness.example/w{i}", Ed25519PrivateKey.generate()) for i in range(4)]
WV = [w.verifier() for w in W]


def _witnessed(*cosigners: tuple[int, int], log: bool = True) -> bytes:
    lines = "".join(cosign(TEXT, W[i], t) for i, t in cosigners)
    if not log:
        return f"{TEXT}\n{lines}".encode()
    return sign_note(TEXT, [LOG]) + lines.encode()


def test_k_of_n() -> None:
    note = _witnessed((2, 300), (0, 100))
    result = require_cosignatures(note, LOG.verifier(), WV[:3], 2, origin=ORIGIN)
    assert result.checkpoint == Checkpoint(ORIGIN, 42, bytes(range(32)))
    assert result.cosignatures == (  # in the order the witnesses were given
        Cosigned(W[0].name, WV[0].key_hash, 100),
        Cosigned(W[2].name, WV[2].key_hash, 300),
    )
    assert require_cosignatures(note, LOG.verifier(), WV[:3], 0, origin=ORIGIN).cosignatures


def test_fewer_than_k() -> None:
    note = _witnessed((2, 300), (0, 100))
    with pytest.raises(TooFewCosignatures, match=r"^2 of the 3 witness cosignatures required$"):
        require_cosignatures(note, LOG.verifier(), WV[:3], 3, origin=ORIGIN)


def test_an_unknown_witness_does_not_count() -> None:
    note = _witnessed((0, 1), (3, 2))
    with pytest.raises(TooFewCosignatures):
        require_cosignatures(note, LOG.verifier(), WV[:3], 2, origin=ORIGIN)


def test_one_witness_counts_once() -> None:
    note = _witnessed((1, 5), (1, 5), (1, 6))
    with pytest.raises(TooFewCosignatures, match=r"^1 of the 2 "):
        require_cosignatures(note, LOG.verifier(), WV[:3], 2, origin=ORIGIN)


def test_the_log_must_sign() -> None:
    note = _witnessed((0, 1), (1, 2), log=False)
    with pytest.raises(UnknownKey, match="did not sign the checkpoint"):
        require_cosignatures(note, LOG.verifier(), WV[:3], 2, origin=ORIGIN)


def test_another_origin() -> None:
    note = _witnessed((0, 1))
    with pytest.raises(RecordMismatch, match=r"not 'tracetag\.example/other'$"):
        require_cosignatures(note, LOG.verifier(), WV, 1, origin="tracetag.example/other")


def test_twin_a_cosignature_byte() -> None:
    note = _witnessed((0, 1), (1, 2))
    at = note.rindex(b" ") + 20  # a base64 character of w1's signature, past its key ID and time
    other = b"B" if note[at : at + 1] == b"A" else b"A"
    tampered = note[:at] + other + note[at + 1 :]
    with pytest.raises(BadSignature, match=r"^invalid signature for key witness\.example/w1\+"):
        require_cosignatures(tampered, LOG.verifier(), WV[:3], 2, origin=ORIGIN)


def test_twin_a_checkpoint_byte() -> None:
    note = _witnessed((0, 1), (1, 2))
    at = note.index(b"\n42\n") + 2  # 42 -> 43 leaves
    with pytest.raises(BadSignature, match=ORIGIN):  # the log's signature is checked first
        require_cosignatures(_flip(note, at), LOG.verifier(), WV[:3], 2, origin=ORIGIN)


def test_a_duplicated_witness_key_is_ambiguous() -> None:
    note = _witnessed((0, 1), (1, 2))
    with pytest.raises(AmbiguousKey):
        require_cosignatures(note, LOG.verifier(), [WV[0], WV[0], WV[1]], 2, origin=ORIGIN)


def test_the_log_key_as_a_witness_is_a_different_key_id() -> None:
    """One Ed25519 key, one name, two roles: 0x01 and 0x04 give two key IDs (signed-note)."""
    same = Cosigner(ORIGIN, LOG.private_key)
    note = sign_note(TEXT, [LOG]) + cosign(TEXT, same, 9).encode()
    result = require_cosignatures(note, LOG.verifier(), [same.verifier()], 1, origin=ORIGIN)
    assert result.cosignatures == (Cosigned(ORIGIN, same.verifier().key_hash, 9),)
    assert same.verifier().key_hash != LOG.key_hash


@pytest.mark.parametrize("k", [-1, 4])
def test_k_out_of_range(k: int) -> None:
    with pytest.raises(ValueError, match="witnesses"):
        require_cosignatures(_witnessed((0, 1)), LOG.verifier(), WV[:3], k, origin=ORIGIN)
